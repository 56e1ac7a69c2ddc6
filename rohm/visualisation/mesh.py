"""Mesh mode: the body model skinned from a motion's parameters, drawn with a numpy z-buffer.

Triangles are flat shaded (Lambert, one light from above the camera), back faces
are culled, and every pixel centre takes the nearest triangle covering it, all
vectorised over triangles and pixels.
"""

from __future__ import annotations

import numpy as np
import torch

from rohm.body import load_body
from rohm.errors import RohmError
from rohm.io.motion_file import Motion

CHUNK = 32  # frames skinned per body-model call
AMBIENT = 0.3


class MeshFrames:
    """Posed vertices of one motion, skinned CHUNK frames at a time as frames are asked for."""

    def __init__(self, motion: Motion, label: str) -> None:
        if not motion.has_params:
            raise RohmError(f"mesh mode needs body parameters (trans, root_orient, pose_body); '{label}' has joints only")
        self.motion = motion
        self.body = load_body(motion.body_model)
        n = self.body.num_betas
        betas = self.body.default_betas.numpy() if motion.betas is None else np.asarray(motion.betas, dtype=float)[:n]
        self.betas = torch.as_tensor(betas, dtype=torch.float64)
        self.faces = self.body.faces.numpy()
        self._chunk = -1
        self._verts = np.empty((0, 0, 3))

    def __call__(self, frame: int) -> np.ndarray:
        """(V, 3) world vertices of one source frame."""
        chunk = frame // CHUNK
        if chunk != self._chunk:
            sl = slice(chunk * CHUNK, (chunk + 1) * CHUNK)
            m = self.motion
            with torch.no_grad():
                verts = self.body.vertices(self.betas, *(torch.as_tensor(x[sl], dtype=torch.float64)
                                                         for x in (m.root_orient, m.pose_body, m.trans)))
            self._chunk, self._verts = chunk, verts.numpy()
        return self._verts[frame - chunk * CHUNK]


def shade(verts: np.ndarray, faces: np.ndarray, colour: tuple[int, int, int], eye: np.ndarray,
          light: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Front-facing triangles (seen from `eye`) and their flat Lambert colours (F', 3) uint8."""
    tri = verts[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    front = np.einsum("fd,fd->f", normal, tri[:, 0] - eye) < 0
    normal = normal[front]
    normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-12
    lit = AMBIENT + (1 - AMBIENT) * np.clip(normal @ light, 0.0, 1.0)
    albedo = 0.75 * np.asarray(colour, dtype=float) + 0.25 * 255  # a paler tint of the motion colour
    return front, (lit[:, None] * albedo).astype(np.uint8)


def rasterize(image: np.ndarray, tri_uv: np.ndarray, tri_depth: np.ndarray, colours: np.ndarray) -> None:
    """Z-buffer triangles into an (H, W, 3) uint8 image in place.

    tri_uv (F, 3, 2) pixels, tri_depth (F, 3), colours (F, 3). A pixel is covered
    when its centre lies in the triangle; the nearest covering triangle wins.
    """
    h, w = image.shape[:2]
    ok = np.isfinite(tri_uv).all(axis=(1, 2))
    x, y, z, colours = tri_uv[ok, :, 0], tri_uv[ok, :, 1], tri_depth[ok], colours[ok]
    x0, x1, x2, y0, y1, y2 = x[:, 0], x[:, 1], x[:, 2], y[:, 0], y[:, 1], y[:, 2]
    lo_x = np.maximum(np.ceil(np.minimum(np.minimum(x0, x1), x2) - 0.5), 0).astype(np.int64)
    hi_x = np.minimum(np.floor(np.maximum(np.maximum(x0, x1), x2) - 0.5), w - 1).astype(np.int64)
    lo_y = np.maximum(np.ceil(np.minimum(np.minimum(y0, y1), y2) - 0.5), 0).astype(np.int64)
    hi_y = np.minimum(np.floor(np.maximum(np.maximum(y0, y1), y2) - 0.5), h - 1).astype(np.int64)
    area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
    ext_x, ext_y = hi_x - lo_x + 1, hi_y - lo_y + 1
    idx = np.flatnonzero((ext_x > 0) & (ext_y > 0) & (np.abs(area) > 1e-9))
    counts = ext_x[idx] * ext_y[idx]
    if not counts.sum():
        return
    # Barycentric weights and depth as planes over the screen, per triangle: value =
    # a * col + b * row + c, with (col, row) counted from the triangle's first bbox pixel
    # (small numbers, so float32 is exact enough).
    weight = np.empty((3, 3, len(x)))  # (a b c, w0 w1 w2, triangle)
    for i, (j, k) in enumerate(((1, 2), (2, 0), (0, 1))):
        dx, dy = x[:, k] - x[:, j], y[:, k] - y[:, j]
        weight[:, i] = np.stack([-dy, dx, dy * (x[:, j] - lo_x - 0.5) - dx * (y[:, j] - lo_y - 0.5)]) / area
    depth_plane = z[:, 0] * weight[:, 0] + z[:, 1] * weight[:, 1] + z[:, 2] * weight[:, 2]
    weight, depth_plane = weight.astype(np.float32), depth_plane.astype(np.float32)
    tri = np.repeat(idx, counts)
    local = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    row, col = np.divmod(local, ext_x[tri])
    row, col = row.astype(np.float32), col.astype(np.float32)
    a, b, c = weight.reshape(9, -1).take(tri, axis=1).reshape(3, 3, -1)
    weights = a * col + b * row + c
    inside = (weights[0] >= -1e-5) & (weights[1] >= -1e-5) & (weights[2] >= -1e-5)
    tri, col, row = tri[inside], col[inside], row[inside]
    pix = (lo_y[tri] + row.astype(np.int64)) * w + lo_x[tri] + col.astype(np.int64)
    a, b, c = depth_plane.take(tri, axis=1)
    depth = a * col + b * row + c
    # Nearest first within each pixel: one sort on pixel + depth scaled into [0, 0.5).
    span = depth.max() - depth.min() + 1e-9
    order = np.argsort(pix + 0.5 * (depth - depth.min()) / span)
    pix, tri = pix[order], tri[order]
    first = np.ones(len(pix), dtype=bool)
    first[1:] = pix[1:] != pix[:-1]
    image.reshape(-1, 3)[pix[first]] = colours[tri[first]]
