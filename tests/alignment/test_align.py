"""End-to-end silhouette alignment on the synthetic object: accuracy, two views, global search, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from stereo_nerf_core.alignment import AlignmentConfig, AlignmentError, Mesh, align_silhouette, pose_errors
from stereo_nerf_core.geometry import make_se3, rotation_about_axis
from tests.alignment.alignment_helpers import make_case, perturbed

REFINE_ONLY = AlignmentConfig(global_search=False, gif_every=0)


def test_recovers_the_pose_from_30_degrees_and_20_percent_away(mesh: Mesh) -> None:
    case = make_case(mesh, size=128)
    start = perturbed(case.T_true, mesh.centre, np.random.default_rng(7), degrees=30.0, fraction=0.2)
    assert pose_errors(start, case.T_true, centre=mesh.centre) == pytest.approx((30.0, 0.2))
    result = align_silhouette(mesh, [case.view()], config=AlignmentConfig(global_search=False), T_init=start)
    rotation, translation = pose_errors(result.T_camera_object, case.T_true, centre=mesh.centre)
    assert rotation < 2.0 and translation < 0.02
    assert result.iou[0] > 0.98 > result.start_iou[0]
    assert result.iterations == REFINE_ONLY.iterations and result.refined_starts == 1
    assert len(result.frames) == REFINE_ONLY.iterations // 5 + 1  # every 5 iterations and the last


def test_two_views_beat_one(mesh: Mesh) -> None:
    # 64 px masks leave one view's pose ambiguous by a few degrees; the stereo endoscope's second camera
    # (5 mm baseline, rectified: T_left_right = translation (+baseline, 0, 0)) halves the errors.
    case = make_case(mesh, size=64)
    right = make_se3(np.eye(3), [0.005, 0.0, 0.0])
    one: list[tuple[float, float]] = []
    two: list[tuple[float, float]] = []
    for seed in range(3):
        start = perturbed(case.T_true, mesh.centre, np.random.default_rng(seed), degrees=30.0, fraction=0.2)
        for views, errors in (([case.view()], one), ([case.view(), case.view(right, name="right")], two)):
            result = align_silhouette(mesh, views, config=REFINE_ONLY, T_init=start)
            errors.append(pose_errors(result.T_camera_object, case.T_true, centre=mesh.centre))
    one_rotation, one_translation = np.mean(one, axis=0)
    two_rotation, two_translation = np.mean(two, axis=0)
    assert two_rotation < 0.75 * one_rotation and two_translation < 0.75 * one_translation
    assert two_rotation < 2.5 and two_translation < 0.02


def test_global_search_recovers_a_pose_that_local_refinement_misses(mesh: Mesh) -> None:
    case = make_case(mesh, size=96)
    R_far = rotation_about_axis([0.0, 0.0, 1.0], np.radians(90.0)) @ case.T_true[:3, :3]
    position = case.T_true[:3, :3] @ mesh.centre + case.T_true[:3, 3]
    far = make_se3(R_far, position - R_far @ mesh.centre)
    local = align_silhouette(mesh, [case.view()], config=REFINE_ONLY, T_init=far)
    assert pose_errors(local.T_camera_object, case.T_true, centre=mesh.centre)[0] > 20.0
    config = AlignmentConfig(top_k=2, gif_every=0)
    result = align_silhouette(mesh, [case.view()], config=config, T_init=far)
    rotation, translation = pose_errors(result.T_camera_object, case.T_true, centre=mesh.centre)
    assert rotation < 3.0 and translation < 0.02
    assert result.refined_starts == 3 and result.search_candidates == 100 * 12 * 3
    assert result.iou[0] > local.iou[0]


def test_mesh_outside_the_view_says_where_it_projects(mesh: Mesh) -> None:
    case = make_case(mesh, size=64)
    aside = case.T_true.copy()
    aside[0, 3] += 0.2
    with pytest.raises(
        AlignmentError, match=r"mesh outside the view: .* view is empty \(projected extent u \d+\.\.\d+"
    ):
        align_silhouette(mesh, [case.view(name="view")], config=REFINE_ONLY, T_init=aside)
    behind = case.T_true.copy()
    behind[2, 3] = -0.2
    with pytest.raises(AlignmentError, match="behind the camera"):
        align_silhouette(mesh, [case.view()], config=REFINE_ONLY, T_init=behind)


def test_a_view_whose_mask_the_aligned_mesh_misses_is_named(mesh: Mesh) -> None:
    case = make_case(mesh, size=48)
    right = make_se3(np.eye(3), [0.005, 0.0, 0.0])
    wrong = case.view(right, name="right")
    shifted = np.zeros_like(wrong.mask)
    shifted[:, :8] = wrong.mask[:, 40:]  # the object where the relative pose says it cannot be
    shifted[:8, :8] = True
    view = type(wrong)(shifted, wrong.K, 48, 48, right, name="right")
    config = AlignmentConfig(global_search=False, gif_every=0, iterations=3)
    with pytest.raises(AlignmentError, match=r"aligned silhouette in right does not overlap its mask \(projected"):
        align_silhouette(mesh, [case.view(), view], config=config, T_init=case.T_true)


def test_refinement_needs_a_start_and_a_reference_first_view(mesh: Mesh) -> None:
    case = make_case(mesh, size=32)
    with pytest.raises(AlignmentError, match="initial pose"):
        align_silhouette(mesh, [case.view()], config=REFINE_ONLY)
    moved = make_se3(np.eye(3), [0.005, 0.0, 0.0])
    with pytest.raises(AlignmentError, match="reference"):
        align_silhouette(mesh, [case.view(moved)], config=REFINE_ONLY, T_init=case.T_true)
