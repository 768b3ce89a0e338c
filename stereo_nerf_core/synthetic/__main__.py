"""``python -m stereo_nerf_core.synthetic OUT_BAG [options]``: the record-synthetic subcommand on its own."""

from stereo_nerf_core.synthetic.cli import main

raise SystemExit(main())
