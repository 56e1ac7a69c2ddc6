"""The video front end's world: the camera's turns and motion seen in the background, gravity from
the feet (not from the body's lean), the trunk placed as anny has it, the same person throughout,
the person's floor, and the plausibility figures."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from rohm.skeleton import JOINT_INDEX, NUM_JOINTS
from rohm.video.background import BackgroundTracker, CameraEvidence, rotation_between
from rohm.video.camera import default_fov_deg, intrinsics_from_fov
from rohm.video.ground import (
    BACKGROUND_STILL,
    STATIC_SPEED,
    decide_moving,
    estimate_ground,
)
from rohm.video.identity import find_others
from rohm.video.landmarks import TRUNK_FRAME, place_trunk, torso_frame
from rohm.video.person import MAX_SETTLE_M, floor_offset, lowered
from rohm.video.plausibility import (
    STANDING_TOE_M,
    jitter,
    lowest_foot_m,
    reprojection_error,
    torso_tilt_deg,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_video import FPS, _angle_deg, _camera, _to_camera, _walk  # noqa: E402

J = JOINT_INDEX


def _turn_y(points: np.ndarray, degrees: float) -> np.ndarray:
    a = np.radians(degrees)
    return points @ np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]]).T


def _lean(joints: np.ndarray, degrees: float) -> np.ndarray:
    """The whole body tilted forward (about the world x axis through the pelvis)."""
    a = np.radians(degrees)
    tilt = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(a), -np.sin(a)], [0.0, np.sin(a), np.cos(a)]])
    pelvis = joints[:, :1]
    return (joints - pelvis) @ tilt.T + pelvis


def _l_walk() -> tuple[np.ndarray, np.ndarray]:
    """3 s along +x, then 3 s turned to walk along -z: contacts spread over the floor in both directions."""
    joints, soles = _walk(seconds=3.0)
    turned_joints, turned_soles = _turn_y(joints, 90.0), _turn_y(soles, 90.0)
    offset = joints[-1, 0] - turned_joints[0, 0]
    offset[1] = 0.0
    return np.concatenate([joints, turned_joints + offset]), np.concatenate([soles, turned_soles + offset])


# ----- background --------------------------------------------------------------------------
def _scene(size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A textured RGB background (blurred noise blobs), larger than the frames cut from it."""
    import cv2

    rng = np.random.default_rng(seed)
    grey = cv2.GaussianBlur(rng.uniform(0, 255, (size[1], size[0])).astype(np.float32), (0, 0), 3.0)
    grey = cv2.normalize(grey, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def _frames(pan_deg_per_frame: float, n: int, size: tuple[int, int] = (480, 270)):
    """Frames of a camera turning about its vertical axis over a static scene (an exact homography
    K R K^-1), with a dark 'person' walking across the middle; yields (frame, landmarks, turn)."""
    import cv2

    k = intrinsics_from_fov(60.0, size)
    scene = _scene(size)
    for i in range(n):
        a = np.radians(pan_deg_per_frame * i)
        turn = np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])  # now -> first
        warp = k @ turn.T @ np.linalg.inv(k)  # first frame's pixels -> this frame's
        frame = cv2.warpPerspective(scene, warp, size, borderMode=cv2.BORDER_REFLECT)
        x = 150 + 4 * i
        frame[60:240, x:x + 50] = 30
        landmarks = np.array([[x + 5, 65], [x + 45, 235]], dtype=np.float64)
        yield frame, landmarks, turn


def _evidence(pan_deg_per_frame: float, n: int = 20, fps: float = 30.0) -> tuple[CameraEvidence, list[np.ndarray]]:
    size = (480, 270)
    tracker = BackgroundTracker(size, intrinsics_from_fov(60.0, size), fps)
    turns = []
    for frame, landmarks, turn in _frames(pan_deg_per_frame, n, size):
        tracker.add(frame, landmarks)
        turns.append(turn)
    return tracker.evidence(), turns


def test_a_still_background_is_a_static_camera_and_a_turning_one_is_measured() -> None:
    still, _ = _evidence(0.0)
    assert still.speed < 0.1 * BACKGROUND_STILL  # the walking 'person' is masked out
    assert still.turn_deg() < 0.05
    turning, truth = _evidence(0.3)  # a slow pan, 9 degrees per second
    assert turning.speed > 2 * BACKGROUND_STILL
    errors = [_angle_deg(est @ np.array([0.0, 0.0, 1.0]), true @ np.array([0.0, 0.0, 1.0]))
              for est, true in zip(turning.rotation, truth)]
    assert max(errors) < 0.1  # degrees, over 19 frames (no drift: tracked from key frames)
    assert turning.turn_deg() == pytest.approx(0.3 * 19, abs=0.1)


def test_rotation_between_rays_ignores_outliers() -> None:
    rng = np.random.default_rng(1)
    rays = rng.normal(size=(200, 3)) * (0.3, 0.2, 0.0) + (0.0, 0.0, 1.0)
    rays /= np.linalg.norm(rays, axis=1, keepdims=True)
    a = np.radians(2.0)
    true = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(a), -np.sin(a)], [0.0, np.sin(a), np.cos(a)]])
    moved = rays @ true.T
    moved[:40] = rays[:40]  # a fifth of the points stand still (another person, a ball)
    rot, _ = rotation_between(rays, moved)
    assert np.degrees(np.arccos((np.trace(rot.T @ true) - 1) / 2)) < 0.05


def test_camera_decision_uses_the_background_then_the_feet() -> None:
    still = CameraEvidence(np.full(30, 0.0001), np.full(30, 100), np.tile(np.eye(3), (30, 1, 1)), 30.0)
    moves = CameraEvidence(np.full(30, 0.002), np.full(30, 100), np.tile(np.eye(3), (30, 1, 1)), 30.0)
    assert not decide_moving("auto", still, 2.0).moving  # sliding feet, but the background stands still
    assert not decide_moving("auto", moves, 0.5 * STATIC_SPEED).moving  # turning on the spot
    assert decide_moving("auto", moves, 2.0 * STATIC_SPEED).moving  # travelling with the person
    assert decide_moving("auto", None, 2.0 * STATIC_SPEED).moving  # no background: the feet decide
    assert decide_moving("moving", still, 0.0).moving and not decide_moving("static", moves, 9.0).moving


def test_a_portrait_video_sees_the_default_field_of_view_along_its_height() -> None:
    assert default_fov_deg((1920, 1080)) == pytest.approx(60.0)
    k = intrinsics_from_fov(default_fov_deg((1080, 1920)), (1080, 1920))
    assert np.degrees(2 * np.arctan(960 / k[1, 1])) == pytest.approx(60.0)


# ----- gravity -----------------------------------------------------------------------------
@pytest.mark.parametrize("lean_deg", [0.0, 12.0])
def test_gravity_comes_from_the_contacts_whatever_the_body_leans(lean_deg: float) -> None:
    """An L-shaped walk (contacts spread both ways) by a body leaning like MediaPipe's 3D can,
    filmed from 2.2 m up with a pitched and rolled camera."""
    joints, soles = _l_walk()
    joints = _lean(joints, lean_deg)
    centre = joints[:, 0].mean(axis=0)
    ext = _camera(np.array([centre[0], 2.2, centre[2] + 6.0]), np.array([centre[0], 0.9, centre[2]]), roll_deg=6.0)
    rng = np.random.default_rng(2)
    cam_joints = _to_camera(joints, ext) + rng.normal(scale=0.03, size=joints.shape)
    ground = estimate_ground(cam_joints, _to_camera(soles, ext) + rng.normal(scale=0.03, size=soles.shape), FPS)
    assert not ground.moving
    assert _angle_deg(ground.rotation[1], ext[:3, :3] @ np.array([0.0, 1.0, 0.0])) < 1.0
    assert ground.camera_height() == pytest.approx(2.2, abs=0.1)
    true_world = (cam_joints - ext[:3, 3]) @ ext[:3, :3]  # the noisy joints in the true world
    tilt = np.median(torso_tilt_deg(ground.to_world(cam_joints)))
    assert tilt == pytest.approx(np.median(torso_tilt_deg(true_world)), abs=1.0)  # the lean stays the body's


def test_a_leaning_body_on_one_spot_does_not_tilt_the_world() -> None:
    """Stepping in place, leaning 12 degrees, seen by a chest-high, level-ish camera: only the
    priors and the body can tell the pitch; the priors win (up from the body would be 12 off)."""
    joints, soles = _walk(speed=0.0)
    joints = _lean(joints, 12.0)
    ext = _camera(np.array([0.0, 1.4, 4.0]), np.array([0.0, 1.0, 0.0]))
    rng = np.random.default_rng(4)
    cam_joints = _to_camera(joints, ext) + rng.normal(scale=0.02, size=joints.shape)
    ground = estimate_ground(cam_joints, _to_camera(soles, ext) + rng.normal(scale=0.02, size=soles.shape), FPS)
    assert _angle_deg(ground.rotation[1], ext[:3, :3] @ np.array([0.0, 1.0, 0.0])) < 4.0
    assert np.median(torso_tilt_deg(ground.to_world(cam_joints))) > 8.0


def test_a_turning_camera_is_taken_out_of_the_world() -> None:
    """A static camera panning 0.5 degrees per frame while the person walks past: with the turns
    measured, the world is the same in every frame and the camera stays static."""
    joints, soles = _walk()
    n = len(joints)
    base = _camera(np.array([2.4, 1.5, 5.0]), np.array([2.4, 0.9, 0.0]))
    angles = np.radians(np.linspace(-10.0, 10.0, n))
    pans = np.stack([[[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]] for a in angles])
    ext = np.tile(base, (n, 1, 1))
    ext[:, :3] = np.einsum("nij,jk->nik", pans, base[:3])  # camera axes turned each frame
    to_first = np.einsum("ij,nkj->nik", pans[0], pans)  # each frame's camera axes -> the first frame's
    evidence = CameraEvidence(np.full(n, 0.01), np.full(n, 100), to_first, FPS)
    rng = np.random.default_rng(5)
    cam_joints = _to_camera(joints, ext) + rng.normal(scale=0.01, size=joints.shape)
    cam_soles = _to_camera(soles, ext) + rng.normal(scale=0.01, size=soles.shape)
    ground = estimate_ground(cam_joints, cam_soles, FPS, "auto", evidence)
    assert not ground.moving
    world = ground.to_world(cam_joints)
    step = np.linalg.norm(np.diff(world[:, J["pelvis"], [0, 2]], axis=0), axis=1) * FPS
    assert np.median(step) == pytest.approx(1.2, rel=0.1)  # the walker's own speed, not the pan's
    seen = np.einsum("nij,nkj->nki", ground.extrinsics()[:, :3, :3], world) + ground.extrinsics()[:, None, :3, 3]
    np.testing.assert_allclose(seen, cam_joints, atol=1e-9)  # the extrinsics undo to_world, frame by frame


# ----- the trunk, the person, the floor -----------------------------------------------------
def test_the_trunk_is_placed_as_anny_has_it_whatever_the_pose() -> None:
    rng = np.random.default_rng(3)
    joints = rng.normal(scale=0.05, size=(4, NUM_JOINTS, 3))
    for name, x, y, z in (("left_hip", 0.1, 0.0, 0.0), ("right_hip", -0.1, 0.0, 0.0),
                          ("left_shoulder", 0.17, 0.47, 0.0), ("right_shoulder", -0.17, 0.47, 0.0)):
        joints[:, J[name]] = (x, y, z)
    a = np.radians(35.0)
    turn = np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])
    placed = place_trunk(joints)
    moved = place_trunk(joints @ turn.T + (1.0, 2.0, 3.0))
    np.testing.assert_allclose(moved, placed @ turn.T + (1.0, 2.0, 3.0), atol=1e-12)  # rigid motion commutes
    origin, axes, length = torso_frame(placed)
    collar = (placed[:, J["left_collar"]] - origin) / length[:, None]
    np.testing.assert_allclose(np.einsum("nij,nj->ni", axes, collar), np.tile(TRUNK_FRAME["left_collar"], (4, 1)),
                               atol=1e-12)
    assert np.all(axes[:, 2, 2] > 0.99)  # forward = across x up: +z for a body facing +z (anny's rest)


def test_a_switch_to_another_person_is_found_and_only_then() -> None:
    n, fps = 90, 30.0
    t = np.arange(n) / fps
    image = np.zeros((n, 33, 2))
    body = np.array([[0, -200], [0, 0], [0, 200]])  # shoulders, hips, ankles (pixels from the hips)
    for (a, b), offset in zip(((11, 12), (23, 24), (27, 28)), body):
        image[:, [a, b]] = offset
    image[:, [25, 26]] = (0, 100)
    image += np.stack([300 + 150 * t, 500 + 0 * t], axis=1)[:, None]  # walking right, 0.4 body sizes per second
    detected = np.ones(n, dtype=bool)
    assert find_others(image, detected, fps).events == []  # a person walking is one person
    other = image.copy()
    other[40:60] = (image[40:60] - image[40:60, 23:24]) * 0.6 + (1200, 450)  # someone smaller, further right
    found = find_others(other, detected, fps)
    assert found.other.sum() == 20 and found.other[40:60].all()
    assert len(found.events) == 1 and found.events[0]["first_frame"] == 40 and "hips moved" in found.events[0]["reason"]


def test_the_floor_settles_under_the_feet_in_contact() -> None:
    from rohm.io.motion_file import Motion

    joints, _ = _walk()
    joints[..., 1] += 0.03  # stance toes 8 cm up instead of anny's ~5.7
    contacts = np.zeros((len(joints), 4))
    contacts[:, 1] = joints[:, J["left_foot"], 1] == joints[:, J["left_foot"], 1].min()
    offset = floor_offset(joints, contacts, FPS)
    settled = lowered(Motion(joints=joints, fps=FPS, trans=joints[:, 0].copy()), offset)
    lowest = lowest_foot_m(settled.joints)[(contacts > 0.5).any(axis=1)]
    assert np.median(lowest) == pytest.approx(np.mean(STANDING_TOE_M), abs=1e-9)
    np.testing.assert_allclose(settled.trans, settled.joints[:, 0])
    joints[..., 1] += 1.0  # a floor a metre off is not the feet's doing: the settling is bounded
    assert floor_offset(joints, contacts, FPS) == MAX_SETTLE_M


def test_plausibility_figures() -> None:
    joints, _ = _walk()
    assert np.median(torso_tilt_deg(joints)) < 1e-6
    assert np.median(torso_tilt_deg(_lean(joints, 10.0))) == pytest.approx(10.0)
    assert jitter(joints[:, :, :] * 0 + 1.0, FPS) == 0.0
    ext = _camera(np.array([2.4, 1.5, 5.0]), np.array([2.4, 0.9, 0.0]))
    k = intrinsics_from_fov(60.0, (1280, 720))
    cam = _to_camera(joints, ext)
    pixels = cam[..., :2] / cam[..., 2:] @ k[:2, :2].T + k[:2, 2]
    extrinsics = np.tile(ext, (len(joints), 1, 1))
    conf, seen = np.ones(joints.shape[:2]), np.ones(len(joints), dtype=bool)
    assert reprojection_error(joints, extrinsics, k, pixels, conf, seen)[0] < 1e-9
    off = reprojection_error(joints, extrinsics, k, pixels + (10.0, 0.0), conf, seen)
    assert off[0] == pytest.approx(10.0) and 0.0 < off[1] < 1.0
