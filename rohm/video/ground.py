"""Gravity, the floor and the camera's own motion, from the body's motion in camera coordinates.

Input, camera frame, OpenCV axes (y down), NaN where missing: joints (N, 22, 3) and the sole
points (N, 4, 3: left heel, left toe, right heel, right toe; MediaPipe's heel and foot_index
landmarks) that touch the floor, SOLE_HEIGHT above it.
- Up, first guess: the body's weight is over its support. Averaged over the frames where a
  foot is down, the direction from the supporting feet to the pelvis is vertical (for
  standing, walking and running alike: the mean ground reaction force is vertical), which
  unlike the trunk's direction is not biased by a runner's forward lean. Its sideways
  component is dropped: videos are filmed with a level horizon (no camera roll), and
  MediaPipe's 3D leans sideways by several degrees on side views (8 degrees on the example).
  The camera's pitch comes from the body.
- Camera motion (translation only; a panning camera is not modelled): a foot on the ground
  does not move in the world. When the camera follows the person (a tracking shot), the
  lowest sole point slides backwards in camera coordinates by the camera's own displacement,
  and its height says how high the floor is under the camera. Horizontally each frame's
  lowest sole point is locked to the next; vertically it is put on one floor level; both
  weighted by how close it is to the floor, in banded least-squares problems, smooth in time
  (flight phases are bridged), reweighted so that a foot landing or lifting off does not
  count. Monocular depth errors make feet climb or sink slowly in camera coordinates; locking
  their height keeps them on the floor. A camera whose median horizontal speed (estimated on
  smoothed points, so that jitter does not count) is below STATIC_SPEED is taken as static.
- Floor (static camera): a plane through the sole points in contact (low and slow). Contacts
  along one line (walking straight) leave the tilt about that line unknown: the up prior fills
  in exactly that direction and nothing else. With a moving camera the floor's tilt cannot be
  told from the camera's own vertical motion, so the prior is the floor normal.
The world: y up along the floor normal, the floor at y = 0, the origin under the first seen
pelvis, x along the camera's x axis laid on the floor (the camera looks along -z, roughly).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.ndimage import gaussian_filter1d, minimum_filter1d
from scipy.sparse.linalg import spsolve

from rohm.errors import RohmError
from rohm.skeleton import JOINT_INDEX
from rohm.video.camera import CAMERA_MODES

SOLE_HEIGHT = 0.02  # m: MediaPipe's heel and toe-tip landmarks above the floor in contact
SMOOTH_FRAMES = 2.0  # Gaussian sigma (frames) against detector jitter, for contacts and the up
LOCK_GAP = 0.03  # m: lowest sole point's height above the local floor at which locking weighs 1/e
LOCK_RESIDUAL = 0.3  # m/s: a locked point moving this fast in the world weighs half (Cauchy)
LOCK_ROUNDS = 4
FLOOR_WINDOW_S = 1.0  # s: the local floor is the lowest sole point within this window
CAMERA_SMOOTH = 600.0  # weight of the camera's acceleration (per frame): ~5 frames of smoothing
CAMERA_STILL = 1e-3  # weak pull of the camera's velocity to zero where no foot locks it
STATIC_SPEED = 0.25  # m/s: median camera speed (over one-second spans) below which it is static
CONTACT_GAP = 0.05  # m above the floor
CONTACT_SPEED = 0.5  # m/s, of the smoothed points
UPRIGHT_PRIOR = 0.01  # m^2: weight of the up prior against the spread of contact points
FIT_ROUNDS = 3


@dataclass
class Ground:
    """The world frame in the first frame's camera coordinates, and the camera's motion.

    rotation (3, 3): rows are the world x, y (up), z axes in camera axes; origin (3,): the world
    origin; camera_path (N, 3): camera centre minus its first position, camera axes (the camera
    keeps its orientation); moving: whether the camera was judged to move."""

    rotation: np.ndarray
    origin: np.ndarray
    camera_path: np.ndarray
    moving: bool

    def to_world(self, points: np.ndarray) -> np.ndarray:
        """Camera-frame points (N, ..., 3) of each frame -> world points."""
        path = self.camera_path.reshape((len(points),) + (1,) * (points.ndim - 2) + (3,))
        return (points + path - self.origin) @ self.rotation.T

    def extrinsics(self) -> np.ndarray:
        """(N, 4, 4) world -> camera of each frame (OpenCV axes)."""
        ext = np.tile(np.eye(4), (len(self.camera_path), 1, 1))
        ext[:, :3, :3] = self.rotation.T
        ext[:, :3, 3] = self.origin - self.camera_path
        return ext

    def camera_height(self) -> float:
        """Height of the first camera position above the floor (m)."""
        return float(-self.origin @ self.rotation[1])

    def camera_pitch_roll(self) -> tuple[float, float]:
        """Degrees the camera looks down (pitch) and is rolled, from the floor normal."""
        up = self.rotation[1]  # world up in camera axes (x right, y down, z forward)
        return float(np.degrees(np.arcsin(np.clip(-up[2], -1, 1)))), float(np.degrees(np.arctan2(up[0], -up[1])))


def smooth_points(points: np.ndarray, sigma: float = SMOOTH_FRAMES) -> np.ndarray:
    """Gaussian-smoothed points (N, P, 3) over time; gaps are bridged linearly for the filter and
    stay NaN in the result."""
    seen = np.isfinite(points).all(axis=-1)
    filled = points.copy()
    t = np.arange(len(points))
    for p in range(points.shape[1]):
        ok = seen[:, p]
        if ok.any() and not ok.all():
            filled[:, p] = np.stack([np.interp(t, t[ok], points[ok, p, d]) for d in range(3)], axis=1)
    smoothed = gaussian_filter1d(filled, sigma, axis=0, mode="nearest") if len(points) > 1 else filled
    return np.where(seen[..., None], smoothed, np.nan)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def upright_direction(joints: np.ndarray) -> np.ndarray:
    """(3,) mean neck-over-ankle-midpoint direction, unit; camera up (0, -1, 0) if never seen."""
    ankles = 0.5 * (joints[:, JOINT_INDEX["left_ankle"]] + joints[:, JOINT_INDEX["right_ankle"]])
    d = joints[:, JOINT_INDEX["neck"]] - ankles
    d = d[np.isfinite(d).all(axis=1)]
    return _unit(_unit(d).mean(axis=0)) if len(d) else np.array([0.0, -1.0, 0.0])


def height_above_floor(points: np.ndarray, up: np.ndarray, fps: float) -> np.ndarray:
    """(N, P) height of each point along `up` above the local floor: the lowest point within
    FLOOR_WINDOW_S (so a camera that rises or sinks slowly does not matter); NaN where missing."""
    h = points @ up
    lowest = np.min(np.where(np.isfinite(h), h, np.inf), axis=1)
    seen = np.isfinite(lowest)
    if not seen.any():
        return np.full(h.shape, np.nan)
    bridged = np.interp(np.arange(len(h)), np.flatnonzero(seen), lowest[seen])
    return h - minimum_filter1d(bridged, max(3, int(round(FLOOR_WINDOW_S * fps)) | 1), mode="nearest")[:, None]


def near_floor(points: np.ndarray, up: np.ndarray, fps: float) -> np.ndarray:
    """(N, P) weights in [0, 1]: 1 on the local floor, 1/e at LOCK_GAP above; 0 where missing."""
    with np.errstate(invalid="ignore"):
        w = np.exp(-((height_above_floor(points, up, fps) / LOCK_GAP) ** 2))
    return np.where(np.isfinite(w), w, 0.0)


def support_direction(joints: np.ndarray, soles: np.ndarray, up: np.ndarray, fps: float) -> np.ndarray:
    """(3,) unit mean direction from the feet on the floor to the pelvis (see the module notes);
    `up` is returned unchanged when no foot is ever near the floor."""
    feet = soles.reshape(len(soles), 2, 2, 3).mean(axis=2)  # left, right: heel-toe midpoints
    weight = near_floor(feet, up, fps)
    weight = np.where(weight > np.exp(-1.0), weight, 0.0)
    total = weight.sum(axis=1)
    seen = (total > 0) & np.isfinite(joints[:, JOINT_INDEX["pelvis"]]).all(axis=1)
    if not seen.any():
        return up
    support = np.einsum("np,npd->nd", weight[seen], np.nan_to_num(feet[seen])) / total[seen, None]
    return _unit(_unit(joints[seen, JOINT_INDEX["pelvis"]] - support).mean(axis=0))


def _lowest(soles: np.ndarray, up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index (N,) of each frame's lowest sole point along `up` and that point (N, 3), NaN if none."""
    h = soles @ up
    idx = np.argmin(np.where(np.isfinite(h), h, np.inf), axis=1)
    return idx, soles[np.arange(len(soles)), idx]


def camera_motion(soles: np.ndarray, up: np.ndarray, fps: float) -> tuple[np.ndarray, float]:
    """(N, 3) camera displacement (camera axes) that keeps the lowest sole point still and on one
    floor, and that floor's level along `up` (in the frame of the displaced camera)."""
    n = len(soles)
    idx, low = _lowest(soles, up)
    weight = near_floor(soles, up, fps)[np.arange(n), idx]
    level = float(np.median((low @ up)[weight > 0.5])) if (weight > 0.5).any() else 0.0
    if n < 3:
        return np.zeros((n, 3)), level
    t = np.arange(n - 1)
    step = soles[t + 1, idx[:-1]] - soles[t, idx[:-1]]
    # A step counts when its point is on the floor at both ends (not the first frame of a lift-off).
    both = np.minimum(weight[:-1], near_floor(soles, up, fps)[t + 1, idx[:-1]])
    w_step = np.where(np.isfinite(step).all(axis=1), both, 0.0)
    step = np.nan_to_num(step)
    d1 = sp.diags([-np.ones(n - 1), np.ones(n - 1)], [0, 1], shape=(n - 1, n))
    d2 = sp.diags([np.ones(n - 2), -2 * np.ones(n - 2), np.ones(n - 2)], [0, 1, 2], shape=(n - 2, n))
    smooth = CAMERA_SMOOTH * d2.T @ d2 + CAMERA_STILL * d1.T @ d1
    # Horizontal: lowest point locked from frame to frame; the first position is the origin.
    # Reweighted (Cauchy): steps that disagree with the camera's smooth motion are a foot that
    # is not down after all (landing, lifting off), not camera motion.
    anchor = sp.csr_matrix(([1.0], ([0], [0])), shape=(n, n))
    basis = np.linalg.svd(np.eye(3) - np.outer(up, up))[0][:, :2]  # two horizontal axes
    flat = step @ basis
    robust = np.ones(n - 1)
    for _ in range(LOCK_ROUNDS):
        w = w_step * robust
        lhs = (d1.T @ sp.diags(w) @ d1 + smooth + anchor).tocsc()
        rhs = d1.T @ (w[:, None] * -flat)
        across = np.stack([spsolve(lhs, rhs[:, k]) for k in range(2)], axis=1)
        residual = np.linalg.norm(np.diff(across, axis=0) + flat, axis=1) * fps
        robust = 1.0 / (1.0 + (residual / LOCK_RESIDUAL) ** 2)
    path = across @ basis.T
    # Vertical: lowest point's height + camera offset = the floor level where the foot is down.
    height = np.nan_to_num(low @ up)
    vertical = (sp.diags(weight) + smooth + 1e-6 * sp.eye(n)).tocsc()
    offset = spsolve(vertical, weight * (level - height))
    return path + offset[:, None] * up, level


def horizontal_speed(path: np.ndarray, up: np.ndarray, fps: float) -> float:
    """Median horizontal speed (m/s) of a camera path over one-second spans (jitter averages out)."""
    across = path - (path @ up)[:, None] * up
    span = min(max(1, int(round(fps))), len(path) - 1)
    if span < 1:
        return 0.0
    return float(np.median(np.linalg.norm(across[span:] - across[:-span], axis=1))) * fps / span


def sole_contacts(soles: np.ndarray, up: np.ndarray, fps: float) -> np.ndarray:
    """(N, P) contacts of sole points in a static frame: slow, and within CONTACT_GAP of the frame's
    lowest point (a frame-by-frame comparison, so a still tilted floor estimate finds contacts
    all along a walk; the lowest foot in a flight phase is not slow)."""
    speed = np.full(soles.shape[:2], np.inf)
    if len(soles) > 1:
        with np.errstate(invalid="ignore"):
            diff = np.linalg.norm(np.diff(soles, axis=0), axis=-1) * fps
        speed[:-1], speed[-1] = diff, diff[-1]
    h = soles @ up
    gap = h - np.min(np.where(np.isfinite(h), h, np.inf), axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        return (gap < CONTACT_GAP) & (np.where(np.isfinite(speed), speed, np.inf) < CONTACT_SPEED)


def fit_floor_normal(groups: list[np.ndarray], prior_up: np.ndarray) -> np.ndarray:
    """Unit normal of the plane through points (each group (M, 3) may have its own height above
    the plane, e.g. heels vs toes), with the prior filling directions the points leave open."""
    centred = [g - g.mean(axis=0) for g in groups if len(g) >= 2]
    cov = np.zeros((3, 3))
    if centred:
        pts = np.concatenate(centred)
        cov = pts.T @ pts / len(pts)
    u = _unit(prior_up)
    _, vecs = np.linalg.eigh(cov + UPRIGHT_PRIOR * (np.eye(3) - np.outer(u, u)))
    normal = vecs[:, 0]
    return normal if normal @ u > 0 else -normal


def estimate_ground(joints: np.ndarray, soles: np.ndarray, fps: float, camera: str = "auto") -> Ground:
    """The world frame, floor and camera motion from camera-frame joints (N, 22, 3) and sole points
    (N, 4, 3), NaN = missing; the pelvis must be seen in at least one frame."""
    if camera not in CAMERA_MODES:
        raise RohmError(f"unknown camera mode {camera!r} (expected one of {', '.join(CAMERA_MODES)})")
    raw_soles = soles
    joints, soles = smooth_points(joints), smooth_points(soles)
    # Feet near the floor are judged along the trunk's direction, once: re-judging them along the
    # support direction itself would feed back (a forward tilt makes the rear foot look lowest).
    up = _unit(support_direction(joints, soles, upright_direction(joints), fps) * (0.0, 1.0, 1.0))  # level: no roll
    path, level = np.zeros((len(joints), 3)), 0.0
    moving = camera == "moving"
    if camera == "auto":  # judged on smoothed soles: jitter must not look like camera motion
        moving = horizontal_speed(camera_motion(soles, up, fps)[0], up, fps) > STATIC_SPEED
    if moving:
        # Unsmoothed: smoothing leaks the swing's motion into the ends of each stance (a 5% slower
        # camera); the camera's own smoothness term handles the detector's jitter.
        path, level = camera_motion(raw_soles, up, fps)
    if not moving:
        for _ in range(FIT_ROUNDS):
            contacts = sole_contacts(soles, up, fps)
            up = fit_floor_normal([soles[:, p][contacts[:, p]] for p in range(soles.shape[1])], up)
        contacts = sole_contacts(soles, up, fps)
        heights = (soles @ up)[contacts]
        level = float(np.median(heights)) if len(heights) else float(np.nanpercentile(soles @ up, 5))
    floor = level - SOLE_HEIGHT
    x = np.array([1.0, 0.0, 0.0]) - up[0] * up
    x /= np.linalg.norm(x)
    rotation = np.stack([x, up, np.cross(x, up)])
    pelvis = joints[:, JOINT_INDEX["pelvis"]] + path
    first = pelvis[np.isfinite(pelvis).all(axis=1)][0]
    origin = first - (first @ up - floor) * up
    return Ground(rotation, origin, path, moving)
