"""Many clips at once: planning outputs for files and folders, a process pool and a local Ray
instance (2 workers each) over a tiny library with a bad file in it, atomic outputs and --resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rohm.cli import main
from rohm.demo import CLIPS_DIR
from rohm.errors import RohmError
from rohm.inference.batch import Job, plan_jobs
from rohm.io.bvh import BVH, read_bvh, write_bvh
from rohm.io.motion_file import Motion, load_motion, save_motion

FAST = ["--iterations", "1", "--steps", "2"]


@pytest.fixture(scope="module")
def library(bandai_bvh_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two short joints-only npz clips, a short BVH take in a subfolder, and a file that is neither."""
    folder = tmp_path_factory.mktemp("library")
    for name in ("walk_proud_001", "run_proud_001"):
        clip = load_motion(CLIPS_DIR / f"{name}.npz")
        save_motion(Motion(joints=clip.joints[:40], fps=clip.fps), folder / f"{name}.npz")
    take = read_bvh(bandai_bvh_dir / "dataset-1_bye_feminine_001.bvh")
    (folder / "takes").mkdir()
    write_bvh(folder / "takes" / "bye.bvh", BVH(take.skeleton, take.motion[:60], take.frame_time))
    (folder / "broken.npz").write_bytes(b"these are not the joints you are looking for")
    return folder


GOOD = ("walk_proud_001.npz", "run_proud_001.npz", "takes/bye.bvh")


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_plan_jobs_for_files_and_folders(tmp_path: Path) -> None:
    a, b = _touch(tmp_path / "in" / "a.npz"), _touch(tmp_path / "in" / "deep" / "b.bvh")
    _touch(tmp_path / "in" / ".hidden.npz")
    _touch(tmp_path / "in" / "notes.txt")
    assert plan_jobs([a], tmp_path / "a_clean.npz") == [Job(a, tmp_path / "a_clean.npz")]
    assert plan_jobs([b], tmp_path / "b_clean.bvh") == [Job(b, tmp_path / "b_clean.bvh")]
    assert plan_jobs([a, b], tmp_path / "out") == [Job(a, tmp_path / "out" / "a.npz"), Job(b, tmp_path / "out" / "b.bvh")]
    folder_jobs = plan_jobs([tmp_path / "in"], tmp_path / "out")
    assert sorted(j.output for j in folder_jobs) == [tmp_path / "out" / "a.npz", tmp_path / "out" / "deep" / "b.bvh"]
    _touch(tmp_path / "in" / "clean" / "a.npz")  # an earlier run's output inside the input folder
    inside = plan_jobs([tmp_path / "in"], tmp_path / "in" / "clean")
    assert sorted(j.source for j in inside) == [a, b]  # not read back as inputs
    refusals = [
        (([a], a), "refusing to overwrite"),
        (([tmp_path / "in"], tmp_path / "in"), "refusing to overwrite"),
        (([a, b], tmp_path / "x.npz"), "output folder"),
        (([tmp_path / "in"], tmp_path / "x.bvh"), "output folder"),
        (([a, _touch(tmp_path / "other" / "a.npz")], tmp_path / "out"), "same file name"),
        (([_touch(tmp_path / "empty" / "x.txt").parent], tmp_path / "out"), "no .npz or .bvh"),
    ]
    for (inputs, out), needle in refusals:
        with pytest.raises(RohmError, match=needle):
            plan_jobs(inputs, out)


def _check_outputs(out: Path, reference: Path | None = None) -> dict[str, int]:
    """Every good clip written with its input's frames (and the same as `reference`'s), nothing half-written."""
    assert not [p for p in out.rglob("*") if p.name.startswith(".")], "temporary files left behind"
    for name in GOOD[:2]:
        motion = load_motion(out / name)
        assert motion.num_frames == 40 and motion.has_params
        if reference is not None:
            np.testing.assert_allclose(motion.joints, load_motion(reference / name).joints, atol=1e-4)
    take = read_bvh(out / GOOD[2])
    assert take.num_frames == 60 and take.skeleton.names[0] == "joint_Root"
    return {name: (out / name).stat().st_mtime_ns for name in GOOD}


def test_process_pool_writes_each_clip_and_resumes(library: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    assert main(["reconstruct", str(library), "--out", str(out), "--workers", "2", *FAST]) == 2
    err = capsys.readouterr().err
    assert f"rohm: error: {library / 'broken.npz'}: neither a motion .npz nor a BVH file" in err
    assert "1 of 4 inputs failed" in err
    stamps = _check_outputs(out)
    assert not (out / "broken.npz").exists()
    assert main(["reconstruct", str(library), "--out", str(out), "--workers", "2", "--resume", *FAST]) == 2
    captured = capsys.readouterr()
    assert "3 of 4 outputs exist already, skipped" in captured.out and "1 of 1 inputs failed" in captured.err
    assert _check_outputs(out) == stamps  # finished clips untouched


def test_ray_with_two_workers(library: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ray = pytest.importorskip("ray")
    pool_out = tmp_path / "pool"
    assert main(["reconstruct", str(library), "--out", str(pool_out), "--workers", "2", *FAST]) == 2
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        out = tmp_path / "ray"
        assert main(["reconstruct", str(library), "--out", str(out), "--ray", "--workers", "2", *FAST]) == 2
        err = capsys.readouterr().err
        assert f"rohm: error: {library / 'broken.npz'}: neither a motion .npz nor a BVH file" in err
        stamps = _check_outputs(out, reference=pool_out)  # the same clips as the process pool's
        assert main(["reconstruct", str(library), "--out", str(out), "--ray", "--resume", *FAST]) == 2
        assert "3 of 4 outputs exist already, skipped" in capsys.readouterr().out
        assert _check_outputs(out) == stamps
    finally:
        ray.shutdown()
