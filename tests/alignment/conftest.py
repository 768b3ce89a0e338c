"""Fixtures of the silhouette-alignment tests: one torch thread (deterministic, no OpenMP stalls) and the mesh."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from stereo_nerf_core.alignment import Mesh
from stereo_nerf_core.alignment.synthetic import asymmetric_test_mesh


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def mesh() -> Mesh:
    return asymmetric_test_mesh()
