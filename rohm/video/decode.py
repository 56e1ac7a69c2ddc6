"""Reading videos with imageio-ffmpeg (its own ffmpeg binary; no system ffmpeg needed).

Frames are streamed one at a time from the ffmpeg process, never the whole video in
memory. ffmpeg does the frame selection (`trim`, exact to the frame) and any down-scaling
itself, in its own process, so that work runs beside detection on the other core.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from rohm.errors import RohmError

MIN_SECONDS = 1.0
# imageio-ffmpeg warns whenever frames are read at another size than the source's: that is intended here.
logging.getLogger("imageio_ffmpeg").setLevel(logging.ERROR)


@dataclass(frozen=True)
class VideoInfo:
    """What ffmpeg says about a video: size (width, height) after rotation, fps, duration (s)."""

    path: Path
    size: tuple[int, int]
    fps: float
    duration: float

    @property
    def num_frames(self) -> int:
        """Frames in the whole video, as the container's duration says (exact count after decoding)."""
        return int(round(self.duration * self.fps))


@dataclass(frozen=True)
class Span:
    """The frames [start, stop) of a video that are used."""

    start: int
    stop: int

    def __len__(self) -> int:
        return self.stop - self.start


def probe(path: str | Path) -> VideoInfo:
    """Size, frame rate and duration of a video; a one-line RohmError for anything ffmpeg cannot
    read as a video of at least MIN_SECONDS."""
    path = Path(path)
    if not path.is_file():
        raise RohmError("no such file", path)
    reader = imageio_ffmpeg.read_frames(str(path))
    try:
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration):
        raise RohmError("not a readable video (ffmpeg cannot decode it)", path) from None
    finally:
        reader.close()
    fps, duration = float(meta.get("fps") or 0.0), float(meta.get("duration") or 0.0)
    if not np.isfinite(fps) or fps <= 0 or not np.isfinite(duration) or duration <= 0:
        raise RohmError("not a video (a still image, or no frame rate or duration)", path)
    if duration < MIN_SECONDS:
        raise RohmError(f"the video lasts {duration:.2f} s; at least {MIN_SECONDS:g} s is needed", path)
    width, height = (int(v) for v in meta["size"])
    return VideoInfo(path, (width, height), fps, duration)


def select_span(info: VideoInfo, start: float | None, end: float | None) -> Span:
    """Frames between `start` and `end` seconds (default: the whole video); at least MIN_SECONDS."""
    first = 0 if start is None else int(round(start * info.fps))
    last = info.num_frames if end is None else min(int(round(end * info.fps)), info.num_frames)
    if first < 0 or (end is not None and end <= (start or 0.0)):
        raise RohmError(f"bad time range: --start {start} --end {end} (need 0 <= start < end)")
    if last - first < MIN_SECONDS * info.fps:
        raise RohmError(f"the selected part lasts {(last - first) / info.fps:.2f} s "
                        f"(of {info.duration:.2f} s); at least {MIN_SECONDS:g} s is needed", info.path)
    return Span(first, last)


def scaled_size(size: tuple[int, int], longest: int) -> tuple[int, int]:
    """`size` shrunk (never grown) so its longer side is at most `longest`; even numbers (H.264)."""
    scale = min(1.0, longest / max(size))
    return tuple(max(2, int(round(s * scale / 2)) * 2) for s in size)  # type: ignore[return-value]


def read_frames(info: VideoInfo, span: Span, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """(H, W, 3) uint8 RGB frames of `span`, at `size` (default: the video's), one at a time."""
    w, h = size or info.size
    filters = [f"trim=start_frame={span.start}:end_frame={span.stop}", "setpts=PTS-STARTPTS"]
    if (w, h) != info.size:
        filters.append(f"scale={w}:{h}")
    # -fps_mode passthrough: one output frame per decoded frame (no duplicates or drops).
    reader = imageio_ffmpeg.read_frames(str(info.path), output_params=["-vf", ",".join(filters),
                                                                      "-fps_mode", "passthrough"])
    try:
        next(reader)
        for buffer in reader:
            yield np.frombuffer(buffer, dtype=np.uint8).reshape(h, w, 3)
    except (OSError, RuntimeError) as exc:
        raise RohmError(f"decoding failed ({exc})".splitlines()[0], info.path) from None
    finally:
        reader.close()
