"""The reconstructor: the paper's iterative inference (Algorithm 1) over any-length motion.

Iteration 1: TrajNet denoises and infills the input trajectory (c_R = M_R * R~), then
PoseNet the local pose given that trajectory (c_P = (R^1, M_P * P~)). Iteration i > 1:
TrajNet with TrajControl, controlled by the pose P^{i-1}, then PoseNet on R^i. The paper
(Eq. 10-11) conditions these on the previous estimates; by default rohm keeps them
conditioned on the input itself (`anchor_input`), as TrajControl and PoseNet were trained,
which measured better on the val split (it stops the estimate drifting from the evidence). Sequences longer than the training window run as overlapping
windows, each in its own canonical frame, mapped back to one world frame and cross-faded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import roma
import torch

from rohm.body import BodyModel, load_body
from rohm.body.kinematics import forward_kinematics_rotmat
from rohm.diffusion import GaussianDiffusion, sample
from rohm.inference.prepare import prepare
from rohm.inference.pretrained import DEFAULT_WEIGHTS, load_network, read_manifest
from rohm.inference.windows import blend_weights, window_starts
from rohm.io.motion_file import Motion
from rohm.representation import Normalizer, canonical_frame, decode, encode, feature_mask
from rohm.representation.canonical import CanonicalFrame, apply_frames


@dataclass
class Settings:
    """Inference settings; the defaults are the fast CPU setting."""

    iterations: int = 2
    traj_steps: int | None = 10  # None: every step of the schedule (paper)
    pose_steps: int | None = 20
    method: str = "ddim"
    trajcontrol: bool = True
    overlap: int = 32
    seed: int = 0
    anchor_input: bool = True  # iterations > 1 stay conditioned on the input (False: on the previous estimate, Eq. 10-11)

    @classmethod
    def paper(cls) -> Settings:
        """The paper's full ancestral sampling (100 TrajNet and 1000 PoseNet steps per iteration)."""
        return cls(traj_steps=None, pose_steps=None, method="ddpm")


class Reconstructor:
    """Noisy, incomplete motion in; clean, complete, world-space motion out (same frames)."""

    def __init__(self, trajnet: torch.nn.Module, posenet: torch.nn.Module, normalizer: Normalizer, window: int,
                 traj_diffusion_steps: int, pose_diffusion_steps: int, body: BodyModel | None = None,
                 device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.trajnet, self.posenet = trajnet.to(self.device).eval(), posenet.to(self.device).eval()
        self.normalizer, self.layout, self.window = normalizer, normalizer.layout, window
        self.traj_schedule = GaussianDiffusion(traj_diffusion_steps)
        self.pose_schedule = GaussianDiffusion(pose_diffusion_steps)
        self.body = body or load_body("anny")

    @staticmethod
    def _pretrained_args(folder: str | Path | None, device: str | torch.device) -> tuple[Path, list[Any]]:
        """The weights folder and the constructor arguments read from it."""
        folder = Path(folder) if folder is not None else DEFAULT_WEIGHTS
        manifest = read_manifest(folder)
        trajnet, _ = load_network(folder / "trajnet.safetensors", device)
        posenet, _ = load_network(folder / "posenet.safetensors", device)
        normalizer = Normalizer.load(folder / "normalization.safetensors")
        return folder, [trajnet, posenet, normalizer, manifest["window"], manifest["traj_diffusion_steps"],
                        manifest["pose_diffusion_steps"]]

    @classmethod
    def from_pretrained(cls, folder: str | Path | None = None, device: str | torch.device = "cpu") -> Reconstructor:
        """Load shipped (default) or exported weights."""
        _, args = cls._pretrained_args(folder, device)
        return cls(*args, device=device)

    # ----- inputs ---------------------------------------------------------------------------
    def _window_inputs(self, motion: Motion, starts: list[int], length: int) -> dict[str, Any]:
        prep = prepare(motion, self.body)
        idx = np.asarray(starts)[:, None] + np.arange(length)
        t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
        joints, observed = prep.joints[idx], prep.observed[idx]
        frames = [canonical_frame(np.where(observed[b][..., None], joints[b], np.nan), observed[b],
                                  prep.root_orient[idx[b]], floor_height=0.0) for b in range(len(starts))]
        rest = self.body.rest_joints(t(prep.betas)[None])[0]
        pelvis = rest[0].expand(len(starts), 3)
        c_joints, c_orient, c_trans = apply_frames(t(joints), t(prep.root_orient[idx]), t(prep.trans[idx]), pelvis, frames)
        betas = t(prep.betas).expand(len(starts), -1)
        feats = encode(c_joints, c_orient, c_trans, t(prep.pose_body[idx]), betas,
                       torch.zeros(*idx.shape, 4, dtype=torch.float64), self.layout)
        mask = torch.as_tensor(observed)
        fmask = feature_mask(mask, self.layout)
        norm = self.normalizer.normalize(feats)
        cond = torch.where(fmask, norm, torch.zeros_like(norm)).float().to(self.device)
        return {"cond": cond, "joint_mask": mask.float().to(self.device), "frames": frames, "betas": prep.betas}

    # ----- sampling --------------------------------------------------------------------------
    def _sample(self, net: torch.nn.Module, schedule: GaussianDiffusion, shape: tuple[int, ...], steps: int | None,
                settings: Settings, gen: torch.Generator, **kwargs: Any) -> torch.Tensor:
        def model_fn(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return net(x_t, t, **kwargs)
        x_T = torch.randn(shape, generator=gen).to(self.device)
        return sample(model_fn, shape, schedule, steps=steps, method=settings.method, x_T=x_T, generator=gen)

    @torch.no_grad()
    def denoise(self, cond: torch.Tensor, joint_mask: torch.Tensor, settings: Settings,
                gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Algorithm 1 on normalised window features: returns (trajectory (B,L,13), local pose (B,L,Dp))."""
        traj_cols, local = list(self.layout.traj_abs), self.layout.local
        b, n = cond.shape[:2]
        traj_shape, pose_shape = (b, n, len(traj_cols)), (b, n, local.stop - local.start)
        ones = torch.ones(b, n, 22, device=cond.device)
        use_control = settings.trajcontrol and getattr(self.trajnet, "control", None) is not None
        r_cond, r_mask, control = cond[..., traj_cols], joint_mask[..., :1], None
        p_cond, p_mask = cond[..., local], joint_mask
        traj = pose = None
        for _ in range(settings.iterations):
            traj = self._sample(self.trajnet, self.traj_schedule, traj_shape, settings.traj_steps, settings, gen,
                                cond=r_cond, cond_mask=r_mask, control=control)
            pose = self._sample(self.posenet, self.pose_schedule, pose_shape, settings.pose_steps, settings, gen,
                                traj=traj, cond=p_cond, cond_mask=p_mask)
            control = pose if use_control else None
            if not settings.anchor_input:
                r_cond, r_mask, p_cond, p_mask = traj, ones[..., :1], pose, ones
        return traj, pose

    # ----- outputs ---------------------------------------------------------------------------
    def _to_world(self, traj: torch.Tensor, pose: torch.Tensor, frames: list[CanonicalFrame]) -> dict[str, torch.Tensor]:
        full = torch.zeros(*traj.shape[:2], self.layout.dim, dtype=torch.float64)
        full[..., list(self.layout.traj_abs)] = traj.double().cpu()
        full[..., self.layout.local] = pose.double().cpu()
        d = decode(self.normalizer.denormalize(full), self.layout)
        inverse = [f.inverse() for f in frames]
        rot = torch.stack([torch.as_tensor(f.rotation) for f in inverse])  # (B, 3, 3)
        off = torch.stack([torch.as_tensor(f.offset) for f in inverse])
        betas = d["betas"].mean(0).clamp(0.0, 1.0)
        pelvis = self.body.rest_joints(betas[None])[0, 0]
        root = rot[:, None] @ d["root_rotmat"]
        trans = (d["trans"] + pelvis) @ rot.transpose(-1, -2) + off[:, None] - pelvis
        return {"root": root, "pose": d["pose_rotmat"], "trans": trans, "contacts": d["contacts"], "betas": betas}

    def reconstruct(self, motion: Motion, settings: Settings | None = None) -> Motion:
        """Denoise and complete a motion; the output has exactly as many frames as the input."""
        settings = settings or Settings()
        n = motion.num_frames
        length = min(self.window, n)
        starts = window_starts(n, self.window, min(settings.overlap, self.window // 2))
        inputs = self._window_inputs(motion, starts, length)
        gen = torch.Generator().manual_seed(settings.seed)
        traj, pose = self.denoise(inputs["cond"], inputs["joint_mask"], settings, gen)
        out = self._to_world(traj, pose, inputs["frames"])
        weights = torch.as_tensor(blend_weights(n, starts, length))
        rotations = torch.cat([out["root"][..., None, :, :], out["pose"]], dim=-3)  # (B, L, 22, 3, 3)
        blended_rot = torch.zeros(n, 22, 3, 3, dtype=torch.float64)
        blended = {k: torch.zeros(n, *out[k].shape[2:], dtype=torch.float64) for k in ("trans", "contacts")}
        for i, s in enumerate(starts):
            w = weights[i][:, None]
            blended_rot[s:s + length] += w[..., None, None] * rotations[i]
            for k in blended:
                blended[k][s:s + length] += w * out[k][i]
        local = roma.special_procrustes(blended_rot)
        rest = self.body.rest_joints(out["betas"][None])[0]
        joints, _ = forward_kinematics_rotmat(rest, local, blended["trans"])
        aa = roma.rotmat_to_rotvec(local)
        extras = dict(motion.extras)
        extras.update({f"settings_{k}": np.asarray(-1 if v is None else v) for k, v in asdict(settings).items()})
        if motion.joint_mask is not None or np.isnan(motion.joints).any():
            extras["input_joint_mask"] = motion.observed()
        return Motion(joints=joints.numpy(), fps=motion.fps, trans=blended["trans"].numpy(),
                      root_orient=aa[:, 0].numpy(), pose_body=aa[:, 1:].reshape(n, 63).numpy(),
                      betas=out["betas"].numpy(), body_model="anny", contacts=blended["contacts"].clamp(0, 1).numpy(),
                      keypoints_2d=motion.keypoints_2d, keypoints_2d_conf=motion.keypoints_2d_conf,
                      intrinsics=motion.intrinsics, extras=extras)


class MDMReconstructor(Reconstructor):
    """The MDM++ baseline (supp. C): one transformer denoises trajectory and pose together,
    conditioned on the masked noisy input; same windows, frames and outputs as rohm."""

    def __init__(self, mdm: torch.nn.Module, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mdm = mdm.to(self.device).eval()

    @classmethod
    def from_pretrained(cls, folder: str | Path | None = None, device: str | torch.device = "cpu") -> MDMReconstructor:
        """Load MDM++ (and the shared parts) from shipped or exported weights."""
        folder, args = cls._pretrained_args(folder, device)
        mdm, _ = load_network(folder / "mdm.safetensors", device)
        return cls(mdm, *args, device=device)

    @torch.no_grad()
    def denoise(self, cond: torch.Tensor, joint_mask: torch.Tensor, settings: Settings,
                gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """One sampling pass over the full feature vector (MDM++ has no iterations)."""
        full = self._sample(self.mdm, self.pose_schedule, tuple(cond.shape), settings.pose_steps, settings, gen,
                            cond=cond, cond_mask=joint_mask)
        return full[..., list(self.layout.traj_abs)], full[..., self.layout.local]
