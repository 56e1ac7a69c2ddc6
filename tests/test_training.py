"""Training: batches, masks, losses, a tiny end-to-end curriculum, exact resume after kill -9, DDP on gloo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from rohm.body import load_body
from rohm.body.kinematics import forward_kinematics
from rohm.checkpoint import load_tensors
from rohm.representation import Normalizer
from rohm.skeleton import LOWER_BODY, MIRROR
from rohm.training.batch import make_batch, mirror
from rohm.training.clips import ClipStore
from rohm.training.config import TrainConfig
from rohm.training.losses import LossWeights, diffusion_loss
from rohm.training.masks import make_mask

TINY = {
    "window": 32, "batch_size": 4, "checkpoint_every": 2, "log_every": 1, "val_every": 4, "val_windows": 4,
    "val_sampling_steps": 2, "traj_diffusion_steps": 20, "pose_diffusion_steps": 50,
    "trajnet": {"channels": [8, 16]}, "posenet": {"width": 16, "layers": 1, "heads": 2, "ff": 32},
    "mdm": {"width": 16, "layers": 1, "heads": 2, "ff": 32}, "norm_windows": 32,
    "stages": [
        {"name": "traj", "model": "trajnet", "steps": 3, "noise": 3, "mask": "frames-10"},
        {"name": "control", "model": "trajcontrol", "steps": 2, "noise": 2, "mask": "none"},
        {"name": "pose", "model": "posenet", "steps": 3, "noise": 2, "mask": "mixed", "skate": 100.0},
        {"name": "mdm", "model": "mdm", "steps": 2, "noise": 1, "mask": "joints"},
    ],
}


def test_masks() -> None:
    rng = np.random.default_rng(0)
    lower = make_mask("lower", 3, 20, rng)
    assert not lower[..., list(LOWER_BODY)].any() and lower[..., 0].all()
    gap = make_mask("frames-10", 5, 40, rng)
    hidden = ~gap.all(axis=-1)
    for row in hidden:
        idx = np.flatnonzero(row)
        assert len(idx) == 4 and (np.diff(idx) == 1).all()
    mixed = make_mask("mixed", 200, 30, rng)
    assert 0.2 < (~mixed).mean() < 0.6
    with pytest.raises(ValueError, match="unknown mask scheme"):
        make_mask("nope", 1, 1, rng)


def test_clip_store_keeps_short_clips(built_dataset: Path) -> None:
    store = ClipStore(built_dataset, "train")
    window = int(store.lengths.max()) + 10
    w = store.windows(np.array([0]), np.array([0]), window)
    n = int(store.lengths[0])
    assert w.valid[0, :n].all() and not w.valid[0, n:].any()
    assert torch.equal(w.pose_body[0, n:], w.pose_body[0, n - 1].expand(window - n, 63))


def test_mirror_reflects_the_motion(built_dataset: Path) -> None:
    store = ClipStore(built_dataset, "train")
    w = store.sample(2, 20, np.random.default_rng(1))
    body = load_body("anny")
    rest = body.rest_joints(w.betas)[:, None]
    m = mirror(w)
    joints, _ = forward_kinematics(rest, w.root_orient, w.pose_body, w.trans)
    mirrored, _ = forward_kinematics(rest, m.root_orient, m.pose_body, m.trans)
    reflected = joints[..., list(MIRROR), :] * torch.tensor([-1.0, 1.0, 1.0], dtype=joints.dtype)
    assert (mirrored - reflected).norm(dim=-1).max() < 0.005  # anny is symmetric to ~1 mm


def test_clean_input_matches_target(built_dataset: Path) -> None:
    store = ClipStore(built_dataset, "train")
    norm = Normalizer.load(built_dataset / "normalization.safetensors")
    b = make_batch(store, load_body("anny"), norm, 4, 24, 0.0, "none", np.random.default_rng(2),
                   torch.Generator().manual_seed(2))
    observed = b.cond_mask.bool()
    observed[..., norm.layout.contacts] = False
    assert observed.any()
    assert torch.allclose(b.cond[observed], b.target[observed], atol=1e-3)
    noisy = make_batch(store, load_body("anny"), norm, 4, 24, 3.0, "lower", np.random.default_rng(2),
                       torch.Generator().manual_seed(2))
    assert (noisy.cond[~noisy.cond_mask.bool()] == 0).all()
    assert not noisy.joint_mask[..., list(LOWER_BODY)].bool().any()


def test_skate_loss_is_active(built_dataset: Path) -> None:
    store = ClipStore(built_dataset, "train")
    norm = Normalizer.load(built_dataset / "normalization.safetensors")
    b = make_batch(store, load_body("anny"), norm, 4, 24, 1.0, "none", np.random.default_rng(3),
                   torch.Generator().manual_seed(3))
    b.contacts[:] = 1.0
    cols = norm.layout.local
    grads = []
    for skate in (0.0, 100.0):
        pred = (b.target[..., cols] + 0.3 * torch.randn_like(b.target[..., cols])).requires_grad_(True)
        torch.manual_seed(0)
        terms = diffusion_loss(pred, b.target, cols, b.valid, norm, b.rest, b.joints, b.contacts, LossWeights(skate=skate))
        terms["total"].backward()
        grads.append(pred.grad.clone())
        assert terms["skate"] > 0
    assert not torch.allclose(grads[0], grads[1])


def _write_config(tmp_path: Path, **changes) -> Path:
    cfg = json.loads(json.dumps(TINY))
    cfg.update(changes)
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(cfg))
    return path


def _train(args: list[str], **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rohm.cli", "train", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_tiny_curriculum_end_to_end(built_dataset: Path, tmp_path: Path) -> None:
    cfg = _write_config(tmp_path)
    proc = _train(["--data", str(built_dataset), "--out", str(tmp_path / "run"), "--config", str(cfg)])
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state["done"] == ["traj", "control", "pose", "mdm"]
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["total"]) for r in log if "total" in r)
    assert any("val_gmpjpe_mm" in r for r in log if r["stage"] == "pose")
    tensors, meta = load_tensors(tmp_path / "run" / "trajnet.safetensors")
    assert meta["has_control"] and any(k.startswith("ema/control.") for k in tensors)
    # Running again without --resume refuses to clobber the run.
    again = _train(["--data", str(built_dataset), "--out", str(tmp_path / "run"), "--config", str(cfg)])
    _, err = again.communicate(timeout=300)
    assert again.returncode == 2 and "--resume" in err


def test_resume_after_kill_is_exact(built_dataset: Path, tmp_path: Path) -> None:
    stages = [{"name": "pose", "model": "posenet", "steps": 30, "noise": 2, "mask": "mixed"}]
    cfg = _write_config(tmp_path, stages=stages, val_every=1000)
    args = ["--data", str(built_dataset), "--config", str(cfg)]
    ref = _train(args + ["--out", str(tmp_path / "ref")])
    assert ref.wait(timeout=300) == 0
    victim = _train(args + ["--out", str(tmp_path / "run")], start_new_session=True)
    weights = tmp_path / "run" / "posenet.safetensors"

    def saved_step() -> int:
        return load_tensors(weights)[1]["step"] if weights.exists() else 0
    deadline = time.time() + 240
    while time.time() < deadline and saved_step() < 6:
        time.sleep(0.2)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    killed_at = saved_step()
    assert 6 <= killed_at < 30
    resumed = _train(args + ["--out", str(tmp_path / "run"), "--resume"])
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    a, _ = load_tensors(tmp_path / "ref" / "posenet.safetensors")
    b, meta = load_tensors(tmp_path / "run" / "posenet.safetensors")
    assert meta["step"] == 30
    assert all(torch.equal(a[k], b[k]) for k in a)  # bit-identical to the uninterrupted run


def test_ddp_gloo_two_processes(built_dataset: Path, tmp_path: Path) -> None:
    stages = [{"name": "pose", "model": "posenet", "steps": 3, "noise": 2, "mask": "mixed"}]
    cfg = _write_config(tmp_path, stages=stages)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
         "-m", "rohm.cli", "train", "--data", str(built_dataset), "--out", str(tmp_path / "ddp"), "--config", str(cfg)],
        capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = json.loads((tmp_path / "ddp" / "state.json").read_text())
    assert state["done"] == ["pose"]
    _, meta = load_tensors(tmp_path / "ddp" / "posenet.safetensors")
    assert meta["step"] == 3


def test_config_errors(tmp_path: Path) -> None:
    from rohm.errors import RohmError

    with pytest.raises(RohmError, match="unknown training config keys: colour"):
        TrainConfig.from_dict({"colour": 1})
    with pytest.raises(RohmError, match="unknown model"):
        TrainConfig.from_dict({"stages": [{"name": "a", "model": "gan", "steps": 1, "noise": 0, "mask": "none"}]})
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(RohmError, match="bad.json"):
        TrainConfig.load(bad)
