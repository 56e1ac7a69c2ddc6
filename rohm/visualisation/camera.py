"""A follow camera for judging motions by eye.

The view direction is fixed for the whole video (a front three-quarter view,
looking down at ELEVATION_DEG): only the position moves, following the root
horizontally through a zero-phase Gaussian low-pass (no lag, no jitter). The
distance is fixed too, chosen so the body's spread around that smoothed root fits
the view in (almost) every frame. A fixed orientation and height keep the floor,
the horizon and the sizes comparable from frame to frame.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from rohm.skeleton import JOINT_INDEX

ELEVATION_DEG = 20.0  # camera pitch below the horizon
AZIMUTH_DEG = 35.0  # turn away from the body's front: a three-quarter view
FOV_Y_DEG = 40.0  # vertical field of view of a panel
FOLLOW_SIGMA_S = 1.0  # Gaussian low-pass of the followed root, seconds
FIT_QUANTILE = 0.98  # share of frames whose whole body must fit the view
FIT_MARGIN = 1.1
MIN_HALF_HEIGHT_M = 0.6  # never closer than to fit a 1.2 m tall box
NEAR_M = 0.1  # points closer than this in depth are not drawn


@contextlib.contextmanager
def _quiet_nan_warnings() -> Iterator[None]:
    """np.nanmean & co. warn on all-NaN slices; the callers handle those gaps."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


@dataclass(frozen=True)
class Camera:
    """A pinhole camera with a fixed orientation and one position per output frame."""

    rotation: np.ndarray  # (3, 3) world -> camera; rows: right, down, forward
    positions: np.ndarray  # (T, 3) camera centre per frame
    targets: np.ndarray  # (T, 3) point looked at per frame
    focal: float  # pixels
    size: tuple[int, int]  # (width, height) of one panel

    def project(self, points: np.ndarray, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points (len(frames), ..., 3) -> pixels (..., 2) and depth (...).

        Pixels are NaN for points behind the near plane (or NaN themselves).
        """
        cam = self.positions[frames].reshape((len(frames),) + (1,) * (points.ndim - 2) + (3,))
        local = (points - cam) @ self.rotation.T
        depth = local[..., 2]
        with np.errstate(invalid="ignore", divide="ignore"):
            uv = self.focal * local[..., :2] / depth[..., None]
        uv += (self.size[0] / 2, self.size[1] / 2)
        uv[~(depth > NEAR_M)] = np.nan
        return uv, depth

    def floor_distance(self) -> np.ndarray:
        """(H, W) horizontal distance from the target to the floor (y = 0) point seen at each
        pixel centre; inf where a pixel sees no floor. The same in every frame, since the camera
        only translates, at a fixed height and offset from its target."""
        w, h = self.size
        u, v = np.meshgrid(np.arange(w) + 0.5 - w / 2, np.arange(h) + 0.5 - h / 2)
        rays = np.stack([u / self.focal, v / self.focal, np.ones_like(u)], axis=-1) @ self.rotation
        eye = self.positions[0] - self.targets[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(rays[..., 1] < 0, -self.positions[0, 1] / rays[..., 1], np.inf)
            dist = np.hypot(eye[0] + t * rays[..., 0], eye[2] + t * rays[..., 2])
        return np.where(np.isfinite(t), dist, np.inf)


def _fill_gaps(x: np.ndarray) -> np.ndarray:
    """Linearly interpolate NaN rows of a (T, D) series (ends held); all-NaN -> zeros."""
    x = x.copy()
    ok = ~np.isnan(x).any(axis=1)
    if not ok.any():
        return np.zeros_like(x)
    t = np.arange(len(x))
    for d in range(x.shape[1]):
        x[:, d] = np.interp(t, t[ok], x[ok, d])
    return x


def _low_pass(x: np.ndarray, sigma: float) -> np.ndarray:
    """Zero-phase Gaussian smoothing of a (T, D) series; the ends are extended by point
    reflection, so a steady walk is followed without lagging at the start and the end."""
    if len(x) < 2:
        return x
    pad = int(4 * sigma) + 1
    padded = np.pad(x, ((pad, pad), (0, 0)), mode="reflect", reflect_type="odd")
    return gaussian_filter1d(padded, sigma, axis=0, mode="nearest")[pad : pad + len(x)]


def _facing(joints: np.ndarray) -> np.ndarray:
    """Mean horizontal facing direction (unit, xz) of a (T, 22, 3) motion; +z if unknown."""
    across = joints[:, JOINT_INDEX["left_hip"]] - joints[:, JOINT_INDEX["right_hip"]]
    front = np.stack([-across[:, 2], across[:, 0]], axis=1)  # (left - right) x up, in xz
    front /= np.linalg.norm(front, axis=1, keepdims=True) + 1e-9
    mean = np.nanmean(front, axis=0) if np.isfinite(front).any() else np.full(2, np.nan)
    norm = np.linalg.norm(mean)
    return mean / norm if np.isfinite(norm) and norm > 0.1 else np.array([0.0, 1.0])


def follow_camera(joints: list[np.ndarray], fps: float, size: tuple[int, int], pad: float = 0.05) -> Camera:
    """A camera that frames all motions: (T, 22, 3) joints each (NaN = missing), same T;
    `pad` (metres) is how far the drawing reaches beyond the joints (a mesh: the head, hands)."""
    stacked = np.concatenate(joints, axis=1)  # (T, M*22, 3)
    with _quiet_nan_warnings():
        centre = np.nanmean(stacked, axis=1)  # (T, 3)
        mid_y = 0.5 * (np.nanmin(stacked[..., 1], axis=1) + np.nanmax(stacked[..., 1], axis=1))
    root_xz = _low_pass(_fill_gaps(centre[:, [0, 2]]), FOLLOW_SIGMA_S * fps)
    height = float(np.nanmedian(mid_y))
    targets = np.stack([root_xz[:, 0], np.full(len(root_xz), height), root_xz[:, 1]], axis=1)

    front = _facing(joints[0])
    a = np.deg2rad(AZIMUTH_DEG)
    turned = np.array([front[0] * np.cos(a) - front[1] * np.sin(a), front[0] * np.sin(a) + front[1] * np.cos(a)])
    e = np.deg2rad(ELEVATION_DEG)
    forward = np.array([-turned[0] * np.cos(e), -np.sin(e), -turned[1] * np.cos(e)])  # towards the body
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    rotation = np.stack([right, np.cross(forward, right), forward])

    # Distance at which each joint just fits the view (with a margin), per frame: keep
    # all of the body in view in all but the worst (1 - FIT_QUANTILE) of the frames.
    local = (stacked - targets[:, None]) @ rotation.T  # camera axes, origin at the target
    tan_y = np.tan(np.deg2rad(FOV_Y_DEG) / 2)
    tan_x = tan_y * size[0] / size[1]
    reach = np.abs(local[..., :2]) + pad
    need = FIT_MARGIN * np.maximum(reach[..., 0] / tan_x, reach[..., 1] / tan_y) - local[..., 2]
    with _quiet_nan_warnings():
        per_frame = np.nanmax(need, axis=1)
    per_frame = per_frame[np.isfinite(per_frame)]
    distance = max(float(np.quantile(per_frame, FIT_QUANTILE)), FIT_MARGIN * MIN_HALF_HEIGHT_M / tan_y)
    focal = size[1] / 2 / tan_y
    return Camera(rotation, targets - distance * forward, targets, float(focal), size)
