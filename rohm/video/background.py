"""The camera's own motion, seen in the background: sparse optical flow outside the person.

Every frame is shrunk to FLOW_SIDE pixels (grey); corners (cv2.goodFeaturesToTrack) found outside
the person's bounding box, dilated by PERSON_MARGIN of its size, are tracked into the next
frame (pyramidal Lucas-Kanade, cv2.calcOpticalFlowPyrLK) and kept when tracking them back lands
where they started. Per frame pair this gives:
- `shift`: the median displacement of the background points, as a fraction of the image's
  longer side. A static camera's background stands still (up to compression noise).
  `CameraEvidence.speed` is its median over frames, per second; below BACKGROUND_STILL
  (`rohm.video.ground`) the camera is static. Above it the camera turns or travels, which
  the background alone cannot tell apart on the dev set (a handheld phone following a
  dribbler, 4.2%/s; the tracking shot of the runner, 4.5%/s): `rohm.video.ground` asks the feet.
- `rotation`: the camera's turn from the previous frame, fitted to the points' viewing rays
  (Kabsch, reweighted against outliers such as other people and a ball): exact for a camera
  that turns on the spot (pan, tilt, handheld shake), where the background moves by a
  homography K R K^-1 whatever its depth.
OpenCV comes with MediaPipe (the `video` extra).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLOW_SIDE = 320  # px: longer side of the grey frames that are tracked
MAX_CORNERS = 150
LK_WINDOW = (15, 15)  # px at FLOW_SIDE; 4 pyramid levels (maxLevel 3) follow ~60 px of motion
CORNER_QUALITY = 0.01  # of the strongest corner's response
CORNER_SPACING = 6  # px at FLOW_SIDE
# Corners weaker than this (smaller eigenvalue of the 3x3 structure tensor, grey levels in
# [0, 1]) are compression noise on a blank wall (~1e-5 on the aerobics studio's, >= 3e-4 on any
# textured background): they show that the background does not move, but their positions
# wander too much to measure a rotation from.
STRONG_CORNER = 1e-4
PERSON_MARGIN = 0.25  # the person's box grows by this fraction of its size on every side
BACK_TRACK_PX = 0.5  # px at FLOW_SIDE: forward-backward tracking error above which a point is dropped
MIN_POINTS = 12  # background points needed to measure a frame's motion
KEY_KEEP = 0.5  # a new key frame when fewer than this fraction of its points are still tracked
ROTATION_ROUNDS = 4
ROTATION_OUTLIER_DEG = 0.3  # ray misfit at which a point's weight halves (Cauchy)


@dataclass
class CameraEvidence:
    """What the background says about the camera, per frame (N frames; frame 0 has no motion).

    shift (N,): median background displacement from the previous frame, fraction of the image's
    longer side (NaN: not measured); points (N,): background points tracked; rotation (N, 3, 3):
    the camera's orientation relative to the first frame (camera axes of frame t -> of frame 0
    are `rotation[t]`, i.e. x0 = R_t x_t), identity where not measured."""

    shift: np.ndarray
    points: np.ndarray
    rotation: np.ndarray
    fps: float

    @property
    def measured(self) -> np.ndarray:
        return np.isfinite(self.shift)

    @property
    def speed(self) -> float:
        """Median background motion in image sizes per second; NaN when no frame was measured."""
        return float(np.median(self.shift[self.measured]) * self.fps) if self.measured.any() else float("nan")

    def turn_deg(self) -> float:
        """Largest angle (degrees) the camera turned away from its first orientation."""
        cos = (np.trace(self.rotation, axis1=1, axis2=2) - 1) / 2
        return float(np.degrees(np.arccos(np.clip(cos, -1, 1))).max())


def person_box(keypoints: np.ndarray | None, size: tuple[int, int]) -> np.ndarray | None:
    """(4,) x0, y0, x1, y1 in pixels: the box around the person's 2D landmarks (K, 2), grown by
    PERSON_MARGIN of its size on every side; None without landmarks."""
    if keypoints is None:
        return None
    pts = keypoints[np.isfinite(keypoints).all(axis=1)]
    if not len(pts):
        return None
    low, high = pts.min(axis=0), pts.max(axis=0)
    grow = PERSON_MARGIN * (high - low) + 0.02 * max(size)
    return np.concatenate([low - grow, high + grow])


def rotation_between(rays_from: np.ndarray, rays_to: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rotation R (3, 3) with rays_to ~ R rays_from for unit rays (M, 3), fitted robustly
    (Kabsch reweighted, Cauchy); returns R and each ray's misfit in radians."""
    weight = np.ones(len(rays_from))
    rot = np.eye(3)
    for _ in range(ROTATION_ROUNDS):
        cov = (rays_to * weight[:, None]).T @ rays_from
        u, _, vt = np.linalg.svd(cov)
        fix = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
        rot = u @ fix @ vt
        misfit = np.linalg.norm(rays_from @ rot.T - rays_to, axis=1)
        weight = 1.0 / (1.0 + (misfit / np.radians(ROTATION_OUTLIER_DEG)) ** 2)
    return rot, misfit


class BackgroundTracker:
    """Feed frames one at a time (`add`), with the person's 2D landmarks; `evidence()` at the end.

    Corners are found once in a key frame and tracked from it into every later frame, so a
    camera that stands still accumulates no drift; a new key frame is taken when too few of
    its points are still tracked (the camera turned away, the person walked over them).
    size: the video's (width, height), the pixels the landmarks are in; intrinsics (3, 3) of the
    video, for the rotations."""

    def __init__(self, size: tuple[int, int], intrinsics: np.ndarray, fps: float) -> None:
        import cv2  # comes with MediaPipe

        self._cv2 = cv2
        self.size = size
        self.scale = FLOW_SIDE / max(size)
        self.inverse_k = np.linalg.inv(intrinsics)
        self.fps = fps
        self._box: np.ndarray | None = None
        self._key: np.ndarray | None = None  # grey key frame
        self._key_points: np.ndarray | None = None  # (M, 1, 2) float32 corners in the key frame
        self._key_strong: np.ndarray | None = None  # (M,) bool: corners strong enough for rotations
        self._key_orientation = np.eye(3)
        self._last: np.ndarray | None = None  # (M, 2) where the key points were in the previous frame
        self.shift: list[float] = []
        self.points: list[int] = []
        self.orientation: list[np.ndarray] = []

    def _grey(self, frame: np.ndarray) -> np.ndarray:
        cv2 = self._cv2
        h, w = frame.shape[:2]
        side = FLOW_SIDE / max(h, w)
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        return cv2.resize(grey, (max(2, round(w * side)), max(2, round(h * side))), interpolation=cv2.INTER_AREA)

    def _mask(self, shape: tuple[int, int]) -> np.ndarray:
        mask = np.full(shape, 255, dtype=np.uint8)
        if self._box is not None:
            x0, y0, x1, y1 = (self._box * self.scale).round().astype(int)
            mask[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = 0
        return mask

    def add(self, frame: np.ndarray, keypoints: np.ndarray | None) -> None:
        """One RGB frame (any scale of the video) and the person's landmarks (K, 2) in video pixels
        (None: not found; the last box found is kept)."""
        grey = self._grey(frame)
        box = person_box(keypoints, self.size)
        self._box = box if box is not None else self._box
        orientation = self.orientation[-1] if self.orientation else np.eye(3)
        shift, count = np.nan, 0
        if self._key is not None and self._key.shape == grey.shape:
            tracked = self._track(grey)
            if tracked is not None:
                good, now = tracked
                count = int(good.sum())
                last_good = good & np.isfinite(self._last).all(axis=1)
                if last_good.sum() >= MIN_POINTS:
                    shift = float(np.linalg.norm(np.median(now[last_good] - self._last[last_good], axis=0))) / FLOW_SIDE
                strong = good & self._key_strong
                if strong.sum() >= MIN_POINTS:
                    turn, _ = rotation_between(self._rays(now[strong]), self._rays(self._key_points[strong, 0]))
                    orientation = self._key_orientation @ turn  # camera axes now -> key -> first frame
                self._last = np.where(good[:, None], now, np.nan)
        self.shift.append(shift)
        self.points.append(count)
        self.orientation.append(orientation)
        if self._key is None or count < max(MIN_POINTS, KEY_KEEP * len(self._key_points)):
            self._new_key(grey, orientation)

    def _new_key(self, grey: np.ndarray, orientation: np.ndarray) -> None:
        corners = self._cv2.goodFeaturesToTrack(grey, MAX_CORNERS, CORNER_QUALITY, CORNER_SPACING,
                                                mask=self._mask(grey.shape))
        if corners is None or len(corners) < MIN_POINTS:
            self._key = None  # try again on the next frame
            return
        strength = self._cv2.cornerMinEigenVal(grey, 3)
        inside = corners[:, 0].round().astype(int)
        self._key_strong = strength[inside[:, 1].clip(0, grey.shape[0] - 1), inside[:, 0].clip(0, grey.shape[1] - 1)] \
            >= STRONG_CORNER
        self._key, self._key_points, self._key_orientation = grey, corners.astype(np.float32), orientation
        self._last = corners[:, 0].astype(np.float64)

    def _track(self, grey: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Key points tracked into `grey`: (good (M,) bool, positions (M, 2)), or None if too few."""
        cv2 = self._cv2
        ahead, ok, _ = cv2.calcOpticalFlowPyrLK(self._key, grey, self._key_points, None, winSize=LK_WINDOW)
        back, ok_back, _ = cv2.calcOpticalFlowPyrLK(grey, self._key, ahead, None, winSize=LK_WINDOW)
        error = np.linalg.norm(back - self._key_points, axis=-1)[:, 0]
        good = (ok[:, 0] == 1) & (ok_back[:, 0] == 1) & (error < BACK_TRACK_PX)
        if good.sum() < MIN_POINTS:
            return None
        return good, ahead[:, 0].astype(np.float64)

    def _rays(self, pixels: np.ndarray) -> np.ndarray:
        """Unit viewing rays (M, 3) of points (M, 2) in the shrunk frame."""
        full = np.concatenate([pixels / self.scale, np.ones((len(pixels), 1))], axis=1)
        rays = full @ self.inverse_k.T
        return rays / np.linalg.norm(rays, axis=1, keepdims=True)

    def evidence(self) -> CameraEvidence:
        """The per-frame evidence."""
        return CameraEvidence(np.array(self.shift), np.array(self.points), np.stack(self.orientation), self.fps)
