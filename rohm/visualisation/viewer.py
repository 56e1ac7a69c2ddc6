"""One self-contained HTML file to play, scrub and turn around a reconstruction in a browser.

three.js (bundled in `assets/three/`, MIT) and the motions are inlined, so the file works offline
from `file://`. The page draws each motion's skeleton on a checker floor (result first, in the
render palette's blue; compared inputs in the next colours), side by side or overlaid, with
joints the model filled in (amber), feet in contact (white discs on the floor), per-joint
uncertainty (translucent halos reaching 2 `joints_std` beyond the joint) and, with a mesh, the result's body
from its glTF export. Positions are embedded as whole millimetres.

The camera follows the result's smoothed pelvis from a fixed direction at a distance that fits
every body; the page computes it from `view` in the embedded data (see `initial_camera`).
URL hash options: `#frame=K` opens paused at frame K, `layout=overlay|side`, `ui=0` hides the
legend and the controls (for clean screenshots).
"""

from __future__ import annotations

import base64
import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter1d

from rohm.errors import RohmError
from rohm.io.atomic import write_text_atomic
from rohm.io.motion_file import Motion
from rohm.skeleton import FOOT_JOINTS, JOINT_INDEX, JOINT_NAMES, NUM_JOINTS, PARENTS
from rohm.visualisation import draw

ASSETS = Path(__file__).parent / "assets"
THREE = ASSETS / "three"
LAYOUTS = ("side", "overlay")
FOV_Y_DEG = 40.0  # vertical field of view
ELEVATION_DEG = 12.0  # camera pitch below the horizon
FOLLOW_SIGMA_S = 1.0  # Gaussian low-pass of the followed pelvis
FIT_QUANTILE = 0.98  # share of joint positions that must fit the view
BODY_PAD_M = 0.25  # a body reaches this far beyond its joints (head top, hands, volume)
SIDE_GAP_M = 0.5  # space between bodies shown side by side
FILLED = draw.INFILLED
CONTACT = draw.CONTACT


def _hex(colour: Sequence[int]) -> str:
    return "#" + "".join(f"{int(c):02x}" for c in colour)


def _mm(values: np.ndarray) -> list[int | None]:
    """Flat list of whole millimetres, None for NaN."""
    flat = np.asarray(values, dtype=np.float64).reshape(-1) * 1000.0
    ok = np.isfinite(flat)
    out: list[int | None] = np.where(ok, np.round(np.where(ok, flat, 0.0)), 0).astype(np.int64).tolist()
    for i in np.flatnonzero(~ok):
        out[i] = None
    return out


def _track(motion: Motion, label: str, colour: Sequence[int]) -> dict[str, Any]:
    """The embedded data of one motion: joints (NaN where unobserved), filled-in joints,
    contacts and uncertainty where the file has them."""
    observed = motion.observed()
    joints = np.where(observed[..., None], motion.joints, np.nan)
    track: dict[str, Any] = {"label": label, "colour": _hex(colour), "shades": [_hex(c) for c in draw.shades(colour)],
                             "fps": float(motion.fps), "frames": motion.num_frames, "joints": _mm(joints)}
    input_mask = motion.input_joint_mask
    if input_mask is not None and np.shape(input_mask) == observed.shape:
        track["filled"] = (~np.asarray(input_mask, dtype=bool) & observed).astype(int).reshape(-1).tolist()
    if motion.contacts is not None:
        track["contacts"] = (np.asarray(motion.contacts) > 0.5).astype(int).reshape(-1).tolist()
    std = motion.joints_std
    if std is not None and np.shape(std) == observed.shape:
        track["std"] = _mm(std)
    return track


def _horizontal(v: np.ndarray) -> np.ndarray:
    v = np.array([v[0], 0.0, v[2]], dtype=np.float64)
    n = np.linalg.norm(v)
    return v / n if n > 1e-9 else np.array([0.0, 0.0, 1.0])


def _layout_axes(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(side axis, camera direction), unit horizontal/3D vectors, for the result's joints
    (N, 22, 3), NaN where not shown. Bodies side by side sit along the main direction of travel;
    the camera looks across it, from the side the body faces."""
    pelvis = joints[:, JOINT_INDEX["pelvis"]]
    ok = np.isfinite(pelvis).all(axis=1)
    xz = pelvis[ok][:, [0, 2]] - pelvis[ok][:, [0, 2]].mean(axis=0)
    side = np.array([1.0, 0.0, 0.0])
    if len(xz) > 2 and np.ptp(xz, axis=0).max() > 0.3:  # it travels: side by side along the travel
        axis = np.linalg.svd(xz, full_matrices=False)[2][0]
        side = _horizontal(np.array([axis[0], 0.0, axis[1]]))
    across = np.cross(side, [0.0, 1.0, 0.0])  # horizontal, perpendicular to side
    hips = joints[:, JOINT_INDEX["left_hip"]] - joints[:, JOINT_INDEX["right_hip"]]
    hips = hips[np.isfinite(hips).all(axis=1)]
    facing = np.cross(hips, [0.0, 1.0, 0.0]).mean(axis=0) if len(hips) else np.zeros(3)  # (left - right) x up
    if facing @ across < 0:
        across = -across
    elev = math.radians(ELEVATION_DEG)
    direction = math.cos(elev) * across + math.sin(elev) * np.array([0.0, 1.0, 0.0])
    return side, direction


def _view(motions: Sequence[Motion]) -> dict[str, Any]:
    """The camera for the result (first) and the motions shown with it: followed points (N, 3),
    direction to the camera, per-layout offsets and the half extents (right, up, towards the
    camera) in metres that must fit the view."""
    result = motions[0]
    shown = [np.where(m.observed()[..., None], m.joints, np.nan) for m in motions]
    side, direction = _layout_axes(shown[0])
    pelvis = shown[0][:, JOINT_INDEX["pelvis"]].copy()
    ok = np.isfinite(pelvis).all(axis=1)
    pelvis[~ok] = np.nanmean(pelvis[ok], axis=0) if ok.any() else 0.0
    sigma = FOLLOW_SIGMA_S * result.fps
    follow = gaussian_filter1d(pelvis, sigma, axis=0, mode="nearest") if len(pelvis) > 1 else pelvis
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        top = np.nanquantile(np.nanmax(shown[0][..., 1], axis=1), FIT_QUANTILE) + BODY_PAD_M
    top = top if np.isfinite(top) else 2.0
    follow[:, 1] = 0.5 * top
    with warnings.catch_warnings():  # frames or motions with no joint shown give NaN, skipped
        warnings.simplefilter("ignore", RuntimeWarning)
        width = np.nanmax([np.nanquantile(np.nanmax(j @ side, axis=1) - np.nanmin(j @ side, axis=1), FIT_QUANTILE)
                           for j in shown])
    spacing = float(np.nan_to_num(width)) + 2 * BODY_PAD_M + SIDE_GAP_M
    right = _horizontal(np.cross([0.0, 1.0, 0.0], direction))  # the screen's right
    up = np.cross(direction, right)
    side = side if side @ right >= 0 else -side  # motions left to right in the order given
    offsets, extents = {}, {}
    for layout in LAYOUTS:
        shift = [(i - (len(motions) - 1) / 2) * spacing if layout == "side" else 0.0 for i in range(len(motions))]
        offsets[layout] = [np.round(s * side, 4).tolist() for s in shift]
        rel = []
        for m, j, s in zip(motions, shown, shift):
            src = np.minimum(np.round(np.arange(len(follow)) * m.fps / result.fps).astype(int), m.num_frames - 1)
            rel.append((j[src] + s * side - follow[:, None]).reshape(-1, 3))
        rel_all = np.concatenate(rel)
        rel_all = rel_all[np.isfinite(rel_all).all(axis=1)]
        if not len(rel_all):
            rel_all = np.zeros((1, 3))
        # Half extents across the view (right, up) and towards the camera (depth): near points
        # look bigger, so the distance that fits them grows by their depth.
        half = [np.quantile(np.abs(rel_all @ axis), FIT_QUANTILE) + BODY_PAD_M for axis in (right, up)]
        depth = max(float(np.quantile(rel_all @ direction, FIT_QUANTILE)), 0.0) + BODY_PAD_M
        extents[layout] = [round(float(h), 4) for h in (*half, depth)]
    return {"follow": _mm(follow), "direction": np.round(direction, 6).tolist(), "fov": FOV_Y_DEG,
            "offsets": offsets, "extents": extents}


def initial_camera(data: dict[str, Any], frame: int, aspect: float,
                   layout: str = "side") -> tuple[np.ndarray, np.ndarray]:
    """(camera position, target) in metres as the page places them at `frame` for a view of
    width/height `aspect` (the page's `cameraFor`; used by the tests to know where bodies appear)."""
    view = data["view"]
    target = np.asarray(view["follow"][3 * frame:3 * frame + 3], dtype=np.float64) / 1000.0
    half_right, half_up, depth = view["extents"][layout]
    tan = math.tan(math.radians(view["fov"]) / 2)
    distance = max(half_up / tan, half_right / (tan * aspect)) + depth
    return target + distance * np.asarray(view["direction"]), target


def view_data(result: Motion, compare: Sequence[Motion] = (), labels: Sequence[str] | None = None) -> dict[str, Any]:
    """Everything the page needs, JSON-ready."""
    motions = [result, *compare]
    labels = list(labels) if labels is not None else ["result"] + [f"input {i + 1}" if len(compare) > 1 else "input"
                                                                  for i in range(len(compare))]
    if len(labels) != len(motions):
        raise RohmError(f"{len(labels)} labels for {len(motions)} motions")
    palette = draw.PALETTE
    tracks = [_track(m, label, palette[i % len(palette)]) for i, (m, label) in enumerate(zip(motions, labels))]
    return {"names": list(JOINT_NAMES), "parents": list(PARENTS), "feet": list(FOOT_JOINTS),
            "fps": float(result.fps), "frames": result.num_frames, "tracks": tracks,
            "view": _view(motions), "filled_colour": _hex(FILLED), "contact_colour": _hex(CONTACT),
            "background": _hex(draw.FOG), "tiles": [_hex(c) for c in draw.TILES]}


def _module_url(name: str, rewrite: dict[str, str] | None = None) -> str:
    source = (THREE / name).read_text(encoding="utf-8")
    for old, new in (rewrite or {}).items():
        source = source.replace(old, new)
    return "data:text/javascript;base64," + base64.b64encode(source.encode("utf-8")).decode("ascii")


def import_map(loader: bool) -> str:
    """The import map that serves the bundled three.js modules from data: URLs (GLTFLoader's
    relative import is rewritten to a mapped name, since data: URLs have no folder)."""
    imports = {"three": _module_url("three.module.min.js"),
               "three/addons/controls/OrbitControls.js": _module_url("OrbitControls.js")}
    if loader:
        imports["three/addons/utils/BufferGeometryUtils.js"] = _module_url("BufferGeometryUtils.js")
        imports["three/addons/loaders/GLTFLoader.js"] = _module_url(
            "GLTFLoader.js", {"'../utils/BufferGeometryUtils.js'": "'three/addons/utils/BufferGeometryUtils.js'"})
    return json.dumps({"imports": imports})


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")


def viewer_html(data: dict[str, Any], glb: bytes | None = None) -> str:
    """The page: the template with import map, data and (optionally) the result's .glb inlined."""
    template = (ASSETS / "viewer.html").read_text(encoding="utf-8")
    version = (THREE / "VERSION").read_text().strip()
    parts = {"/*ROHM_IMPORTMAP*/": import_map(glb is not None), "/*ROHM_DATA*/": _script_json(data),
             "/*ROHM_GLB*/": base64.b64encode(glb).decode("ascii") if glb else "",
             "/*ROHM_THREE_VERSION*/": version}
    for key, value in parts.items():
        template = template.replace(key, value)
    return template


def write_viewer(result: Motion, out: str | Path, compare: Sequence[Motion] = (), labels: Sequence[str] | None = None,
                 glb: bytes | None = None) -> Path:
    """Write the viewer page for `result` (and the motions it is compared with), atomically."""
    for motion in (result, *compare):
        if motion.joints.shape[1:] != (NUM_JOINTS, 3):
            raise RohmError(f"motions must have (N, {NUM_JOINTS}, 3) joints, got {motion.joints.shape}")
    out = Path(out)
    write_text_atomic(out, viewer_html(view_data(result, compare, labels), glb))
    return out
