"""The `rohm` command line: corrupt + evaluate on a built real clip, bad input -> one line, exit 2, and --threads."""

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rohm.cli import main
from rohm.io.motion_file import load_motion


def _test_clip(built_dataset: Path) -> Path:
    return sorted((built_dataset / "test").glob("*.npz"))[0]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_corrupt_then_evaluate(built_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    gt = _test_clip(built_dataset)
    before = _digest(gt)
    noisy = tmp_path / "noisy.npz"
    assert main([ "corrupt", str(gt), "--noise", "3", "--occlusion", "lower", "--seed", "1", "--out", str(noisy)]) == 0
    assert _digest(gt) == before
    m = load_motion(noisy, allow_all_missing=True)
    assert m.num_frames == load_motion(gt).num_frames and not m.joint_mask[:, 4].any()
    out_json = tmp_path / "metrics.json"
    assert main(["evaluate", str(noisy), "--gt", str(gt), "--input", str(noisy), "--json", str(out_json)]) != 0
    # The corrupted input has NaN joints, so it cannot be scored as a prediction; fill them to score it.
    filled = tmp_path / "filled.npz"
    data = dict(np.load(noisy))
    data["joints"] = np.where(np.isnan(data["joints"]), load_motion(gt).joints, data["joints"])
    np.savez(filled, **data)
    capsys.readouterr()
    assert main(["evaluate", str(filled), "--gt", str(gt), "--input", str(noisy), "--json", str(out_json)]) == 0
    table = capsys.readouterr().out
    assert "GMPJPE" in table.upper()
    res = json.loads(out_json.read_text())
    assert res["gmpjpe"]["occ"] == pytest.approx(0.0, abs=1e-9)  # occluded joints copied from gt
    assert 5 < res["gmpjpe"]["vis"] < 200  # k=3 noise on visible joints
    assert res["frames"]["pred"] == m.num_frames


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rohm.cli", *args], capture_output=True, text=True)


def test_bad_inputs_exit_2_with_one_line(tmp_path: Path, built_dataset: Path) -> None:
    gt = _test_clip(built_dataset)
    garbage = tmp_path / "garbage.npz"
    garbage.write_text("not an npz")
    cases = [
        (["corrupt", str(garbage), "--noise", "3", "--occlusion", "lower", "--out", str(tmp_path / "o.npz")], "garbage.npz"),
        (["corrupt", str(gt), "--noise", "3", "--occlusion", "lower", "--out", str(gt)], "refusing to overwrite"),
        (["corrupt", str(gt), "--noise", "-1", "--occlusion", "lower", "--out", str(tmp_path / "o.npz")], "noise"),
        (["evaluate", str(gt), "--gt", str(tmp_path / "absent.npz")], "absent.npz"),
        (["data", "build", "--source", str(tmp_path / "nowhere"), "--out", str(tmp_path / "d")], "nowhere"),
    ]
    for args, needle in cases:
        proc = _run(args)
        err_lines = [line for line in proc.stderr.splitlines() if line.startswith("rohm: error:")]
        assert proc.returncode == 2, (args, proc.stderr)
        assert len(err_lines) == 1 and needle in err_lines[0], proc.stderr
    assert not (tmp_path / "o.npz").exists()


def test_evaluate_frame_mismatch(tmp_path: Path, built_dataset: Path) -> None:
    clips = sorted(built_dataset.glob("*/*.npz"))
    a, b = (load_motion(c) for c in clips[:2])
    assert a.num_frames != b.num_frames
    proc = _run(["evaluate", str(clips[0]), "--gt", str(clips[1])])
    assert proc.returncode == 2 and "frame" in proc.stderr


@pytest.fixture
def restore_torch_threads() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.usefixtures("restore_torch_threads")
def test_threads_option_is_set_before_the_work(tmp_path: Path, capsys: pytest.CaptureFixture,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    import rohm.video.pipeline
    from rohm.demo import CLIPS_DIR
    from rohm.inference import Reconstructor
    from rohm.io.motion_file import Motion, save_motion

    seen: dict[str, int] = {}
    reconstruct = Reconstructor.reconstruct

    def counting_reconstruct(self: Reconstructor, *args: Any, **kwargs: Any) -> Motion:
        seen["reconstruct"] = torch.get_num_threads()
        return reconstruct(self, *args, **kwargs)

    def fake_run_video(video: Any, out: Any, options: Any) -> dict[str, Any]:
        seen["video"] = torch.get_num_threads()
        return {"outputs": [], "frames": 1, "fps": 30.0, "detection_rate": 1.0, "timings_s": {},
                "camera": {"moving": False, "height_m": 1.5, "decision": "background still"},
                "other_person": {"switches": 0, "frames_masked": 0},
                "pipeline_fps": 1.0, "pipeline_with_startup_fps": 1.0}

    monkeypatch.setattr(Reconstructor, "reconstruct", counting_reconstruct)
    monkeypatch.setattr(rohm.video.pipeline, "run_video", fake_run_video)
    clip = load_motion(CLIPS_DIR / "walk-turn-left_normal_020.npz")
    short = tmp_path / "short.npz"
    save_motion(Motion(joints=clip.joints[:20], fps=clip.fps), short)
    threads = 1 if torch.get_num_threads() != 1 else 2  # differs from the current setting
    out = tmp_path / "out.npz"
    assert main(["reconstruct", str(short), "--out", str(out), "--iterations", "1", "--steps", "2",
                 "--threads", str(threads)]) == 0
    assert out.exists() and seen["reconstruct"] == threads
    torch.set_num_threads(3)
    assert main(["video", str(tmp_path / "clip.mp4"), "--out", str(tmp_path / "run"), "--threads", str(threads)]) == 0
    assert seen["video"] == threads


@pytest.mark.parametrize("command", ["reconstruct", "video"])
@pytest.mark.parametrize("value", ["0", "-2"])
def test_threads_below_one_is_one_line_exit_2(command: str, value: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    from rohm.demo import CLIPS_DIR

    inp = CLIPS_DIR / "walk-turn-left_normal_020.npz" if command == "reconstruct" else tmp_path / "clip.mp4"
    out = tmp_path / "out"
    assert main([command, str(inp), "--out", str(out), "--threads", value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0] == f"rohm: error: --threads must be >= 1, got {value}", err
    assert not out.exists()
    proc = _run([command, str(inp), "--out", str(out), "--threads", value])
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == err
