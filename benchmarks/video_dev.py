"""`rohm video` on every video of the development set: plausibility figures and overlay stills.

Usage: python benchmarks/video_dev.py [--videos ../shared/data/video] [--runs DIR] [--reuse]
       [--before TABLE.json] [--no-stills] [--threads 1] [--out benchmarks/results/video_dev]

Each video is one `rohm video VIDEO --out RUNS/NAME --no-render --threads N` process (the
renders are skipped to save CPU; --reuse keeps an existing RUNS/NAME). The figures are computed
from motion.npz alone (`rohm.video.plausibility`), so outputs of older versions can be scored
the same way (`--runs OLD --reuse --no-stills --out DIR` gives a table.json to pass as
--before). There is no ground truth: the figures say whether the result is plausible.
- tilt: pelvis -> neck from world up, median (clean mocap of standing and walking: ~5 deg;
  `upright` marks the videos where the person stays upright: target <= 8 deg);
- foot: the lowest foot joint, median over the frames with a foot in contact, with its 10th
  and 90th percentiles (anny's standing toe joint: 50-65 mm; target within 30 mm of it);
- jitter: mean |acceleration| of all joints, m/s^2;
- reprojection: median 2D error of the visible joints, fraction of the person's 2D height;
- camera: the decision and its evidence (background motion, image sizes per second; speed of
  the camera that keeps the planted feet still, m/s), and whether it matches the footage.
Writes table.json, table.md and contact_sheet.png (one row per video: the overlay at three
frames and the 3D result on its floor grid at the middle one).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from rohm.io.atomic import write_text_atomic

REPO = Path(__file__).resolve().parents[1]
# The footage, by eye (data/README.md): which cameras move (travel) and who stays upright.
MOVING = {"running"}
NOT_UPRIGHT = {"basketball_dribble_mmhuman3d", "squats_tfjs"}  # dribbling bent over, squatting
TILT_TARGET_DEG = 8.0
FOOT_TARGET_M = (0.05 - 0.03, 0.065 + 0.03)
STILL_AT = (0.2, 0.5, 0.8)  # stills at these fractions of the clip
STILL_HEIGHT = 360


def run(video: Path, out: Path, threads: int) -> float:
    """One `rohm video` process; wall seconds."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    cmd = [sys.executable, "-m", "rohm.cli", "video", str(video), "--out", str(out), "--no-render",
           "--threads", str(threads)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{video.name}: rohm video failed:\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def evidence(motion: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(extrinsics (N, 4, 4), keypoints (N, 22, 2), confidence (N, 22), detected (N,)) of an output."""
    extras = motion.extras
    keypoints = motion.keypoints_2d if motion.keypoints_2d is not None else extras["detected_keypoints_2d"]
    confidence = motion.keypoints_2d_conf if motion.keypoints_2d_conf is not None else extras["detected_keypoints_2d_conf"]
    detected = np.asarray(extras.get("detected", np.ones(motion.num_frames, dtype=bool)), dtype=bool)
    return np.asarray(extras["camera_extrinsics"]), keypoints, confidence, detected


def figures(name: str, folder: Path) -> dict[str, Any]:
    """The figures of one output folder (motion.npz, and summary.json where it says more)."""
    from rohm.inference.foot_lock import stance_labels
    from rohm.io.motion_file import load_motion
    from rohm.video.plausibility import (
        jitter,
        lowest_foot_m,
        reprojection_error,
        torso_tilt_deg,
    )

    motion = load_motion(folder / "motion.npz")
    summary = json.loads((folder / "summary.json").read_text())
    extrinsics, keypoints, confidence, detected = evidence(motion)
    contacts = motion.contacts if motion.contacts is not None else np.zeros((motion.num_frames, 4))
    in_contact = ((contacts > 0.5) | stance_labels(motion.joints, contacts, motion.fps)).any(axis=1)
    lowest = lowest_foot_m(motion.joints)[in_contact]
    pixels, relative = reprojection_error(motion.joints, extrinsics, motion.intrinsics, keypoints, confidence, detected)
    camera = summary["camera"]
    moving = bool(camera["moving"])
    tilt = float(np.median(torso_tilt_deg(motion.joints)))
    foot = float(np.median(lowest)) if len(lowest) else None
    return {
        "frames": motion.num_frames, "fps": round(float(motion.fps), 3),
        "detection_rate": summary["detection_rate"],
        "person_switches": summary.get("other_person", {}).get("switches"),
        "camera_moving": moving, "camera_right": moving == (name in MOVING),
        "camera_decision": camera.get("decision"),
        "background_speed_per_s": camera.get("background_speed_per_s"),
        "feet_camera_speed_m_s": camera.get("feet_camera_speed_m_s"),
        "camera_turn_deg": camera.get("turn_deg"), "camera_pitch_deg": camera["pitch_down_deg"],
        "camera_roll_deg": camera["roll_deg"], "camera_height_m": camera["height_m"],
        "upright": name not in NOT_UPRIGHT,
        "tilt_deg": round(tilt, 2),
        "foot_in_contact_m": None if foot is None else round(foot, 4),
        "foot_in_contact_p10_p90_m": [round(float(v), 4) for v in np.percentile(lowest, [10, 90])] if len(lowest) else None,
        "contact_frames": int(in_contact.sum()),
        "floor_raised_m": summary.get("body", {}).get("floor_raised_m"),
        "jitter_m_s2": round(jitter(motion.joints, motion.fps), 3),
        "reprojection_px": round(pixels, 2), "reprojection_of_height": round(relative, 4),
        "betas": [round(float(b), 3) for b in motion.betas] if motion.betas is not None else None,
        "tilt_ok": None if name in NOT_UPRIGHT else tilt <= TILT_TARGET_DEG,
        "foot_ok": None if foot is None else FOOT_TARGET_M[0] <= foot <= FOOT_TARGET_M[1],
    }


def stills(video: Path, folder: Path) -> Image.Image:
    """One row: the overlay at STILL_AT of the clip, and the 3D result at the middle one."""
    from rohm.io.motion_file import load_motion
    from rohm.video.decode import Span, probe, read_frames, scaled_size
    from rohm.video.overlay import MAX_SIDE, Overlay, OverlayData
    from rohm.visualisation.render import render_frames

    motion = load_motion(folder / "motion.npz")
    extrinsics, keypoints, confidence, detected = evidence(motion)
    info = probe(video)
    first = int(np.asarray(motion.extras.get("video_frames", [0]))[0])
    span = Span(first, first + motion.num_frames)
    size = scaled_size(info.size, MAX_SIDE)
    overlay = Overlay(OverlayData(motion, extrinsics, motion.intrinsics, keypoints, confidence, detected), size, info.size)
    wanted = [int(round(f * (motion.num_frames - 1))) for f in STILL_AT]
    images = []
    for k, frame in enumerate(read_frames(info, span, size)):
        if k in wanted:
            images.append(overlay.frame(k, frame))
        if k >= max(wanted):
            break
    render = next(iter(render_frames([motion], labels=["rohm"], layout="overlay", size=(480, 360),
                                     frames=[wanted[len(wanted) // 2]])))
    images.append(Image.fromarray(render))
    scaled = [im.resize((max(1, round(im.width * STILL_HEIGHT / im.height)), STILL_HEIGHT)) for im in images]
    row = Image.new("RGB", (sum(im.width for im in scaled), STILL_HEIGHT + 28), (15, 16, 20))
    x = 0
    for im in scaled:
        row.paste(im, (x, 28))
        x += im.width
    ImageDraw.Draw(row).text((8, 6), f"{video.stem}   overlay at {', '.join(str(k + 1) for k in wanted)}; "
                                     f"3D at {wanted[len(wanted) // 2] + 1}", fill=(230, 230, 230))
    return row


def _cell(after: Any, before: Any = None, fmt: str = "{:.1f}", scale: float = 1.0) -> str:
    def one(v: Any) -> str:
        return "-" if v is None else fmt.format(v * scale)
    return one(after) if before is None else f"{one(before)} → {one(after)}"


def markdown(table: dict[str, dict[str, Any]], before: dict[str, dict[str, Any]]) -> str:
    lines = ["| video | frames (fps) | camera (right?) | background /s, feet m/s | switches | tilt deg (upright?) "
             "| foot in contact mm [p10, p90] (floor moved mm) | jitter m/s² | reprojection % of height | targets |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, f in table.items():
        b = before.get(name, {})
        cam = "moving" if f["camera_moving"] else "static"
        was = "" if not b else ("moving" if b.get("camera_moving") else "static") + " → "
        spread = "" if f["foot_in_contact_p10_p90_m"] is None else \
            " [{:.0f}, {:.0f}]".format(*(1000 * v for v in f["foot_in_contact_p10_p90_m"]))
        if f.get("floor_raised_m") is not None:
            spread += f" ({1000 * f['floor_raised_m']:+.0f})"
        ok = [k for k in ("camera_right", "tilt_ok", "foot_ok") if f.get(k) is not None]
        verdict = ", ".join(f"{k.split('_')[0]} {'yes' if f[k] else 'NO'}" for k in ok)
        lines.append(
            f"| {name} | {f['frames']} ({f['fps']:g}) | {was}{cam} ({'yes' if f['camera_right'] else 'NO'}) "
            f"| {_cell(f['background_speed_per_s'], fmt='{:.3f}')}, {_cell(f['feet_camera_speed_m_s'], fmt='{:.2f}')} "
            f"| {'-' if f['person_switches'] is None else f['person_switches']} "
            f"| {_cell(f['tilt_deg'], b.get('tilt_deg'))}{'' if f['upright'] else ' (not upright)'} "
            f"| {_cell(f['foot_in_contact_m'], b.get('foot_in_contact_m'), '{:.0f}', 1000)}{spread} "
            f"| {_cell(f['jitter_m_s2'], b.get('jitter_m_s2'), '{:.2f}')} "
            f"| {_cell(f['reprojection_of_height'], b.get('reprojection_of_height'), '{:.1f}', 100)} | {verdict} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=Path, default=REPO.parent / "shared" / "data" / "video")
    ap.add_argument("--runs", type=Path, default=None,
                    help="where the outputs go (default: a temporary folder, removed at the end)")
    ap.add_argument("--reuse", action="store_true", help="keep outputs that exist under --runs")
    ap.add_argument("--before", type=Path, default=None, help="a table.json of an earlier version, to compare")
    ap.add_argument("--no-stills", dest="stills", action="store_false")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "video_dev")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        score(args, args.runs or Path(tmp))


def score(args: argparse.Namespace, runs: Path) -> None:
    videos = sorted(args.videos.glob("*.mp4"))
    if not videos:
        raise SystemExit(f"no .mp4 videos in {args.videos}")
    before = json.loads(args.before.read_text())["videos"] if args.before else {}
    table, rows, seconds = {}, [], {}
    for video in videos:
        folder = runs / video.stem
        if not (args.reuse and (folder / "summary.json").is_file()):
            seconds[video.stem] = round(run(video, folder, args.threads), 1)
            print(f"{video.stem}: {seconds[video.stem]} s", flush=True)
        table[video.stem] = figures(video.stem, folder)
        if args.stills:
            rows.append(stills(video, folder))
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"command": " ".join(["python", "benchmarks/video_dev.py"] + sys.argv[1:]), "seconds": seconds,
              "videos": table}
    write_text_atomic(args.out / "table.json", json.dumps(report, indent=2) + "\n")
    write_text_atomic(args.out / "table.md", markdown(table, before))
    if rows:
        sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)), (15, 16, 20))
        y = 0
        for r in rows:
            sheet.paste(r, (0, y))
            y += r.height
        sheet = sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        sheet.save(args.out / "contact_sheet.png", optimize=True)  # a palette: a quarter of the size
    print(markdown(table, before))


if __name__ == "__main__":
    main()
