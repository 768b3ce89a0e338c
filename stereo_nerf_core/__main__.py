"""``python -m stereo_nerf_core``."""

import sys

from stereo_nerf_core.cli import main

sys.exit(main())
