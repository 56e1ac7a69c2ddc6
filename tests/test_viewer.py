"""The HTML viewer in a real browser (headless Chromium, software WebGL): bodies appear where the
page's camera puts them and vanish with the data (negative control); three.js's GLTFLoader reads
the glTF export and skins it like rohm's body model; the page needs nothing from the network."""

from __future__ import annotations

import dataclasses
import html
import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rohm.body import load_body
from rohm.cli import main
from rohm.io.glb import glb_bytes
from rohm.io.motion_file import Motion, load_motion, save_motion
from rohm.skeleton import LOWER_BODY, NUM_JOINTS
from rohm.visualisation.viewer import initial_camera, view_data, viewer_html

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "rohm" / "demo_clips" / "walk_proud_001.npz"
FRAMES = 40
FRAME = 12  # the frame the pages open at
SIZE = (640, 400)  # browser window, pixels
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                  "--force-device-scale-factor=1", "--mute-audio", "--virtual-time-budget=4000"]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.skip("needs Chromium (Debian: apt-get install chromium; .ci/run installs it)")


def browse(page: Path, tmp: Path, *args: str, fragment: str = "") -> subprocess.CompletedProcess:
    run = subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp / 'profile'}", *args,
                          page.as_uri() + fragment], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    return run


def screenshot(page: Path, tmp: Path, fragment: str) -> np.ndarray:
    shot = tmp / f"{page.stem}.png"
    browse(page, tmp, f"--window-size={SIZE[0]},{SIZE[1]}", f"--screenshot={shot}", fragment=fragment)
    return np.asarray(Image.open(shot).convert("RGB")).astype(int)


def page_status(page: Path, tmp: Path, fragment: str) -> dict:
    dom = browse(page, tmp, "--dump-dom", fragment=fragment).stdout
    found = re.search(r'<pre id="status">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    return json.loads(html.unescape(found.group(1)))


def head(motion: Motion, n: int) -> Motion:
    cut = {f: getattr(motion, f)[:n] for f in ("joints", "trans", "root_orient", "pose_body", "joint_mask", "contacts")
           if getattr(motion, f) is not None}
    return dataclasses.replace(motion, **cut, extras={})


@pytest.fixture(scope="module")
def motions() -> tuple[Motion, Motion]:
    """A 'result' (the clip, lower body marked as filled in, some uncertainty) and its 'input'
    (lower body missing, the rest shifted by noise)."""
    clip = head(load_motion(CLIP), FRAMES)
    observed = np.ones((FRAMES, NUM_JOINTS), dtype=bool)
    observed[:, list(LOWER_BODY)] = False
    std = np.where(observed, 0.004, 0.03)
    result = dataclasses.replace(clip, input_joint_mask=observed, joints_std=std)
    noise = np.random.default_rng(0).normal(0.0, 0.02, clip.joints.shape)
    joints = np.where(observed[..., None], clip.joints + noise, np.nan)
    return result, Motion(joints=joints, fps=clip.fps, joint_mask=observed)


def project(points: np.ndarray, eye: np.ndarray, target: np.ndarray, fov_deg: float) -> np.ndarray:
    """World points (..., 3) -> pixels (..., 2) of three.js's PerspectiveCamera at `eye` looking at
    `target` (up +y) in a SIZE window."""
    back = (eye - target) / np.linalg.norm(eye - target)
    right = np.cross([0.0, 1.0, 0.0], back)
    right /= np.linalg.norm(right)
    up = np.cross(back, right)
    rel = points - eye
    depth = -(rel @ back)
    tan = math.tan(math.radians(fov_deg) / 2)
    x = (rel @ right) / (depth * tan * SIZE[0] / SIZE[1])
    y = (rel @ up) / (depth * tan)
    return np.stack([(x + 1) / 2 * SIZE[0], (1 - y) / 2 * SIZE[1]], axis=-1)


def colour_mask(image: np.ndarray, name: str) -> np.ndarray:
    """Pixels of one track colour under any shading (hue tests; the floor and background are grey)."""
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    return {"blue": (b > r + 50) & (b > g + 25),
            "red": (r > g + 70) & (r > b + 70) & (g < 140),
            "amber": (r > b + 120) & (g > b + 80)}[name]


def box_of(points: np.ndarray, pad: int = 24) -> tuple[slice, slice]:
    """Rows and columns of the pixels' bounding box, grown by `pad` (joint spheres, halos)."""
    lo = np.floor(np.nanmin(points, axis=0)).astype(int) - pad
    hi = np.ceil(np.nanmax(points, axis=0)).astype(int) + pad
    return slice(max(lo[1], 0), hi[1]), slice(max(lo[0], 0), hi[0])


def test_bodies_appear_where_the_camera_puts_them(motions: tuple[Motion, Motion], tmp_path: Path) -> None:
    result, inp = motions
    data = view_data(result, [inp], ["rohm", "input"])
    eye, target = initial_camera(data, FRAME, SIZE[0] / SIZE[1], "side")
    offsets = np.asarray(data["view"]["offsets"]["side"])
    page = tmp_path / "view.html"
    page.write_text(viewer_html(data))
    image = screenshot(page, tmp_path, f"#frame={FRAME}&ui=0")
    assert image.shape[:2] == (SIZE[1], SIZE[0])
    Image.fromarray(image.astype(np.uint8)).save(tmp_path / "seen.png")
    centres = []
    for track, motion, colour in ((0, result, "blue"), (1, inp, "red")):
        pixels = project(motion.joints[FRAME] + offsets[track], eye, target, data["view"]["fov"])
        box = box_of(pixels)
        mask = colour_mask(image, colour)
        inside = int(mask[box].sum())
        outside = int(mask.sum()) - inside
        print(f"{colour}: {inside} pixels in the projected box {box}, {outside} outside")
        assert inside > 400, colour
        assert outside < 0.05 * inside, colour
        centres.append(np.nonzero(mask)[1].mean())
    assert centres[0] < centres[1]  # side by side, left to right in the order given
    lower = project(result.joints[FRAME, list(LOWER_BODY)] + offsets[0], eye, target, data["view"]["fov"])
    assert colour_mask(image, "amber")[box_of(lower)].sum() > 100  # the filled-in legs are amber

    # Negative control: the same page without motion data shows none of those colours.
    for track in data["tracks"]:
        track["joints"] = [None] * len(track["joints"])
    empty = tmp_path / "empty.html"
    empty.write_text(viewer_html(data))
    blank = screenshot(empty, tmp_path, f"#frame={FRAME}&ui=0")
    for colour in ("blue", "red", "amber"):
        assert colour_mask(blank, colour).sum() < 20, colour


def test_gltf_loader_skins_the_export_like_rohm(motions: tuple[Motion, Motion], tmp_path: Path) -> None:
    result = motions[0]
    page = tmp_path / "mesh.html"
    page.write_text(viewer_html(view_data(result), glb_bytes(result)))
    status = page_status(page, tmp_path, f"#frame={FRAME}")
    assert status["ready"] and status["three"] == "170"
    glb = status["glb"]
    print({k: v for k, v in glb.items() if k != "probe"}, "joint error", glb["probe"]["joint_error_mm"], "mm")
    assert (glb["vertices"], glb["bones"], glb["animations"], glb["channels"]) == (13718, 22, 1, 23)
    assert glb["duration"] == pytest.approx((FRAMES - 1) / result.fps, abs=1e-4)
    probe = glb["probe"]
    assert probe["frame"] == FRAME
    assert probe["joint_error_mm"] < 1.5  # three.js's bones vs the embedded joints (whole mm)
    with torch.no_grad():
        expected = load_body("anny")(torch.as_tensor(result.betas), *(torch.as_tensor(x[[FRAME]]) for x in (
            result.root_orient, result.pose_body, result.trans)), return_vertices=True).vertices[0].numpy()
    seen = np.asarray(probe["vertices_mm"], dtype=float).reshape(-1, 3) / 1000
    error_mm = np.linalg.norm(seen - expected[::probe["stride"]], axis=-1) * 1000
    print(f"three.js skinning vs body(return_vertices=True) at frame {FRAME}: mean {error_mm.mean():.2f} mm, "
          f"max {error_mm.max():.2f} mm over {len(seen)} vertices")
    assert error_mm.mean() < 1.0 and error_mm.max() < 3.0


def test_view_data_embeds_the_motion_in_millimetres(motions: tuple[Motion, Motion]) -> None:
    result, inp = motions
    data = view_data(result, [inp])
    res, src = data["tracks"]
    assert len(res["joints"]) == FRAMES * NUM_JOINTS * 3
    embedded = np.asarray(res["joints"]).reshape(result.joints.shape)
    np.testing.assert_array_equal(embedded, np.round(result.joints * 1000))
    assert src["joints"][3 * LOWER_BODY[0]] is None and src["joints"][0] is not None  # missing -> null
    filled = np.asarray(res["filled"]).reshape(FRAMES, NUM_JOINTS)
    assert filled[:, list(LOWER_BODY)].all() and filled.sum() == FRAMES * len(LOWER_BODY)
    assert set(np.asarray(res["std"])) == {4, 30}
    assert "filled" not in src and "std" not in src
    if result.contacts is not None:
        assert len(res["contacts"]) == FRAMES * 4
    side, overlay = data["view"]["offsets"]["side"], data["view"]["offsets"]["overlay"]
    assert np.linalg.norm(np.subtract(side[0], side[1])) > 0.8 and overlay[0] == overlay[1] == [0.0, 0.0, 0.0]


def test_cli_view_writes_one_self_contained_page(motions: tuple[Motion, Motion], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    result, inp = motions
    res_path, inp_path, out = tmp_path / "result.npz", tmp_path / "input.npz", tmp_path / "view.html"
    save_motion(result, res_path)
    save_motion(inp, inp_path)
    assert main(["view", str(res_path), "--compare", str(inp_path), "--out", str(out)]) == 0
    page = out.read_text()
    assert "<script src" not in page and "<link" not in page
    imports = json.loads(re.search(r'<script type="importmap">(.*?)</script>', page, re.S).group(1))["imports"]
    assert set(imports) == {"three", "three/addons/controls/OrbitControls.js"}
    assert all(url.startswith("data:text/javascript;base64,") for url in imports.values())
    assert out.stat().st_size < 2_000_000
    data = json.loads(re.search(r'<script id="rohm-data" type="application/json">(.*?)</script>', page, re.S).group(1))
    assert [t["label"] for t in data["tracks"]] == ["result", "input"]
    capsys.readouterr()
    assert main(["view", str(res_path), "--compare", str(inp_path), "--labels", "a", "--out", str(out)]) == 2
    assert capsys.readouterr().err.startswith("rohm: error:")
