"""overlay.mp4: the input video with the reconstruction projected on it (rohm's skeleton colours,
rings on infilled joints, white dots on feet in contact) and MediaPipe's raw per-frame detections
in orange (hollow where their confidence is low), so the two can be judged against the image."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from rohm.io.atomic import atomic_path
from rohm.io.motion_file import Motion
from rohm.skeleton import FOOT_JOINTS, NUM_JOINTS, PARENTS
from rohm.video.decode import Span, VideoInfo, read_frames, scaled_size
from rohm.video.landmarks import VISIBLE
from rohm.visualisation import draw
from rohm.visualisation.render import X264

MAX_SIDE = 1920  # overlay frames are at most this long (bigger videos are scaled down)
RAW: draw.Colour = (255, 140, 0)
RECONSTRUCTION: draw.Colour = draw.PALETTE[0]
_BONES = [(p, j) for j, p in enumerate(PARENTS) if p >= 0]


@dataclass
class OverlayData:
    """What is drawn on each video frame: the reconstruction (world joints, per-frame camera) and
    the detections (video pixels, confidence; NaN rows where nothing was detected)."""

    motion: Motion
    extrinsics: np.ndarray  # (N, 4, 4) world -> camera
    intrinsics: np.ndarray  # (3, 3), video pixels
    keypoints: np.ndarray  # (N, 22, 2)
    confidence: np.ndarray  # (N, 22)
    detected: np.ndarray  # (N,) bool


def project(joints: np.ndarray, extrinsics: np.ndarray, intrinsics: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World joints (N, J, 3) seen by per-frame cameras (N, 4, 4) -> pixels (N, J, 2), depth (N, J);
    pixels are NaN behind the camera."""
    cam = np.einsum("nij,nkj->nki", extrinsics[:, :3, :3], joints) + extrinsics[:, None, :3, 3]
    depth = cam[..., 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        uv = cam[..., :2] / depth[..., None] @ intrinsics[:2, :2].T + intrinsics[:2, 2]
    uv[~(depth > 0.05)] = np.nan
    return uv, depth


class Overlay:
    """Draws overlay frames; `frame(k, image)` returns frame k with everything drawn on it."""

    def __init__(self, data: OverlayData, size: tuple[int, int], video_size: tuple[int, int]) -> None:
        self.data, self.size = data, size
        self.scale = size[0] / video_size[0]
        self.uv, self.depth = project(data.motion.joints, data.extrinsics, data.intrinsics)
        self.uv *= self.scale
        self.focal = float(data.intrinsics[0, 0]) * self.scale
        motion = data.motion
        n = motion.num_frames
        self.contact = np.zeros((n, NUM_JOINTS), dtype=bool)
        if motion.contacts is not None:
            self.contact[:, list(FOOT_JOINTS)] = np.asarray(motion.contacts) > 0.5
        mask = motion.input_joint_mask
        self.infilled = np.zeros((n, NUM_JOINTS), dtype=bool) if mask is None else ~np.asarray(mask, dtype=bool)
        self.shades = draw.shades(RECONSTRUCTION)
        self.text_size = max(size[1] // 36, 12)
        self.font = draw.font(self.text_size)
        entries = [("swatch", "rohm reconstruction", RECONSTRUCTION), ("dot", "MediaPipe detection", RAW)]
        if self.infilled.any():
            entries.append(("ring", "infilled by the model", draw.INFILLED))
        if self.contact.any():
            entries.append(("dot", "foot contact", draw.CONTACT))
        self.legend = draw.legend(entries, self.text_size)

    def _raw(self, pen: ImageDraw.ImageDraw, k: int) -> None:
        points = self.data.keypoints[k] * self.scale
        seen = np.isfinite(points).all(axis=1)
        width = max(int(round(self.size[1] / 300)), 2)
        for a, b in _BONES:
            if seen[a] and seen[b]:
                pen.line([tuple(points[a]), tuple(points[b])], fill=RAW, width=width)
        r = 2.5 * width
        for j in np.flatnonzero(seen):
            x, y = points[j]
            box = [x - r, y - r, x + r, y + r]
            if self.data.confidence[k, j] >= VISIBLE:
                pen.ellipse(box, fill=RAW, outline=draw.OUTLINE)
            else:
                pen.ellipse(box, outline=RAW, width=width)

    def frame(self, k: int, image: np.ndarray) -> Image.Image:
        """Video frame k (an (H, W, 3) array at the overlay size) with the overlay drawn on it."""
        out = Image.fromarray(image)
        pen = ImageDraw.Draw(out)
        pose = draw.Pose2D(self.uv[k], self.depth[k], self.shades, self.infilled[k], self.contact[k])
        draw.draw_skeletons(pen, [pose], self.focal)
        self._raw(pen, k)
        n = self.data.motion.num_frames
        label = f"frame {k + 1}/{n}" + ("" if self.data.detected[k] else "   no detection: infilled")
        pen.rectangle([0, 0, int(self.font.getlength(label)) + 20, self.text_size + 16], fill=(15, 16, 20))
        pen.text((10, 8), label, font=self.font, fill=draw.TEXT)
        out.paste(self.legend, (self.size[0] - self.legend.width - 8, 8), self.legend)
        return out


def write_overlay(info: VideoInfo, span: Span, data: OverlayData, out: str | Path, progress: bool = True) -> Path:
    """Decode the video again (streamed), draw the overlay on every frame, encode H.264."""
    out = Path(out)
    size = scaled_size(info.size, MAX_SIDE)
    overlay = Overlay(data, size, info.size)
    with atomic_path(out) as tmp:
        writer = imageio_ffmpeg.write_frames(str(tmp), size, fps=info.fps, codec="libx264", pix_fmt_out="yuv420p",
                                             quality=None, macro_block_size=2, ffmpeg_log_level="error",
                                             output_params=X264)
        writer.send(None)
        try:
            frames = read_frames(info, span, size)
            for k, image in enumerate(tqdm(frames, total=len(span), desc="overlay", unit="frame", disable=not progress)):
                if k >= data.motion.num_frames:
                    break
                writer.send(overlay.frame(k, image).tobytes())
        finally:
            writer.close()
    return out
