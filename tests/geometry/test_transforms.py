import numpy as np
import pytest

from stereo_nerf_core.geometry import (
    GeometryError,
    invert_se3,
    make_se3,
    matrix_to_quaternion,
    quaternion_to_matrix,
    rotation_about_axis,
)


def test_rotation_about_z_by_90_degrees_maps_x_to_y() -> None:
    R = rotation_about_axis([0, 0, 2], np.pi / 2)
    np.testing.assert_allclose(R @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_quaternion_of_known_rotation() -> None:
    # 90 degrees about x: q = (sin 45°, 0, 0, cos 45°)
    q = matrix_to_quaternion(rotation_about_axis([1, 0, 0], np.pi / 2))
    np.testing.assert_allclose(q, [np.sqrt(0.5), 0, 0, np.sqrt(0.5)], atol=1e-12)


@pytest.mark.parametrize("angle", [0.0, 0.3, 3.0, np.pi])
def test_quaternion_round_trip(angle: float) -> None:
    R = rotation_about_axis([0.3, -0.5, 0.8], angle)
    np.testing.assert_allclose(quaternion_to_matrix(matrix_to_quaternion(R)), R, atol=1e-12)


def test_inverse_composes_to_identity() -> None:
    T = make_se3(rotation_about_axis([1, 2, 3], 0.7), [0.01, -0.02, 0.05])
    np.testing.assert_allclose(T @ invert_se3(T), np.eye(4), atol=1e-12)


def test_bad_shapes_are_named() -> None:
    with pytest.raises(GeometryError, match=r"\(3, 3\)"):
        make_se3(np.eye(2), [0, 0, 0])
    with pytest.raises(GeometryError, match="no direction"):
        quaternion_to_matrix([0, 0, 0, 0])
