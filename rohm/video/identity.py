"""The same person throughout: frames where MediaPipe followed someone else.

MediaPipe's legacy pose tracks one person and, with several in view, can jump to another. A
jump shows in 2D between two detected frames: the hips move further than a person can in
that time, or the body's 2D size (torso plus leg, which depends on distance and stature,
not on the arms) changes at once. The detected frames are cut into segments at such jumps;
each segment joins the earlier person it continues (the same test across the gap), or counts
as a new one. The person seen in most frames is kept; the frames of the others are treated
as missing, so the reconstruction infills them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# A jump, in body sizes (2D torso + leg length): more than MAX_STEP plus MAX_SPEED per second
# of the gap (~4 m/s for a 1.7 m person, running; the dev set's largest step between frames is
# 0.09 body sizes, at 5 fps), or a size change (log) beyond MAX_SCALE plus SCALE_RATE per second.
MAX_STEP = 0.25
MAX_SPEED = 2.5  # body sizes per second
MAX_SCALE = 0.2
SCALE_RATE = 0.5  # per second
_HIPS, _SHOULDERS = (23, 24), (11, 12)
_LEGS = ((23, 25), (25, 27), (24, 26), (26, 28))  # MediaPipe hip-knee, knee-ankle, both sides


@dataclass
class Identity:
    """other (N,) bool: frames judged to show someone else; events: one entry per such segment
    (first and last frame, and why it was cut off)."""

    other: np.ndarray
    events: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"switches": len(self.events), "frames_masked": int(self.other.sum()), "segments": self.events}


def body_size(image: np.ndarray) -> np.ndarray:
    """(N,) 2D torso length plus mean leg length (pixels) from landmarks (N, 33, 2)."""
    hips, shoulders = image[:, list(_HIPS)].mean(axis=1), image[:, list(_SHOULDERS)].mean(axis=1)
    legs = sum(np.linalg.norm(image[:, a] - image[:, b], axis=1) for a, b in _LEGS) / 2
    return np.linalg.norm(shoulders - hips, axis=1) + legs


def jump(hips: np.ndarray, size: np.ndarray, a: int, b: int, fps: float) -> str | None:
    """Why frame b cannot show the person of frame a (None if it can): hips (N, 2), sizes (N,)."""
    seconds = abs(b - a) / fps
    step = float(np.linalg.norm(hips[b] - hips[a]) / size[a])
    if step > MAX_STEP + MAX_SPEED * seconds:
        return f"the hips moved {step:.2f} body sizes in {abs(b - a)} frame(s)"
    change = float(np.log(size[b] / size[a]))
    if abs(change) > MAX_SCALE + SCALE_RATE * seconds:
        return f"the body's 2D size changed by {100 * np.expm1(change):+.0f}% in {abs(b - a)} frame(s)"
    return None


def find_others(image: np.ndarray, detected: np.ndarray, fps: float) -> Identity:
    """Frames of landmarks (N, 33, 2) where someone other than the main person was detected."""
    frames = np.flatnonzero(detected)
    other = np.zeros(len(detected), dtype=bool)
    if len(frames) < 2:
        return Identity(other)
    hips = image[:, list(_HIPS)].mean(axis=1)
    size = np.maximum(body_size(image), 1e-6)
    segments: list[tuple[int, int, str | None]] = []  # first, last frame, why cut
    start, reason = frames[0], None
    for a, b in zip(frames[:-1], frames[1:]):
        why = jump(hips, size, a, b, fps)
        if why is not None:
            segments.append((start, a, reason))
            start, reason = b, why
    segments.append((start, frames[-1], reason))
    people: list[list[int]] = []  # segment indices of each person, in order
    for s, (first, _, _) in enumerate(segments):
        match = next((p for p in people if jump(hips, size, segments[p[-1]][1], first, fps) is None), None)
        if match is None:
            people.append([s])
        else:
            match.append(s)

    def frames_of(person: list[int]) -> int:
        return sum(int(detected[segments[s][0]:segments[s][1] + 1].sum()) for s in person)
    main = max(people, key=frames_of)
    events = []
    for person in people:
        if person is main:
            continue
        for s in person:
            first, last, why = segments[s]
            other[first:last + 1] = detected[first:last + 1]
            events.append({"first_frame": int(first), "last_frame": int(last),
                           "reason": why or "a different person from the first frame on"})
    events.sort(key=lambda e: e["first_frame"])
    return Identity(other, events)
