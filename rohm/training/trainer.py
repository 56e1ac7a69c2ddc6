"""`rohm train`: the curriculum of Supp. B.1, end to end or stage by stage, resumable, DDP-ready.

A run folder holds, per network, `<net>.safetensors`: weights, EMA weights and optimizer
state as tensors, and config, stage, step and every rank's random state as metadata, in
one file written atomically every `checkpoint_every` steps. `state.json` lists the
finished stages and `log.jsonl` the losses and validation metrics. A `kill -9` therefore
loses at most `checkpoint_every` steps, and `--resume` continues bit-exactly from the
last checkpoint (all randomness, dropout included, comes from the saved generators).

Under `torchrun --nproc_per_node N` every process trains on its own batches and
DistributedDataParallel averages gradients (NCCL on GPUs, gloo on CPU); rank 0 alone
validates and writes files.
"""

from __future__ import annotations

import copy
import json
import os
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from rohm.body import BodyModel, load_body
from rohm.body.cache import CachedBody
from rohm.checkpoint import (
    load_optimizer_tensors,
    load_tensors,
    optimizer_tensors,
    save_tensors,
)
from rohm.diffusion import GaussianDiffusion, sample
from rohm.errors import RohmError
from rohm.io.atomic import write_text_atomic
from rohm.models import build_model
from rohm.models.weights import load_network
from rohm.representation import FeatureLayout, Normalizer, joints_from_features
from rohm.training.augment import shape_bank
from rohm.training.batch import Batch, fit_augmented_normalizer, make_batch
from rohm.training.clips import ClipStore
from rohm.training.config import Stage, TrainConfig
from rohm.training.losses import LossWeights, diffusion_loss

NORMALIZATION_FILE = "normalization.safetensors"


def network_of(stage: Stage) -> str:
    """The network file a stage trains (TrajControl lives inside TrajNet)."""
    return "trajnet" if stage.model == "trajcontrol" else stage.model


def model_config(cfg: TrainConfig, net: str, layout: FeatureLayout) -> dict[str, Any]:
    """Network config with the feature sizes of the data's layout filled in."""
    traj, pose = len(layout.traj_abs), layout.local.stop - layout.local.start
    if net == "trajnet":
        return {**cfg.trajnet, "traj_dim": traj, "pose_dim": pose, "mask_dim": 1}
    if net == "posenet":
        return {**cfg.posenet, "traj_dim": traj, "pose_dim": pose, "mask_dim": 22}
    return {**cfg.mdm, "feature_dim": layout.dim, "mask_dim": 22}


@dataclass
class StageInputs:
    """What a network sees for one batch: x0 columns and the forward call's extra arguments."""

    columns: Any
    x0: torch.Tensor
    kwargs: dict[str, torch.Tensor | None]


def stage_inputs(model_kind: str, batch: Batch, layout: FeatureLayout, traj_from_input: bool = False) -> StageInputs:
    """Slice a batch for a network. PoseNet is conditioned on the ground-truth trajectory in
    training (the paper's R for PoseNet) and on the input's trajectory in validation;
    TrajControl on the noisy input's pose (see below)."""
    traj_cols = list(layout.traj_abs)
    if model_kind in ("trajnet", "trajcontrol"):
        # TrajControl is driven by PoseNet's estimate at test time, never by the true pose: it
        # trains on the noisy input's pose (the stage's noise level k) so it learns to use an
        # imperfect control rather than to copy a perfect one.
        control = batch.cond[..., layout.local] if model_kind == "trajcontrol" else None
        return StageInputs(traj_cols, batch.target[..., traj_cols],
                           dict(cond=batch.cond[..., traj_cols], cond_mask=batch.joint_mask[..., :1], control=control))
    if model_kind == "posenet":
        traj = (batch.cond if traj_from_input else batch.target)[..., traj_cols]
        return StageInputs(layout.local, batch.target[..., layout.local],
                           dict(traj=traj, cond=batch.cond[..., layout.local], cond_mask=batch.joint_mask,
                                valid=batch.valid))
    return StageInputs(slice(0, layout.dim), batch.target,
                       dict(cond=batch.cond, cond_mask=batch.joint_mask, valid=batch.valid))


class EMA:
    """Exponential moving average of a module's floating-point weights (with the usual warm-up)."""

    def __init__(self, module: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in module.state_dict().items()}

    @torch.no_grad()
    def update(self, module: torch.nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        for k, v in module.state_dict().items():
            if v.dtype.is_floating_point:
                self.shadow[k].mul_(d).add_(v.detach(), alpha=1 - d)
            else:
                self.shadow[k].copy_(v)

    def copy_to(self, module: torch.nn.Module) -> None:
        module.load_state_dict(self.shadow)


def _distributed() -> tuple[int, int]:
    """(rank, world size); starts the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


class Trainer:
    """Runs the curriculum stage by stage into a run folder."""

    def __init__(self, data: str | Path, run: str | Path, cfg: TrainConfig, device: str = "cpu",
                 max_clips: int | None = None) -> None:
        self.data, self.run, self.cfg = Path(data), Path(run), cfg
        self.rank, self.world = _distributed()
        self.main = self.rank == 0
        if device == "cuda" and self.world > 1:
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
        self.device = torch.device(device)
        self.body: BodyModel = CachedBody(load_body())
        self.augment = cfg.augmentation()
        self.bank = shape_bank(self.body, self.augment.shape_bank, cfg.seed + 99)
        self.train_clips = ClipStore(self.data, "train", max_clips)
        self.val_clips = ClipStore(self.data, "val", max_clips)
        self.normalizer = self._normalizer()
        self.layout = self.normalizer.layout
        self.schedules = {"trajnet": GaussianDiffusion(cfg.traj_diffusion_steps),
                          "posenet": GaussianDiffusion(cfg.pose_diffusion_steps),
                          "mdm": GaussianDiffusion(cfg.pose_diffusion_steps)}

    # ----- state and files -------------------------------------------------------------
    def _normalizer(self) -> Normalizer:
        """The build's statistics, or (config "augmented") those of the augmented training
        windows, fitted once per run and kept in the run folder so a resume reuses them."""
        data_stats = Normalizer.load(self.data / NORMALIZATION_FILE)
        if self.cfg.normalization == "data":
            return data_stats
        path = self.run / NORMALIZATION_FILE
        if path.exists():
            return Normalizer.load(path)
        rng = np.random.default_rng(self.cfg.seed + 777)
        stats = fit_augmented_normalizer(self.train_clips, self.body, data_stats.layout, self.cfg.norm_windows,
                                         self.cfg.window, self.augment, rng, self.bank)
        if self.main:
            self.run.mkdir(parents=True, exist_ok=True)
            stats.save(path)
        return stats

    def _state_path(self) -> Path:
        return self.run / "state.json"

    def load_state(self, resume: bool) -> dict[str, Any]:
        path = self._state_path()
        if path.exists():
            if not resume:
                raise RohmError("run folder already has a training state; pass --resume to continue it", self.run)
            try:
                return json.loads(path.read_text())
            except json.JSONDecodeError:
                raise RohmError("state.json is corrupt", path) from None
        return {"config": self.cfg.to_dict(), "done": [], "current": None}

    def save_state(self, state: dict[str, Any]) -> None:
        if self.main:
            write_text_atomic(self._state_path(), json.dumps(state, indent=1))

    def log(self, record: dict[str, Any]) -> None:
        if self.main:
            with open(self.run / "log.jsonl", "a") as fh:
                fh.write(json.dumps(record) + "\n")

    def new_network(self, net: str) -> torch.nn.Module:
        torch.manual_seed(self.cfg.seed + zlib.crc32(net.encode()))  # same initial weights on every rank and rerun
        return build_model(net, model_config(self.cfg, net, self.layout))

    def load_network(self, net: str, with_control: bool) -> tuple[torch.nn.Module, EMA | None, dict[str, Any]]:
        """A network from the run folder (weights and EMA), or a fresh one."""
        path = self.run / f"{net}.safetensors"
        if not path.exists() and self.cfg.init_weights:
            model, meta = load_network(Path(self.cfg.init_weights) / f"{net}.safetensors")
            return model.train(), None, {"stage": "init", "has_control": meta.get("has_control", False)}
        if not path.exists():
            model = self.new_network(net)
            if with_control:
                raise RohmError("TrajControl fine-tuning needs a trained TrajNet in the run folder", self.run)
            return model, None, {}
        tensors, meta = load_tensors(path)
        model = build_model(net, meta["config"])
        if meta.get("has_control"):
            model.add_control()
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model/")})
        ema = EMA(model, self.cfg.ema_decay)
        ema.shadow = {k[4:]: v for k, v in tensors.items() if k.startswith("ema/")}
        meta["optimizer"] = {k[6:]: v for k, v in tensors.items() if k.startswith("optim/")}
        return model, ema, meta

    def save_network(self, net: str, model: torch.nn.Module, ema: EMA, opt: torch.optim.Optimizer,
                     stage: Stage, step: int, random_state: dict[str, Any]) -> None:
        """One atomic file: weights, EMA, optimizer, and the progress needed to resume."""
        if not self.main:
            return
        tensors = {f"model/{k}": v for k, v in model.state_dict().items()}
        tensors.update({f"ema/{k}": v for k, v in ema.shadow.items()})
        opt_tensors, groups = optimizer_tensors(opt)
        tensors.update({f"optim/{k}": v for k, v in opt_tensors.items()})
        meta = {"kind": net, "config": model_config(self.cfg, net, self.layout), "stage": stage.name, "step": step,
                "has_control": getattr(model, "control", None) is not None, "num_betas": self.layout.num_betas,
                "diffusion_steps": self.schedules[net].num_steps, "param_groups": groups, **random_state}
        save_tensors(self.run / f"{net}.safetensors", tensors, meta)

    # ----- training ----------------------------------------------------------------------
    def run_all(self, only: str | None = None, resume: bool = False) -> dict[str, Any]:
        """Run every unfinished stage (or just `only`) and return the final state."""
        self.run.mkdir(parents=True, exist_ok=True)
        state = self.load_state(resume)
        names = [s.name for s in self.cfg.stages]
        if only is not None and only not in names:
            raise RohmError(f"unknown stage '{only}' (stages: {', '.join(names)})")
        for stage in self.cfg.stages:
            if stage.name in state["done"] or (only is not None and stage.name != only):
                continue
            self.train_stage(stage, state)
            state["done"].append(stage.name)
            state["current"] = None
            self.save_state(state)
        return state

    def train_stage(self, stage: Stage, state: dict[str, Any]) -> None:
        net = network_of(stage)
        model, ema, meta = self.load_network(net, with_control=stage.model == "trajcontrol")
        resuming = meta.get("stage") == stage.name  # the network file holds this stage's last checkpoint
        if stage.model == "trajcontrol" and not meta.get("has_control"):
            ema.copy_to(model)  # fine-tune TrajControl on top of the averaged TrajNet
            torch.manual_seed(self.cfg.seed + zlib.crc32(stage.name.encode()))
            model.add_control()
            ema = None
        if stage.model == "trajcontrol":
            model.freeze_base()
        model.to(self.device)
        ema = ema or EMA(model, self.cfg.ema_decay)
        ema.shadow = {k: v.to(self.device) for k, v in ema.shadow.items()}
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=stage.lr)
        step = 0
        seed = self.cfg.seed + 1000 * self.rank + zlib.crc32(stage.name.encode()) % 1000
        rng, gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
        if resuming:
            step = meta["step"]
            load_optimizer_tensors(opt, meta["optimizer"], meta["param_groups"])
            rng.bit_generator.state = meta["numpy_rng"][self.rank]
            gen.set_state(torch.tensor(meta["torch_rng"][self.rank], dtype=torch.uint8))
        trained = model
        if self.world > 1:
            trained = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        weights = LossWeights(skate=stage.skate)
        schedule = self.schedules[net]
        bar = tqdm(total=stage.steps, initial=step, desc=stage.name, unit="step", disable=not self.main)
        t0 = time.time()
        model.train()
        while step < stage.steps:
            batch = make_batch(self.train_clips, self.body, self.normalizer, self.cfg.batch_size, self.cfg.window,
                               stage.noise, stage.mask, rng, gen, augment=self.augment, bank=self.bank)
            batch = _to(batch, self.device)
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))  # dropout, resumably
            inputs = stage_inputs(stage.model, batch, self.layout)
            t = schedule.sample_timesteps(self.cfg.batch_size, generator=gen).to(self.device)
            noise = torch.randn(inputs.x0.shape, generator=gen).to(self.device)
            x_t = schedule.q_sample(inputs.x0, t, noise)
            pred = trained(x_t, t, **inputs.kwargs)
            terms = diffusion_loss(pred, batch.target, inputs.columns, batch.valid, self.normalizer, batch.rest,
                                   batch.joints, batch.contacts, weights)
            opt.zero_grad(set_to_none=True)
            terms["total"].backward()
            torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
            opt.step()
            ema.update(model, step)
            step += 1
            bar.update()
            if step % self.cfg.log_every == 0 or step == stage.steps:
                record = {"stage": stage.name, "step": step, "seconds": round(time.time() - t0, 1)}
                record.update({k: round(float(v.detach()), 6) for k, v in terms.items()})
                self.log(record)
                bar.set_postfix(loss=f"{float(terms['total']):.4f}")
                if not torch.isfinite(terms["total"]):
                    raise RohmError(f"stage {stage.name}: loss is not finite at step {step}")
            if step % self.cfg.val_every == 0 or step == stage.steps:
                if self.main:
                    self.log({"stage": stage.name, "step": step, **self.validate(stage, model, ema)})
            if step % self.cfg.checkpoint_every == 0 or step == stage.steps:
                self.checkpoint(net, model, ema, opt, stage, step, rng, gen, state)
        bar.close()

    def checkpoint(self, net: str, model: torch.nn.Module, ema: EMA, opt: torch.optim.Optimizer, stage: Stage,
                   step: int, rng: np.random.Generator, gen: torch.Generator, state: dict[str, Any]) -> None:
        """Save weights, optimizer and every rank's random state in one atomic file."""
        rng_states = [rng.bit_generator.state]
        torch_states = [gen.get_state().tolist()]
        if self.world > 1:
            gathered: list[Any] = [None] * self.world
            dist.all_gather_object(gathered, (rng_states[0], torch_states[0]))
            rng_states = [g[0] for g in gathered]
            torch_states = [g[1] for g in gathered]
        self.save_network(net, model, ema, opt, stage, step, {"numpy_rng": rng_states, "torch_rng": torch_states})
        if state.get("current") != stage.name:
            state["current"] = stage.name
            self.save_state(state)
        if self.world > 1:
            dist.barrier()

    # ----- validation --------------------------------------------------------------------
    @torch.no_grad()
    def validate(self, stage: Stage, model: torch.nn.Module, ema: EMA) -> dict[str, float]:
        """GMPJPE (mm) on fixed val windows under Occ-L, k = 3, sampled with the EMA weights.

        TrajNet: joints from its trajectory and the true local pose (trajectory quality);
        PoseNet: its local pose on the input's own trajectory; MDM++: everything."""
        net = network_of(stage)
        rng, gen = np.random.default_rng(12345), torch.Generator().manual_seed(12345)
        batch = _to(make_batch(self.val_clips, self.body, self.normalizer, self.cfg.val_windows, self.cfg.window,
                               3.0, "lower", rng, gen, mirror_prob=0.0), self.device)
        evaluated = copy.deepcopy(model)
        ema.copy_to(evaluated)
        evaluated.eval()
        inputs = stage_inputs(stage.model, batch, self.layout, traj_from_input=True)
        if stage.model == "trajcontrol":
            inputs.kwargs["control"] = batch.target[..., self.layout.local]

        def model_fn(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return evaluated(x_t, t, **inputs.kwargs)
        pred = sample(model_fn, tuple(inputs.x0.shape), self.schedules[net], steps=self.cfg.val_sampling_steps,
                      generator=gen, device=self.device)
        full = batch.target.clone()
        if net == "posenet":
            full[..., list(self.layout.traj_abs)] = inputs.kwargs["traj"]
        full[..., inputs.columns] = pred
        joints = joints_from_features(full, self.normalizer, batch.rest)
        err = (joints - batch.joints).norm(dim=-1)  # (B, W, 22)
        valid = batch.valid[..., None].expand_as(err)
        occluded = (batch.joint_mask < 0.5) & valid
        return {"val_gmpjpe_mm": 1000 * float(err[valid].mean()),
                "val_gmpjpe_occ_mm": 1000 * float(err[occluded].mean()) if occluded.any() else float("nan")}


def _to(batch: Batch, device: torch.device) -> Batch:
    return Batch(*(getattr(batch, f).to(device) for f in batch.__dataclass_fields__))
