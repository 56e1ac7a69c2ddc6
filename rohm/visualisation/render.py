"""Render one or several motions to an H.264 video, to frames, or to a still strip.

Timing: output frame k shows time k / fps of every motion (nearest source frame),
so motions with different frame rates stay in sync; a motion shorter than the
longest one holds its last frame. Layouts: "overlay" draws all motions in one
view, each in its own colour; "side" gives each motion its own panel, all panels
seen by the same camera in every frame so they can be compared. `size` is the
size of one panel.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from rohm.errors import RohmError
from rohm.io.atomic import atomic_path
from rohm.io.motion_file import Motion
from rohm.skeleton import FOOT_JOINTS, NUM_JOINTS
from rohm.visualisation import draw
from rohm.visualisation.camera import Camera, follow_camera
from rohm.visualisation.mesh import MeshFrames, rasterize, shade

MODES = ("skeleton", "mesh")
LAYOUTS = ("overlay", "side")
MESH_PAD_M = 0.2  # how far a mesh reaches beyond its joints (top of the head, hands)
FLOOR_RADIUS = 2.0  # floor shown around the followed root, in camera distances
X264 = ["-preset", "ultrafast", "-crf", "20"]


@dataclass
class _Track:
    """One motion resampled to the output frames, ready to draw."""

    label: str
    colour: draw.Colour
    shades: list[draw.Colour]  # per joint, see draw.shades
    source: np.ndarray  # (T,) source frame shown at each output frame
    joints: np.ndarray  # (T, 22, 3) NaN where a joint is not drawn
    infilled: np.ndarray  # (T, 22) bool: joint filled in by the model
    contact: np.ndarray  # (T, 22) bool: foot joint in contact
    mesh: MeshFrames | None


def _track(motion: Motion, label: str, colour: draw.Colour, fps: float, frames: int, mesh: bool) -> _Track:
    source = np.minimum(np.round(np.arange(frames) * motion.fps / fps).astype(int), motion.num_frames - 1)
    observed = motion.observed()
    joints = np.where(observed[..., None], motion.joints, np.nan)[source]
    input_mask = motion.input_joint_mask
    infilled = np.zeros((frames, NUM_JOINTS), dtype=bool)
    if input_mask is not None:
        infilled = ~np.asarray(input_mask, dtype=bool)[source] & observed[source]
    contact = np.zeros((frames, NUM_JOINTS), dtype=bool)
    if motion.contacts is not None:
        contact[:, list(FOOT_JOINTS)] = np.asarray(motion.contacts)[source] > 0.5
    return _Track(label, colour, draw.shades(colour), source, joints, infilled, contact,
                  MeshFrames(motion, label) if mesh else None)


def _check(motions: Sequence[Motion], labels: Sequence[str], layout: str, mode: str,
           size: tuple[int, int]) -> None:
    if not motions:
        raise RohmError("no motions to render")
    if mode not in MODES:
        raise RohmError(f"unknown render mode '{mode}' (expected one of {', '.join(MODES)})")
    if layout not in LAYOUTS:
        raise RohmError(f"unknown layout '{layout}' (expected one of {', '.join(LAYOUTS)})")
    if len(labels) != len(motions):
        raise RohmError(f"{len(labels)} labels for {len(motions)} motions")
    w, h = size
    if w < 64 or h < 64 or w % 2 or h % 2:
        raise RohmError(f"panel size must be even and at least 64x64 (H.264 yuv420p), got {w}x{h}")
    for motion, label in zip(motions, labels):
        if motion.joints.ndim != 3 or motion.joints.shape[1:] != (NUM_JOINTS, 3):
            raise RohmError(f"joints have shape {motion.joints.shape}, expected (N,{NUM_JOINTS},3)", label)
        if motion.num_frames == 0:
            raise RohmError("motion has no frames", label)
        if np.isinf(motion.joints).any():
            raise RohmError("joints contain infinite values", label)
        if not np.isfinite(motion.fps) or motion.fps <= 0:
            raise RohmError(f"fps must be a positive number, got {motion.fps}", label)
        if not motion.observed().any():
            raise RohmError("every joint of every frame is missing (all NaN or masked)", label)


class Scene:
    """Motions, camera and static overlays, set up once; `frame(k)` draws output frame k."""

    def __init__(self, motions: Sequence[Motion], labels: Sequence[str] | None = None, layout: str = "overlay",
                 mode: str = "skeleton", fps: float | None = None, size: tuple[int, int] = (960, 540)) -> None:
        labels = [f"motion {i + 1}" for i in range(len(motions))] if labels is None else list(labels)
        _check(motions, labels, layout, mode, size)
        self.fps = float(motions[0].fps if fps is None else fps)
        if not np.isfinite(self.fps) or self.fps <= 0:
            raise RohmError(f"fps must be a positive number, got {fps}")
        self.num_frames = max(max(1, round(m.num_frames * self.fps / m.fps)) for m in motions)
        self.mode, self.size = mode, size
        self.tracks = [_track(m, label, draw.PALETTE[i % len(draw.PALETTE)], self.fps, self.num_frames,
                              mode == "mesh") for i, (m, label) in enumerate(zip(motions, labels))]
        self.panels = [list(range(len(motions)))] if layout == "overlay" else [[i] for i in range(len(motions))]
        pad = MESH_PAD_M if mode == "mesh" else draw.JOINT_M
        self.camera: Camera = follow_camera([t.joints for t in self.tracks], self.fps, size, pad)
        frames = np.arange(self.num_frames)
        # Per track: joints (uv, depth) and their shadows on the floor (uv, depth), all frames.
        self._projected = [(*self.camera.project(t.joints, frames),
                            *self.camera.project(t.joints * (1.0, 0.0, 1.0), frames)) for t in self.tracks]
        rot = self.camera.rotation
        light = -rot[2] - 1.5 * rot[1] - 1.0 * rot[0]  # from above, left of the camera
        self._light = light / np.linalg.norm(light)
        self._floor_radius = FLOOR_RADIUS * float(np.linalg.norm(self.camera.positions[0] - self.camera.targets[0]))
        self._backdrop = draw.background(self.camera.floor_distance(), self._floor_radius)
        self._text_size = max(size[1] // 30, 10)
        self._font = draw.font(self._text_size)
        self._legends = [self._legend(panel) for panel in self.panels]

    @property
    def frame_size(self) -> tuple[int, int]:
        """(width, height) of a whole output frame."""
        return self.size[0] * len(self.panels), self.size[1]

    def _legend(self, panel: list[int]) -> Image.Image:
        tracks = [self.tracks[i] for i in panel]
        entries = [("swatch", t.label, t.colour) for t in tracks]
        if any(t.infilled.any() for t in tracks):
            entries.append(("ring", "infilled by the model (not in input)", draw.INFILLED))
        if any(t.contact.any() for t in tracks):
            entries.append(("dot", "foot contact", draw.CONTACT))
        return draw.legend(entries, self._text_size)

    def _floor(self, k: int) -> Image.Image:
        image = self._backdrop.copy()
        corners, colours = draw.floor_tiles(self.camera.targets[k, [0, 2]], self._floor_radius)
        quads, _ = self.camera.project(corners[None], np.array([k]))
        draw.draw_floor(ImageDraw.Draw(image), quads[0], colours, self.size)
        return image

    def _panel(self, k: int, image: Image.Image, idx: list[int]) -> Image.Image:
        """Draw motions `idx` of frame k onto `image` (the floor)."""
        tracks = [self.tracks[i] for i in idx]
        projected = [self._projected[i] for i in idx]
        draw.draw_shadows(image, [p[2][k] for p in projected], [p[3][k] for p in projected], self.camera.focal)
        if self.mode == "mesh":
            image = self._meshes(k, image, tracks)
        poses = [draw.Pose2D(p[0][k], p[1][k], t.shades, t.infilled[k], t.contact[k])
                 for p, t in zip(projected, tracks)]
        draw.draw_skeletons(ImageDraw.Draw(image), poses, self.camera.focal, bones=self.mode == "skeleton")
        return image

    def _meshes(self, k: int, image: Image.Image, tracks: list[_Track]) -> Image.Image:
        eye = self.camera.positions[k]
        tri_uv, tri_depth, colours = [], [], []
        for t in tracks:
            verts = t.mesh(int(t.source[k]))
            front, lit = shade(verts, t.mesh.faces, t.colour, eye, self._light)
            uv, depth = self.camera.project(verts[None], np.array([k]))
            faces = t.mesh.faces[front]
            tri_uv.append(uv[0][faces])
            tri_depth.append(depth[0][faces])
            colours.append(lit)
        pixels = np.array(image)
        rasterize(pixels, np.concatenate(tri_uv), np.concatenate(tri_depth), np.concatenate(colours))
        return Image.fromarray(pixels)

    def frame(self, k: int) -> Image.Image:
        """Output frame k (0-based) as an RGB image of `frame_size`."""
        if not 0 <= k < self.num_frames:
            raise RohmError(f"frame {k} is out of range (the video has {self.num_frames} frames)")
        floor = self._floor(k)
        shared = len(self.panels) > 1
        panels = [self._panel(k, floor.copy() if shared else floor, idx) for idx in self.panels]
        out = panels[0] if len(panels) == 1 else Image.new("RGB", self.frame_size)
        for p, (panel, legend) in enumerate(zip(panels, self._legends)):
            if len(panels) > 1:
                out.paste(panel, (p * self.size[0], 0))
            out.paste(legend, ((p + 1) * self.size[0] - legend.width - 8, 8), legend)
        pen = ImageDraw.Draw(out)
        for p in range(1, len(panels)):  # a thin line between panels
            pen.line([(p * self.size[0], 0), (p * self.size[0], self.size[1])], fill=draw.OUTLINE, width=2)
        text = f"{k / self.fps:7.2f} s   frame {k + 1}/{self.num_frames}"
        pen.text((10, 8), text, font=self._font, fill=draw.TEXT)
        return out


def render_frames(motions: Sequence[Motion], labels: Sequence[str] | None = None, layout: str = "overlay",
                  mode: str = "skeleton", fps: float | None = None, size: tuple[int, int] = (960, 540),
                  frames: Sequence[int] | None = None) -> Iterator[np.ndarray]:
    """Output frames as (H, W, 3) uint8 RGB arrays (all of them, or the given indices), drawn
    one at a time as they are consumed; bad arguments raise here, before the first frame."""
    scene = Scene(motions, labels, layout, mode, fps, size)
    return (np.asarray(scene.frame(int(k))) for k in (range(scene.num_frames) if frames is None else frames))


def render_video(motions: Sequence[Motion], out: str | Path, labels: Sequence[str] | None = None,
                 layout: str = "overlay", mode: str = "skeleton", fps: float | None = None,
                 size: tuple[int, int] = (960, 540), progress: bool = True) -> Path:
    """Write an H.264 .mp4 (yuv420p) of the motions; frames are streamed to ffmpeg, and the file
    appears under its name only when complete. Returns the output path."""
    out = Path(out)
    if out.suffix.lower() != ".mp4":
        raise RohmError("the video file name must end in .mp4", out)
    scene = Scene(motions, labels, layout, mode, fps, size)
    with atomic_path(out) as tmp:
        writer = imageio_ffmpeg.write_frames(str(tmp), scene.frame_size, fps=scene.fps, codec="libx264",
                                             pix_fmt_out="yuv420p", quality=None, macro_block_size=2,
                                             ffmpeg_log_level="error", output_params=X264)
        writer.send(None)
        try:
            for k in tqdm(range(scene.num_frames), desc=out.name, unit="frame", disable=not progress):
                writer.send(scene.frame(k).tobytes())
        finally:
            writer.close()
    return out


def render_still(motions: Sequence[Motion], out: str | Path, frames: Sequence[int] | None = None,
                 labels: Sequence[str] | None = None, layout: str = "overlay", mode: str = "skeleton",
                 fps: float | None = None, size: tuple[int, int] = (640, 360)) -> Path:
    """Write a PNG strip of a few output frames (default: 4 spread over the motion) for a quick look:
    side by side for the overlay layout, one row per frame for the side layout."""
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise RohmError("the still file name must end in .png", out)
    scene = Scene(motions, labels, layout, mode, fps, size)
    if frames is None:
        frames = np.unique(np.linspace(0, scene.num_frames - 1, 4).round().astype(int)).tolist()
    if not len(frames):
        raise RohmError("no frames asked for", out)
    images = [scene.frame(int(k)) for k in frames]
    w, h = scene.frame_size
    across = layout == "overlay"
    strip = Image.new("RGB", (w * len(images), h) if across else (w, h * len(images)))
    for i, image in enumerate(images):
        strip.paste(image, (i * w, 0) if across else (0, i * h))
    with atomic_path(out) as tmp:
        strip.save(tmp, format="PNG")
    return out
