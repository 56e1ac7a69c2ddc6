"""The Cam protocol's inputs: a clip seen by a virtual monocular camera, as a 3D regressor would give it.

Standing in for the paper's RGB(-D) setups on mocap data. Per clip (seeded):
- a pinhole camera (1280x720, focal 1000 px) 4-7 m from the clip's centre, 1.0-1.8 m high, at a
  random azimuth, looking at the clip; world -> camera extrinsics in OpenCV axes;
- 2D keypoints: the true joints projected, plus 2 px Gaussian noise, confidence 0.9;
- 3D: body parameters with the paper's k-noise (k degrees / k cm), then the whole body moved
  along the camera ray through its pelvis by a depth error that grows with distance (5% slow
  drift + 2% per-frame jitter of the depth), as monocular depth errors do: the 2D projection of
  the pelvis is unchanged, its depth is wrong;
- a foreground occluder: a vertical band covering a third of the image width that slides over the
  body for 40-70% of the clip; joints whose projection falls in it are missing in 3D and get 2D
  confidence 0.05 (below the 0.2 threshold, i.e. unseen).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.ndimage import gaussian_filter1d

from rohm.corruption import corrupt_motion
from rohm.io.motion_file import Motion
from rohm.representation.canonical import yaw_matrix

IMAGE_SIZE = (1280, 720)
FOCAL = 1000.0
PIXEL_NOISE = 2.0
DEPTH_DRIFT, DEPTH_JITTER = 0.05, 0.02
HIDDEN_CONFIDENCE = 0.05


def look_at_extrinsics(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(4, 4) world -> camera (OpenCV: x right, y down, z forward) for a y-up world."""
    forward = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    rot = np.stack([right, down, forward])
    ext = np.eye(4)
    ext[:3, :3], ext[:3, 3] = rot, -rot @ eye
    return ext


def project_points(points: np.ndarray, extrinsics: np.ndarray, intrinsics: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World points (..., 3) -> pixels (..., 2) and camera depth (...)."""
    cam = points @ extrinsics[:3, :3].T + extrinsics[:3, 3]
    pix = cam[..., :2] / cam[..., 2:] @ intrinsics[:2, :2].T + intrinsics[:2, 2]
    return pix, cam[..., 2]


def camera_corrupt(gt: Motion, seed: int, noise: float = 3.0) -> Motion:
    """The Cam-protocol input for a ground-truth clip (with body parameters)."""
    rng = np.random.default_rng(seed)
    n = gt.num_frames
    centre = np.nanmean(gt.joints[:, 0], axis=0) * np.array([1.0, 0.0, 1.0])
    azimuth, distance, height = rng.uniform(0, 2 * np.pi), rng.uniform(4.0, 7.0), rng.uniform(1.0, 1.8)
    eye = centre + yaw_matrix(azimuth) @ np.array([0.0, 0.0, distance]) + np.array([0.0, height, 0.0])
    extrinsics = look_at_extrinsics(eye, centre + np.array([0.0, 0.9, 0.0]))
    w, h = IMAGE_SIZE
    intrinsics = np.array([[FOCAL, 0.0, w / 2], [0.0, FOCAL, h / 2], [0.0, 0.0, 1.0]])

    pixels, _ = project_points(gt.joints, extrinsics, intrinsics)
    keypoints = pixels + rng.normal(0.0, PIXEL_NOISE, pixels.shape)
    confidence = np.full((n, gt.joints.shape[1]), 0.9)

    # The occluder: a band a third of the image wide, sliding across the body during a time span.
    span = max(1, int(round(rng.uniform(0.4, 0.7) * n)))
    start = int(rng.integers(0, n - span + 1))
    centre_px = pixels[:, 0, 0]
    offset = rng.uniform(-0.15, 0.15) * w
    band_mid = centre_px + offset + np.linspace(-0.1, 0.1, n) * w
    hidden = np.zeros((n, gt.joints.shape[1]), dtype=bool)
    frames = np.arange(start, start + span)
    hidden[frames] = np.abs(pixels[frames, :, 0] - band_mid[frames, None]) < w / 6
    hidden[:, 0] &= hidden.all(axis=1)  # the pelvis stays visible unless the whole body is hidden

    noisy = corrupt_motion(dataclasses.replace(gt, joint_mask=~hidden), noise, "none", seed)
    # Depth error: scale each frame's body about the camera centre along the pelvis ray.
    drift = gaussian_filter1d(rng.normal(0.0, 1.0, n), sigma=15.0, mode="nearest")
    drift *= DEPTH_DRIFT / max(float(drift.std()), 1e-9)
    scale = 1.0 + drift + rng.normal(0.0, DEPTH_JITTER, n)
    cam_pelvis = np.nan_to_num(noisy.trans) + gt.joints[:1, 0] - gt.trans[:1]  # pelvis = rest pelvis + trans
    cam_pelvis = cam_pelvis @ extrinsics[:3, :3].T + extrinsics[:3, 3]
    shift_cam = cam_pelvis * (scale[:, None] - 1.0)
    shift = shift_cam @ extrinsics[:3, :3]  # camera -> world direction
    confidence[hidden] = HIDDEN_CONFIDENCE
    extras = {**noisy.extras, "corrupt_occlusion": np.str_("camera")}
    return dataclasses.replace(
        noisy, joints=noisy.joints + shift[:, None], trans=noisy.trans + shift,
        keypoints_2d=keypoints, keypoints_2d_conf=confidence, intrinsics=intrinsics, extrinsics=extrinsics, extras=extras)
