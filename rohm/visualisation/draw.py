"""2D drawing with PIL: floor, shadows, skeletons, markers and text.

Everything here works on one panel of one frame, with points already projected
by the camera (pixels, NaN = not drawn, and depth in metres). Sizes are given in
metres and scaled by focal / depth, so nearer parts are drawn bigger.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from rohm.skeleton import JOINT_NAMES, PARENTS

Colour = tuple[int, int, int]

PALETTE: tuple[Colour, ...] = ((52, 120, 246), (235, 72, 60), (40, 180, 90), (170, 80, 220), (20, 170, 190))
INFILLED: Colour = (255, 196, 0)  # ring around joints the model filled in
CONTACT: Colour = (255, 255, 255)  # dot on feet in contact with the ground
OUTLINE: Colour = (20, 20, 24)
TEXT: Colour = (245, 245, 245)
FOG: Colour = (62, 66, 76)  # floor colour far away, and the background
TILES: tuple[Colour, Colour] = ((98, 103, 115), (132, 138, 152))
SKY_TOP: Colour = (30, 33, 40)

TILE_M = 0.5  # checker size
BONE_M = 0.045  # bone thickness
JOINT_M = 0.07  # joint dot diameter
SHADOW_M = 0.11  # shadow stroke width
SHADOW_ALPHA = 110  # 0..255

_SIDE = np.array([1 if n.startswith("left_") else -1 if n.startswith("right_") else 0 for n in JOINT_NAMES])
_BONES = np.array([(p, j) for j, p in enumerate(PARENTS) if p >= 0])  # (21, 2) parent, child


def shades(colour: Colour) -> list[Colour]:
    """Per-joint colours of a motion: left side lighter, right side darker than the centre."""
    base = np.asarray(colour, dtype=float)
    light = base + 0.45 * (255 - base)
    dark = 0.62 * base
    return [tuple(int(c) for c in (light if s > 0 else dark if s < 0 else base)) for s in _SIDE]


def fade(distance: np.ndarray, radius: float) -> np.ndarray:
    """Floor opacity: 1 near the followed root, smoothly down to 0 (fog) at `radius`."""
    x = np.clip(distance / radius, 0.0, 1.0)
    return 1.0 - x * x * (3 - 2 * x)


def background(floor_distance: np.ndarray, radius: float) -> Image.Image:
    """The static backdrop: a dark gradient where no floor is seen, and the floor in the dark
    tile colour fading into the fog. `floor_distance` (H, W) is `Camera.floor_distance()`."""
    h = floor_distance.shape[0]
    horizon = max(int(np.isinf(floor_distance).any(axis=1).sum()), 1)
    t = np.clip(np.arange(h) / horizon, 0.0, 1.0)[:, None, None]
    sky = (1 - t) * np.asarray(SKY_TOP) + t * np.asarray(FOG)
    alpha = fade(np.where(np.isinf(floor_distance), radius, floor_distance), radius)[..., None]
    floor = np.asarray(FOG) + alpha * (np.asarray(TILES[0]) - np.asarray(FOG))
    image = np.where(np.isinf(floor_distance)[..., None], sky, floor)
    return Image.fromarray(image.round().astype(np.uint8))


def floor_tiles(centre: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """The light checker tiles around `centre` (x, z) that are not faded out: corners (n, 4, 3)
    on y = 0 and colours (n, 3) uint8 (the dark ones are in the backdrop)."""
    lo = np.floor((centre - radius) / TILE_M).astype(int)
    n = int(np.ceil(2 * radius / TILE_M)) + 1
    ix, iz = np.meshgrid(lo[0] + np.arange(n), lo[1] + np.arange(n), indexing="ij")
    ix, iz = ix.ravel(), iz.ravel()
    alpha = fade(np.hypot((ix + 0.5) * TILE_M - centre[0], (iz + 0.5) * TILE_M - centre[1]), radius)
    keep = ((ix + iz) % 2 == 1) & (alpha > 0.02)
    ix, iz, alpha = ix[keep], iz[keep], alpha[keep]
    x = np.stack([ix, ix + 1, ix + 1, ix], axis=1) * TILE_M
    z = np.stack([iz, iz, iz + 1, iz + 1], axis=1) * TILE_M
    corners = np.stack([x, np.zeros_like(x), z], axis=-1)
    colours = np.asarray(FOG) + alpha[:, None] * (np.asarray(TILES[1]) - np.asarray(FOG))
    return corners, colours.round().astype(np.uint8)


def draw_floor(draw: ImageDraw.ImageDraw, quads: np.ndarray, colours: np.ndarray, size: tuple[int, int]) -> None:
    """Fill projected tiles: quads (n, 4, 2) pixels (NaN behind the camera), colours (n, 3)."""
    ok = np.isfinite(quads).all(axis=(1, 2))
    lo, hi = quads.min(axis=1), quads.max(axis=1)
    ok &= (hi[:, 0] >= 0) & (lo[:, 0] < size[0]) & (hi[:, 1] >= 0) & (lo[:, 1] < size[1])
    for quad, colour in zip(quads[ok].tolist(), colours[ok].tolist()):
        draw.polygon([tuple(p) for p in quad], fill=tuple(colour))


def draw_shadows(image: Image.Image, uvs: list[np.ndarray], depths: list[np.ndarray], focal: float) -> None:
    """Darken the floor under each skeleton: its bones projected straight down (y = 0)."""
    pts = np.concatenate(uvs)
    pts = pts[np.isfinite(pts).all(axis=1)]
    if not len(pts):
        return
    pad = focal * SHADOW_M / max(float(np.nanmin(np.concatenate(depths))), 0.1)
    x0, y0 = np.floor(pts.min(axis=0) - pad).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0) + pad).astype(int)
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, image.width), min(y1, image.height)
    if x1 <= x0 or y1 <= y0:
        return
    mask = Image.new("L", (x1 - x0, y1 - y0))
    draw = ImageDraw.Draw(mask)
    for uv, depth in zip(uvs, depths):
        a, b = uv[_BONES[:, 0]] - (x0, y0), uv[_BONES[:, 1]] - (x0, y0)
        width = focal * SHADOW_M / (0.5 * (depth[_BONES[:, 0]] + depth[_BONES[:, 1]]))
        ok = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
        for (ax, ay), (bx, by), w in zip(a[ok].tolist(), b[ok].tolist(), width[ok].tolist()):
            r = w / 2
            draw.line([(ax, ay), (bx, by)], fill=SHADOW_ALPHA, width=max(int(w), 1))
            draw.ellipse([bx - r, by - r, bx + r, by + r], fill=SHADOW_ALPHA)
    image.paste((0, 0, 0), (x0, y0), mask)


@dataclass
class Pose2D:
    """One body of one frame, projected: what `draw_skeletons` needs."""

    uv: np.ndarray  # (22, 2) pixels, NaN = not drawn
    depth: np.ndarray  # (22,) metres from the camera plane
    colours: list[Colour]  # (22) per joint, see `shades`
    infilled: np.ndarray  # (22,) bool: filled in by the model, not observed in its input
    contact: np.ndarray  # (22,) bool: a foot joint touching the ground


def draw_skeletons(draw: ImageDraw.ImageDraw, poses: list[Pose2D], focal: float, bones: bool = True) -> None:
    """Draw bones and joints of all poses together, farthest first (painter's algorithm).

    With `bones=False` (over a mesh) only the markers are drawn: contacts and infilled joints.
    """
    items: list[tuple[float, int, int, int]] = []  # depth, kind (0 bone, 1 joint), pose, index
    for p, pose in enumerate(poses):
        ok = np.isfinite(pose.uv).all(axis=1)
        if bones:
            both = ok[_BONES[:, 0]] & ok[_BONES[:, 1]]
            mid = 0.5 * (pose.depth[_BONES[:, 0]] + pose.depth[_BONES[:, 1]])
            items += [(d, 0, p, b) for b, d in zip(np.flatnonzero(both).tolist(), mid[both].tolist())]
        marked = ok if bones else ok & (pose.infilled | pose.contact)
        items += [(d, 1, p, j) for j, d in zip(np.flatnonzero(marked).tolist(), pose.depth[marked].tolist())]
    items.sort(key=lambda item: -item[0])
    for depth, kind, p, i in items:
        pose = poses[p]
        scale = focal / depth
        if kind == 0:
            a, b = _BONES[i]
            draw.line([tuple(pose.uv[a]), tuple(pose.uv[b])], fill=pose.colours[b], width=max(int(scale * BONE_M), 1))
            continue
        x, y = pose.uv[i]
        r = max(scale * JOINT_M / 2, 2.0)
        if pose.infilled[i]:
            ring = r * 1.35
            draw.ellipse([x - ring, y - ring, x + ring, y + ring], outline=INFILLED, width=max(int(r * 0.5), 2))
        elif bones:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=pose.colours[i], outline=OUTLINE)
        if pose.contact[i]:
            c = r * 1.1
            draw.ellipse([x - c, y - c, x + c, y + c], fill=CONTACT, outline=OUTLINE, width=2)


def font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """PIL's built-in font at a pixel size."""
    return ImageFont.load_default(size=size)


def legend(entries: list[tuple[str, str, Colour]], size: int) -> Image.Image:
    """An RGBA legend box: one line per (marker, text, colour); marker 'dot', 'ring' or 'swatch'."""
    fnt = font(size)
    pad, gap = size // 2, size // 3
    widths = [int(fnt.getlength(text)) for _, text, _ in entries]
    w = pad * 2 + size + gap + max(widths)
    h = pad * 2 + len(entries) * (size + gap) - gap
    box = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(box)
    draw.rounded_rectangle([0, 0, w - 1, h - 1], radius=pad, fill=(15, 16, 20, 170))
    for k, (marker, text, colour) in enumerate(entries):
        y = pad + k * (size + gap)
        m = [pad + 2, y + 2, pad + size - 2, y + size - 2]
        if marker == "swatch":
            draw.rectangle(m, fill=colour)
        elif marker == "ring":
            draw.ellipse(m, outline=colour, width=max(size // 6, 2))
        else:
            draw.ellipse(m, fill=colour, outline=OUTLINE, width=2)
        draw.text((pad + size + gap, y), text, font=fnt, fill=TEXT)
    return box
