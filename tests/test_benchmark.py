"""`rohm benchmark` on a few real clips: results, tables, plots, determinism and resuming; the Cam protocol's inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rohm.errors import RohmError
from rohm.evaluation.benchmark import plan, reproducing_command, run_benchmark
from rohm.io.motion_file import load_motion
from rohm.virtual_camera import HIDDEN_CONFIDENCE, camera_corrupt, project_points

DEMO = Path(__file__).resolve().parents[1] / "rohm" / "demo_clips"


def test_camera_protocol_inputs_are_consistent() -> None:
    gt = load_motion(DEMO / "walk-turn-left_normal_020.npz")
    inp = camera_corrupt(gt, seed=4)
    again = camera_corrupt(gt, seed=4)
    assert np.array_equal(inp.keypoints_2d, again.keypoints_2d)  # deterministic per seed
    ext, k = inp.extrinsics, inp.intrinsics
    pixels, depth = project_points(gt.joints, ext, k)
    assert (depth > 2.0).all()  # the camera sees the clip from metres away
    assert np.abs(inp.keypoints_2d - pixels).std() < 3.0  # 2 px detector noise
    hidden = ~inp.observed()
    assert hidden.any() and np.isnan(inp.joints[hidden]).all()
    assert np.allclose(inp.keypoints_2d_conf[hidden], HIDDEN_CONFIDENCE)
    seen = inp.observed()[:, 0]
    noisy_px, noisy_depth = project_points(inp.joints[seen, 0], ext, k)
    assert np.abs(noisy_px - pixels[seen, 0]).mean() < 15.0  # the pelvis moved along its ray...
    assert np.abs(noisy_depth - depth[seen, 0]).mean() > 0.05  # ...by a real depth error


def test_benchmark_runs_resumes_and_reports(built_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    first = run_benchmark(built_dataset, out, split="all", protocols=["occl-k3", "cam-k3"],
                          methods=["input", "classical"], max_clips=2)
    res = first["results"]
    assert set(res) == {"occl-k3", "cam-k3"} and res["occl-k3"]["classical"]["clips"] == 2
    frames = sum(load_motion(p).num_frames for p in sorted(built_dataset.glob("*/*.npz"))[:2])
    assert res["occl-k3"]["input"]["frames"] == frames  # whole clips, frame-weighted
    assert res["occl-k3"]["classical"]["gmpjpe.all"] < res["occl-k3"]["input"]["gmpjpe.all"]
    assert res["occl-k3"]["classical"]["seconds_per_144_frames"] > 0
    lines = (out / "clips" / "occl-k3.jsonl").read_text().splitlines()
    # Resume: adding a method runs only that method; finished rows are not redone.
    second = run_benchmark(built_dataset, out, split="all", protocols=["occl-k3", "cam-k3"],
                           methods=["input", "classical", "rohm"], max_clips=2, workers=2)  # spawned workers
    new_lines = (out / "clips" / "occl-k3.jsonl").read_text().splitlines()
    assert new_lines[: len(lines)] == lines and all(set(json.loads(x)["methods"]) == {"rohm"} for x in new_lines[len(lines):])
    assert second["results"]["occl-k3"]["input"] == first["results"]["occl-k3"]["input"]
    assert second["results"]["occl-k3"]["rohm"]["gmpjpe.occ"] < second["results"]["occl-k3"]["input"]["gmpjpe.occ"]
    md = (out / "results.md").read_text()
    assert "Occ-L, k=3" in md and "| rohm |" in md and "AMASS" in md
    assert (out / "occl_k3.png").stat().st_size > 5000
    report = json.loads((out / "results.json").read_text())
    assert report["machine"]["cpu_count"] >= 1 and report["plan"]["occl-k3"]["rohm"] == 2
    # --rerun: a changed method's rows are dropped and run again; the others stay as they were.
    third = run_benchmark(built_dataset, out, split="all", protocols=["occl-k3"], methods=["input", "classical", "rohm"],
                          max_clips=2, rerun=["classical"])
    rows = [json.loads(x) for x in (out / "clips" / "occl-k3.jsonl").read_text().splitlines()]
    assert sum("classical" in r["methods"] for r in rows) == 2 and set(rows[-1]["methods"]) == {"classical"}
    assert sum("rohm" in r["methods"] for r in rows) == 2
    for key in ("gmpjpe.all", "accel", "clips", "frames"):  # deterministic: the same numbers again
        assert third["results"]["occl-k3"]["classical"][key] == second["results"]["occl-k3"]["classical"][key]


def test_plan_keeps_slow_methods_to_their_protocols() -> None:
    clips = [Path(f"c{i}.npz") for i in range(100)]
    todo = plan(["occl-k3", "occl-k5", "occ10-k3"], ["rohm", "rohm-paper", "rohm-k1", "paper-k2-no-tc"], clips)
    assert len(todo["occl-k3"]["rohm"]) == 100 and len(todo["occl-k3"]["rohm-paper"]) == 100  # every clip
    assert "rohm-paper" not in todo["occl-k5"] and "rohm-k1" not in todo["occl-k5"]
    assert len(todo["occl-k5"]["paper-k2-no-tc"]) == 100 and "paper-k2-no-tc" not in todo["occ10-k3"]
    assert len(plan(["occl-k5"], ["rohm-paper"], clips, all_pairs=True)["occl-k5"]["rohm-paper"]) == 100


def test_benchmark_bad_names_are_one_line_errors(built_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(RohmError, match="unknown method"):
        run_benchmark(built_dataset, tmp_path, methods=["magic"])
    proc = subprocess.run([sys.executable, "-m", "rohm.cli", "benchmark", "--data", str(built_dataset),
                           "--protocols", "occl-k99", "--out", str(tmp_path / "b")], capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown protocol" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_recorded_command_reproduces_from_scratch() -> None:
    argv = ["/usr/bin/rohm", "benchmark", "--data", "d", "--rerun", "input", "--report-only", "--out", "o", "--rerun=rohm"]
    assert reproducing_command(argv) == "rohm benchmark --data d --out o"
