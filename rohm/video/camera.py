"""The camera: intrinsics (from a field of view or a file) and the body's per-frame translation.

MediaPipe's world landmarks are metric and hip-centred, in axes like the camera's (x right,
y down, z forward) but with no translation. The translation t of a frame is what makes the
pinhole projection of W + t land on the 2D landmarks; u = fx (X + tx) / (Z + tz) + cx is linear
in t once multiplied out, so t is a small weighted linear least-squares problem per frame,
refined twice by dividing each row by its depth (so residuals are in pixels, not pixels x depth).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rohm.errors import RohmError

# Unknown cameras: 60 degrees across the longer side, about a phone's main camera filming
# video (a 26-28 mm equivalent lens gives 65-70 degrees across 16:9 video); a portrait video
# is the same lens turned, so its width sees less.
DEFAULT_FOV_DEG = 60.0
CAMERA_MODES = ("auto", "static", "moving")  # see rohm.video.ground
REFINE_STEPS = 2
MIN_POINTS = 3  # landmarks with weight > 0 needed to place a frame


def intrinsics_from_fov(fov_deg: float, size: tuple[int, int]) -> np.ndarray:
    """(3, 3) pinhole intrinsics with the horizontal field of view `fov_deg`, square pixels and
    the principal point at the image centre; size = (width, height)."""
    if not 1.0 <= fov_deg <= 179.0:
        raise RohmError(f"--fov must be between 1 and 179 degrees, got {fov_deg:g}")
    w, h = size
    focal = 0.5 * w / np.tan(np.radians(fov_deg) / 2)
    return np.array([[focal, 0.0, w / 2], [0.0, focal, h / 2], [0.0, 0.0, 1.0]])


def default_fov_deg(size: tuple[int, int]) -> float:
    """Horizontal field of view (degrees) of an unknown camera: DEFAULT_FOV_DEG across the longer
    side of size = (width, height)."""
    w, h = size
    return float(np.degrees(2 * np.arctan(np.tan(np.radians(DEFAULT_FOV_DEG) / 2) * w / max(w, h))))


def load_intrinsics(path: str | Path) -> np.ndarray:
    """(3, 3) intrinsics from a JSON file: a 3x3 matrix, or {"fx", "fy", "cx", "cy"}, or
    {"K": 3x3} (OpenCV calibration dumps), in pixels of the video."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RohmError(f"not a readable JSON intrinsics file ({type(exc).__name__})", path) from None
    if isinstance(data, dict) and {"fx", "fy", "cx", "cy"} <= data.keys():
        data = [[data["fx"], 0, data["cx"]], [0, data["fy"], data["cy"]], [0, 0, 1]]
    elif isinstance(data, dict) and "K" in data:
        data = data["K"]
    try:
        k = np.asarray(data, dtype=np.float64)
    except (ValueError, TypeError):
        k = np.zeros(0)
    if k.shape != (3, 3) or not np.isfinite(k).all() or k[0, 0] <= 0 or k[1, 1] <= 0:
        raise RohmError('expected a 3x3 intrinsics matrix, {"K": 3x3} or {"fx", "fy", "cx", "cy"} '
                        "with positive focal lengths", path)
    return k


def solve_translation(world: np.ndarray, pixels: np.ndarray, weights: np.ndarray,
                      intrinsics: np.ndarray) -> np.ndarray:
    """Per-frame translation (N, 3) putting root-relative points world (N, K, 3) in front of the
    camera so they project onto pixels (N, K, 2), weighted (N, K). NaN for frames with fewer than
    MIN_POINTS usable points."""
    fx, fy, cx, cy = intrinsics[0, 0], intrinsics[1, 1], intrinsics[0, 2], intrinsics[1, 2]
    ok = np.isfinite(world).all(-1) & np.isfinite(pixels).all(-1) & (weights > 0)
    w = np.where(ok, weights, 0.0)
    x, y, z = np.moveaxis(np.where(ok[..., None], world, 0.0), -1, 0)
    u = np.where(ok, pixels[..., 0], cx) - cx
    v = np.where(ok, pixels[..., 1], cy) - cy
    n, k = w.shape
    # Rows: fx tx - u tz = u z - fx x  and  fy ty - v tz = v z - fy y.
    a = np.zeros((n, 2 * k, 3))
    a[:, :k, 0], a[:, :k, 2], a[:, k:, 1], a[:, k:, 2] = fx, -u, fy, -v
    b = np.concatenate([u * z - fx * x, v * z - fy * y], axis=1)
    trans = np.full((n, 3), np.nan)
    good = ok.sum(axis=1) >= MIN_POINTS
    scale = np.ones((n, k))
    for _ in range(REFINE_STEPS + 1):
        sw = np.concatenate([np.sqrt(w) / scale] * 2, axis=1)[..., None]
        lhs = np.einsum("nki,nkj->nij", a * sw, a * sw)
        rhs = np.einsum("nki,nk->ni", a * sw, b * sw[..., 0])
        lhs[~good] = np.eye(3)
        trans[good] = np.linalg.solve(lhs[good], rhs[good][..., None])[..., 0]
        scale = np.clip(np.where(good[:, None], z + trans[:, 2:3], 1.0), 0.1, None)
    trans[~good] = np.nan
    return trans
