"""The world frame: gravity, the floor and the camera's own motion.

Input, camera frame, OpenCV axes (y down), NaN where missing: joints (N, 22, 3) and the sole
points (N, 4, 3: left heel, left toe, right heel, right toe; MediaPipe's heel and foot_index
landmarks) that touch the floor, SOLE_HEIGHT above it; and what the background showed of the
camera (`rohm.video.background`): its turns, taken out first (every frame's points in the
first frame's camera axes), and whether it moves at all.
- Gravity (`rohm.video.gravity`): from the rays to the feet on the floor, a level horizon and a
  camera about chest-high, with the body's own up (its supporting feet to its pelvis, averaged
  over stance) as one weak cue, so that a leaning body does not tilt the world.
- Static or moving (`decide_moving`): a background that stands still is a static camera. One
  that moves belongs to a camera that turns (handheld, panning; its turns are taken out) or
  travels with the person: then a foot on the ground, which does not move in the world,
  slides backwards in camera coordinates by the camera's own displacement.
- Camera path (a travelling camera): horizontally each frame's lowest sole point is locked to
  the next; vertically it is put on one floor level; both weighted by how close it is to the
  floor, in banded least-squares problems, smooth in time (flight phases are bridged),
  reweighted so that a foot landing or lifting off does not count. Monocular depth errors
  make feet climb or sink slowly in camera coordinates; locking their height keeps them on
  the floor.
- Floor height (static camera): the median height of the sole points in contact (low, slow).
The world: y up, the floor at y = 0, the origin under the first seen pelvis, x along the first
frame's camera x axis laid on the floor (the camera looks along -z, roughly).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.ndimage import gaussian_filter1d, minimum_filter1d
from scipy.sparse.linalg import spsolve

from rohm.errors import RohmError
from rohm.skeleton import JOINT_INDEX
from rohm.video.background import CameraEvidence
from rohm.video.camera import CAMERA_MODES
from rohm.video.gravity import Gravity, fit_gravity, pitch_roll_deg

SOLE_HEIGHT = 0.02  # m: MediaPipe's heel and toe-tip landmarks above the floor in contact
SMOOTH_FRAMES = 2.0  # Gaussian sigma (frames) against detector jitter, for contacts and the up
LOCK_GAP = 0.03  # m: lowest sole point's height above the local floor at which locking weighs 1/e
LOCK_RESIDUAL = 0.3  # m/s: a locked point moving this fast in the world weighs half (Cauchy)
LOCK_ROUNDS = 4
FLOOR_WINDOW_S = 1.0  # s: the local floor is the lowest sole point within this window
CAMERA_SMOOTH = 600.0  # weight of the camera's acceleration (per frame): ~5 frames of smoothing
CAMERA_STILL = 1e-3  # weak pull of the camera's velocity to zero where no foot locks it
# m/s: median speed (over one-second spans) of the camera that keeps the feet planted, below
# which a camera whose background moves is only turning (dev set: 0.19 for a handheld phone
# following a dribbler, 0.72 for the tracking shot of the runner).
STATIC_SPEED = 0.4
BACKGROUND_STILL = 0.02  # image sizes per second: a background moving less is a static camera
GRAVITY_ROUNDS = 2  # gravity fits, each with the contacts found along the previous up
CONTACT_GAP = 0.05  # m above the floor
CONTACT_SPEED = 0.5  # m/s, of the smoothed points


@dataclass
class Ground:
    """The world frame in the first frame's camera coordinates, and the camera's motion.

    rotation (3, 3): rows are the world x, y (up), z axes in the first frame's camera axes; origin
    (3,): the world origin; camera_path (N, 3): camera centre minus its first position, first
    frame's camera axes; moving: whether the camera was judged to travel; orientation (N, 3, 3)
    or None (the camera never turns): each frame's camera axes -> the first frame's (x0 = R x);
    gravity and decision: how up and the camera's motion were found (None when given)."""

    rotation: np.ndarray
    origin: np.ndarray
    camera_path: np.ndarray
    moving: bool
    orientation: np.ndarray | None = None
    gravity: Gravity | None = None
    decision: CameraDecision | None = None

    def to_world(self, points: np.ndarray) -> np.ndarray:
        """Camera-frame points (N, ..., 3) of each frame -> world points."""
        if self.orientation is not None:
            points = turn_points(points, self.orientation)
        path = self.camera_path.reshape((len(points),) + (1,) * (points.ndim - 2) + (3,))
        return (points + path - self.origin) @ self.rotation.T

    def extrinsics(self) -> np.ndarray:
        """(N, 4, 4) world -> camera of each frame (OpenCV axes)."""
        n = len(self.camera_path)
        turn = np.tile(np.eye(3), (n, 1, 1)) if self.orientation is None else self.orientation
        ext = np.tile(np.eye(4), (n, 1, 1))
        ext[:, :3, :3] = turn.transpose(0, 2, 1) @ self.rotation.T
        ext[:, :3, 3] = np.einsum("nji,nj->ni", turn, self.origin - self.camera_path)
        return ext

    def with_floor_raised(self, offset: float) -> Ground:
        """The same scene with the floor (y = 0) `offset` metres higher."""
        return dataclasses.replace(self, origin=self.origin + offset * self.rotation[1])

    def camera_height(self) -> float:
        """Height of the first camera position above the floor (m)."""
        return float(-self.origin @ self.rotation[1])

    def camera_pitch_roll(self) -> tuple[float, float]:
        """Degrees the camera looks down (pitch) and is rolled in the first frame."""
        return pitch_roll_deg(self.rotation[1])


@dataclass(frozen=True)
class CameraDecision:
    """Static or moving, why, and the evidence: the background's median motion (image sizes
    per second; None: not measured) and the speed of the feet's camera (m/s)."""

    moving: bool
    reason: str
    background_speed: float | None
    feet_speed: float


def turn_points(points: np.ndarray, orientation: np.ndarray) -> np.ndarray:
    """Points (N, ..., 3) in each frame's camera axes -> the first frame's axes (orientation (N, 3, 3))."""
    flat = points.reshape(len(points), -1, 3)
    return np.einsum("nij,nkj->nki", orientation, flat).reshape(points.shape)


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


def gravity_contacts(soles: np.ndarray, up: np.ndarray, fps: float, moving: bool) -> tuple[np.ndarray, np.ndarray]:
    """Sole points on the floor for the gravity fit: points (M, 3) and weights (M,). With a static
    camera: slow points near their frame's lowest (`sole_contacts`: hardly affected by an up
    that is still wrong); with a moving one (where planted feet move with the camera): points
    within about LOCK_GAP of the floor of the last second along `up` (a foot mid-jump does not count)."""
    if moving:
        weight = near_floor(soles, up, fps)
        weight = np.where(weight > np.exp(-1.0), weight, 0.0)
    else:
        weight = sole_contacts(soles, up, fps).astype(np.float64)
    return soles.reshape(-1, 3), weight.reshape(-1)


def decide_moving(camera: str, background: CameraEvidence | None, feet_speed: float) -> CameraDecision:
    """Static or moving (translating) camera. A background that stands still is a static camera;
    one that moves may be a camera turning on the spot (handheld, panning: handled by the
    background's rotations) or one travelling with the person: then the feet, once the
    turning is taken out, slide in camera coordinates at the camera's speed."""
    speed = None if background is None or not np.isfinite(background.speed) else background.speed
    if camera != "auto":
        return CameraDecision(camera == "moving", "given (--camera)", speed, feet_speed)
    if speed is not None and speed <= BACKGROUND_STILL:
        return CameraDecision(False, "the background stands still", speed, feet_speed)
    moving = feet_speed > STATIC_SPEED
    what = "moves" if speed is not None else "could not be measured"
    return CameraDecision(moving, f"the background {what}; the planted feet {'slide' if moving else 'stay'} "
                                  "in camera coordinates", speed, feet_speed)


def estimate_ground(joints: np.ndarray, soles: np.ndarray, fps: float, camera: str = "auto",
                    background: CameraEvidence | None = None) -> Ground:
    """The world frame, floor and camera motion from camera-frame joints (N, 22, 3) and sole points
    (N, 4, 3), NaN = missing, and what the background says of the camera (its turns and its
    motion; None: not measured); the pelvis must be seen in at least one frame."""
    if camera not in CAMERA_MODES:
        raise RohmError(f"unknown camera mode {camera!r} (expected one of {', '.join(CAMERA_MODES)})")
    orientation = None
    if background is not None and background.turn_deg() > 0.0:
        orientation = background.rotation
        joints, soles = turn_points(joints, orientation), turn_points(soles, orientation)
    raw_soles = soles
    joints, soles = smooth_points(joints), smooth_points(soles)
    # Feet near the floor are first judged along the trunk; then along the fitted gravity.
    body_up = support_direction(joints, soles, upright_direction(joints), fps)
    up, gravity = _unit(body_up * (0.0, 1.0, 1.0)), None  # level: no roll
    # Judged on smoothed soles (jitter must not look like camera motion) and horizontally: the
    # first guess of up is good enough.
    feet_speed = horizontal_speed(camera_motion(soles, up, fps)[0], up, fps)
    decision = decide_moving(camera, background, feet_speed)
    for _ in range(GRAVITY_ROUNDS):
        gravity = fit_gravity(*gravity_contacts(soles, up, fps, decision.moving), body_up, up)
        up = gravity.up
    path, level = np.zeros((len(joints), 3)), 0.0
    if decision.moving:
        # Unsmoothed: smoothing leaks the swing's motion into the ends of each stance (a 5% slower
        # camera); the camera's own smoothness term handles the detector's jitter.
        path, level = camera_motion(raw_soles, up, fps)
    else:
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
    return Ground(rotation, origin, path, decision.moving, orientation, gravity, decision)
