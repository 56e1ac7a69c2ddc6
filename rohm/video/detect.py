"""Per-frame 2D + 3D body landmarks with MediaPipe's legacy pose solution (the `video` extra).

`mediapipe.solutions.pose` with model_complexity=1 is the only MediaPipe pose model that runs
offline: its weights ship in the wheel (complexity 0 and 2 download theirs; MediaPipe >= 0.10.30
dropped this API). In video mode it tracks the person from frame to frame, which is faster and
steadier than detecting every frame. It sees one person.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

from rohm.errors import RohmError
from rohm.video.landmarks import NUM_LANDMARKS

INSTALL_HINT = 'pip install "rohm[video]"'
MIN_DETECTION_CONFIDENCE = 0.5
MIN_TRACKING_CONFIDENCE = 0.5
_LIBC = ctypes.CDLL(None)


@dataclass
class Detections:
    """Landmarks of N frames, NaN (visibility 0) where no person was found.

    image (N, 33, 2): pixels; visibility (N, 33) in [0, 1]; world (N, 33, 3): metres, origin at the
    hip midpoint, camera axes (x right, y down, z forward), no translation."""

    image: np.ndarray
    visibility: np.ndarray
    world: np.ndarray

    @property
    def detected(self) -> np.ndarray:
        """(N,) bool: frames where a person was found."""
        return np.isfinite(self.world).all(axis=(1, 2))

    def without(self, frames: np.ndarray) -> Detections:
        """A copy with the frames (N,) bool treated as having no detection."""
        image, visibility, world = self.image.copy(), self.visibility.copy(), self.world.copy()
        image[frames], visibility[frames], world[frames] = np.nan, 0.0, np.nan
        return Detections(image, visibility, world)


def _pose_module() -> Any:
    """`mediapipe.solutions.pose`, or a RohmError saying which extra to install."""
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ start-up chatter
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)
    try:
        from mediapipe.python.solutions import pose
    except ImportError as exc:
        if "libGL" in str(exc):
            raise RohmError("MediaPipe needs the system library libGL.so.1: install it "
                            "(Debian/Ubuntu: apt-get install libgl1)") from None
        raise RohmError(f"the video front end needs MediaPipe: {INSTALL_HINT}") from None
    return pose


def check_available() -> None:
    """Fail early, before any work, when MediaPipe is missing."""
    _pose_module()


@contextlib.contextmanager
def native_output_silenced() -> Iterator[TextIO]:
    """Send file descriptors 1 and 2 to /dev/null while MediaPipe runs (its C++ and TFLite logs
    bypass Python, from background threads, at unpredictable moments); yields a stream on the
    real stderr for progress bars."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    console = os.fdopen(os.dup(saved[1]), "w", buffering=1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
        yield console
    finally:
        _LIBC.fflush(None)  # what C stdio buffered while silenced must not come out later
        console.close()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


class PoseDetector:
    """MediaPipe pose in video mode; `detect(frame)` gives one frame's landmarks or None."""

    def __init__(self, size: tuple[int, int]) -> None:
        pose = _pose_module()
        self.size = size
        self._pose = pose.Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=True,
                               min_detection_confidence=MIN_DETECTION_CONFIDENCE,
                               min_tracking_confidence=MIN_TRACKING_CONFIDENCE)

    def __enter__(self) -> PoseDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pose.close()

    def detect(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """One RGB frame -> (image (33, 2) pixels of the video size, visibility (33,), world (33, 3)),
        or None when nobody is found. The frame may be a scaled copy: pixels are in `size`."""
        result = self._pose.process(frame)
        if result.pose_landmarks is None or result.pose_world_landmarks is None:
            return None
        img = np.array([(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark])
        world = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark])
        return img[:, :2] * self.size, np.clip(img[:, 2], 0.0, 1.0), world


def stack(results: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None]) -> Detections:
    """Per-frame `detect` results -> Detections (NaN where None)."""
    n = len(results)
    image, world = np.full((n, NUM_LANDMARKS, 2), np.nan), np.full((n, NUM_LANDMARKS, 3), np.nan)
    visibility = np.zeros((n, NUM_LANDMARKS))
    for i, r in enumerate(results):
        if r is not None:
            image[i], visibility[i], world[i] = r
    return Detections(image, visibility, world)
