"""The reconstructor: the paper's iterative inference (Algorithm 1) over any-length motion.

Iteration 1: TrajNet denoises and infills the input trajectory (c_R = M_R * R~), then
PoseNet the local pose given that trajectory (c_P = (R^1, M_P * P~)). Iteration i > 1:
TrajNet with TrajControl, controlled by the pose P^{i-1}, then PoseNet on R^i. The paper
(Eq. 10-11) conditions these on the previous estimates; by default rohm keeps them
conditioned on the input itself (`anchor_input`), as TrajControl and PoseNet were trained,
which measured better on the val split (it stops the estimate drifting from the evidence).
PoseNet sampling is score-guided (Eq. 12-14, `rohm.inference.guidance`).

Any length: the motion is cut into overlapping windows, each in its own canonical frame;
windows are denoised a batch at a time (memory stays flat with length), mapped back to
one world frame and cross-faded, so the output has exactly the input's frames and no seams.
Inputs at another frame rate are resampled to the models' rate and back. The camera of the 2D
evidence (extras['extrinsics'], world -> camera) is one (4, 4) for the clip or one per frame
(N, 4, 4, e.g. a moving camera); per-frame cameras are resampled with the motion.
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import roma
import torch
from tqdm.auto import tqdm

from rohm.body import BodyModel, load_body
from rohm.body.kinematics import forward_kinematics_rotmat
from rohm.diffusion import GaussianDiffusion, gradient_guidance, sample
from rohm.diffusion.sampler import GuidanceFn
from rohm.errors import RohmError
from rohm.data.retarget import retarget
from rohm.inference.anchoring import anchor_joints, drift_correction
from rohm.inference.foot_lock import MAX_DROP, lock_feet
from rohm.inference.guidance import CONFIDENCE_THRESHOLD, Keypoints2D, PoseGuidance, camera_maps, frame_extrinsics
from rohm.inference.prepare import Prepared, prepare
from rohm.inference.pretrained import DEFAULT_WEIGHTS, load_network, read_manifest
from rohm.inference.resample import resample_motion
from rohm.inference.windows import blend_weights, window_starts
from rohm.io.motion_file import Motion
from rohm.representation import Normalizer, canonical_frame, encode, feature_mask
from rohm.representation.canonical import CanonicalFrame, apply_frames
from rohm.representation.features import decode
from rohm.skeleton import NUM_JOINTS

MIN_FRAMES = 3  # velocities and contacts need neighbours; acceleration needs three frames
MODEL_FPS = 30.0  # rate of the training data when a weights manifest does not say


PAPER_CONDITIONING: dict[str, Any] = dict(anchor_input=False, drift_sigma=None, joint_sigma=None, foot_lock=False,
                                          window=144)


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
    guidance: bool = True
    # Guidance strengths, in rohm's units (metres and focal lengths against normalised features),
    # chosen on val clips (see MODEL_CARD.md): more lowers skating / 2D error but costs accuracy.
    skate_weight: float = 1e8
    reproj_weight: float = 3e6
    guidance_steps: int | None = 8  # last PoseNet steps that are guided; None: a tenth of them (paper: 100 of 1000)
    guidance_clip: float | None = 10.0  # bound on each guidance update, in posterior std (None: unbounded)
    drift_sigma: float | None = 15.0  # frames; low-pass pelvis correction towards the input (None: off)
    joint_sigma: float | None = 2.0  # frames; low-pass per-joint anchoring to observed joints + IK (None: off)
    gap_weight: float = 0.05  # weight of the straight path through unobserved pelvis frames (drift correction)
    joint_gap_weight: float = 1.0  # the same for each joint in its own gaps (joint anchoring)
    # Joint anchoring pulls towards an RTS smoothing of the observations (the evidence's best
    # estimate) rather than the raw ones; sigma, gap weight and this chosen on val + CMU
    # (benchmarks/results/val_anchoring.json).
    smooth_evidence: bool = True
    # With 2D keypoints (a camera) the 3D observations carry depth errors that no smoothing removes:
    # anchoring then uses the raw 3D at (sigma, gap weight) = camera_anchoring (v0.2's, chosen on Cam val).
    camera_anchoring: tuple[float, float] = (8.0, 0.3)
    foot_lock: bool = True  # pin feet during their contact spans + IK (rohm.inference.foot_lock)
    foot_shift: float = 0.2  # metres a pinned foot may be moved; spans needing more are left alone (video: 0.4)
    foot_drop: float = 0.0  # metres the body may be lowered so a leg reaches its pinned foot (video: 0.08)
    samples: int = 1
    batch_windows: int = 32  # windows (x samples) denoised together; bounds memory
    window: int | None = None  # frames per window (None: the length the networks were trained on)

    @classmethod
    def paper(cls) -> Settings:
        """Algorithm 1 as the paper writes it: iterations conditioned on the previous estimates
        (Eq. 10-11), full ancestral DDPM (100 TrajNet / 1000 PoseNet steps), unbounded guidance
        (Eq. 12-14) on the last 100 PoseNet steps, 144-frame windows, none of rohm's
        post-processing (drift correction, joint anchoring, foot locking). Windows still
        overlap and cross-fade (the paper's code cuts hard every 143 frames)."""
        return cls(traj_steps=None, pose_steps=None, method="ddpm", guidance_steps=100, guidance_clip=None,
                   **PAPER_CONDITIONING)

    @classmethod
    def paper_fast(cls) -> Settings:
        """The paper's conditioning and no post-processing (as `paper`), sampled with rohm's
        fast DDIM steps (guidance bounded, which coarse steps need): for ablations of the
        paper's mechanisms at a cost the whole benchmark can afford."""
        return cls(**PAPER_CONDITIONING)

    def check(self) -> None:
        """Refuse settings that cannot run, with one line."""
        if self.window is not None and self.window < 8:
            raise RohmError(f"window must be at least 8 frames, got {self.window}")
        if self.iterations < 1 or self.samples < 1 or self.batch_windows < 1:
            raise RohmError(f"iterations, samples and batch_windows must be >= 1 (got {self.iterations}, "
                            f"{self.samples}, {self.batch_windows})")
        for name in ("traj_steps", "pose_steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise RohmError(f"{name} must be >= 1, got {value}")
        weights = (self.foot_shift, self.gap_weight, self.joint_gap_weight)
        if not 0.0 <= self.foot_drop <= MAX_DROP or min(weights) < 0:
            raise RohmError(f"foot_drop must be in [0, {MAX_DROP}] m, foot_shift, gap_weight and joint_gap_weight >= 0 "
                            f"(got {self.foot_drop}, {self.foot_shift}, {self.gap_weight}, {self.joint_gap_weight})")
        if self.method not in ("ddim", "ddpm"):
            raise RohmError(f"method must be ddim or ddpm, got {self.method!r}")


def check_motion(motion: Motion) -> None:
    """One-line errors for inputs no model can use."""
    if motion.num_frames < MIN_FRAMES:
        raise RohmError(f"the motion has {motion.num_frames} frames; at least {MIN_FRAMES} are needed")
    if not np.isfinite(motion.fps) or motion.fps <= 0:
        raise RohmError(f"fps must be a positive number, got {motion.fps}")
    if not motion.observed()[:, 0].any():
        raise RohmError("the pelvis is never observed (all-NaN or fully masked joints): "
                        "the motion cannot be placed in the world")
    if motion.keypoints_2d is not None and motion.keypoints_2d.shape[1] != NUM_JOINTS:
        raise RohmError(f"keypoints_2d has {motion.keypoints_2d.shape[1]} points per frame; "
                        f"2D guidance needs the {NUM_JOINTS} body joints in rohm's order")
    frame_extrinsics(motion.extras.get("extrinsics"), motion.num_frames)  # (4, 4) or one per frame


def with_confidence_mask(motion: Motion) -> Motion:
    """The motion with joints whose 2D confidence is below the threshold (or NaN) masked in 3D
    too: a joint the detector barely sees is not trusted as an observation."""
    if motion.keypoints_2d_conf is None or motion.keypoints_2d_conf.shape != motion.joints.shape[:2]:
        return motion
    conf = np.nan_to_num(np.asarray(motion.keypoints_2d_conf, dtype=np.float64), nan=0.0)
    mask = motion.observed() & (conf >= CONFIDENCE_THRESHOLD)
    return dataclasses.replace(motion, joint_mask=mask)


def smoothed_evidence(motion: Motion) -> Motion:
    """The motion with its observed joints replaced by a Kalman/RTS smoothing of the observations
    (constant-velocity model, the classical baseline's val-tuned noise levels): the best the
    evidence alone says about where an observed joint is, for joint anchoring to pull towards."""
    from rohm.baselines.classical import RTS, fill_motion

    filled, observed = fill_motion(motion)
    smoothed = RTS()(filled, observed, float(motion.fps))
    return dataclasses.replace(motion, joints=np.where(observed[..., None], smoothed, np.nan), joint_mask=observed)


class Reconstructor:
    """Noisy, incomplete motion in; clean, complete, world-space motion out (same frames)."""

    def __init__(self, trajnet: torch.nn.Module, posenet: torch.nn.Module, normalizer: Normalizer, window: int,
                 traj_diffusion_steps: int, pose_diffusion_steps: int, body: BodyModel | None = None,
                 device: str | torch.device = "cpu", fps: float = MODEL_FPS) -> None:
        self.device = torch.device(device)
        self.trajnet, self.posenet = trajnet.to(self.device).eval(), posenet.to(self.device).eval()
        self.normalizer, self.layout, self.window, self.fps = normalizer, normalizer.layout, window, fps
        self.traj_schedule = GaussianDiffusion(traj_diffusion_steps)
        self.pose_schedule = GaussianDiffusion(pose_diffusion_steps)
        self.body = body or load_body("anny")

    @staticmethod
    def _pretrained_args(folder: str | Path | None, device: str | torch.device) -> tuple[Path, list[Any], float]:
        """The weights folder, the constructor arguments read from it, and the models' fps."""
        folder = Path(folder) if folder is not None else DEFAULT_WEIGHTS
        manifest = read_manifest(folder)
        trajnet, _ = load_network(folder / "trajnet.safetensors", device)
        posenet, _ = load_network(folder / "posenet.safetensors", device)
        normalizer = Normalizer.load(folder / "normalization.safetensors")
        try:
            args = [trajnet, posenet, normalizer, manifest["window"], manifest["traj_diffusion_steps"],
                    manifest["pose_diffusion_steps"]]
        except KeyError as exc:
            raise RohmError(f"manifest.json lacks {exc}", folder) from None
        return folder, args, float(manifest.get("fps", MODEL_FPS))

    @classmethod
    def from_pretrained(cls, folder: str | Path | None = None, device: str | torch.device = "cpu") -> Reconstructor:
        """Load shipped (default) or exported weights."""
        _, args, fps = cls._pretrained_args(folder, device)
        return cls(*args, device=device, fps=fps)

    # ----- inputs ---------------------------------------------------------------------------
    def _window_inputs(self, prep: Prepared, starts: list[int], length: int) -> dict[str, Any]:
        """Normalised, masked condition features of the windows, each in its canonical frame."""
        idx = np.asarray(starts)[:, None] + np.arange(length)
        t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
        joints, observed = prep.joints[idx], prep.observed[idx]
        # A window whose pelvis is never seen (a long full occlusion) is placed by the filled-in joints.
        frames = [canonical_frame(np.where(observed[b][..., None], joints[b], np.nan), observed[b],
                                  prep.root_orient[idx[b]], floor_height=0.0) if observed[b][:, 0].any()
                  else canonical_frame(joints[b], None, prep.root_orient[idx[b]], floor_height=0.0)
                  for b in range(len(starts))]
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
        return {"cond": cond, "joint_mask": mask.float().to(self.device), "frames": frames, "idx": idx}

    def _keypoints(self, motion: Motion, idx: np.ndarray, frames: list[CanonicalFrame]) -> Keypoints2D | None:
        """The 2D evidence of the windows, or None without keypoints and intrinsics."""
        if motion.keypoints_2d is None or motion.intrinsics is None:
            return None
        points = np.asarray(motion.keypoints_2d, dtype=np.float64)[idx]
        conf = np.ones(points.shape[:-1]) if motion.keypoints_2d_conf is None else np.asarray(motion.keypoints_2d_conf)[idx]
        missing = np.isnan(points).any(-1) | np.isnan(conf)
        extrinsics = frame_extrinsics(motion.extras.get("extrinsics"), motion.num_frames)[idx]  # (B, L, 4, 4)
        rot, off = camera_maps(frames, extrinsics)
        f32 = lambda a: torch.as_tensor(a, dtype=torch.float32, device=self.device)  # noqa: E731
        return Keypoints2D(f32(np.where(missing[..., None], 0.0, points)), f32(np.where(missing, 0.0, conf)),
                           f32(motion.intrinsics), f32(rot), f32(off))

    # ----- sampling --------------------------------------------------------------------------
    def _sample(self, net: torch.nn.Module, schedule: GaussianDiffusion, shape: tuple[int, ...], steps: int | None,
                settings: Settings, gen: torch.Generator, guidance: GuidanceFn | None = None,
                **kwargs: Any) -> torch.Tensor:
        def model_fn(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return net(x_t, t, **kwargs)
        x_T = torch.randn(shape, generator=gen).to(self.device)
        used = steps or schedule.num_steps
        guided = settings.guidance_steps if settings.guidance_steps is not None else max(2, used // 10)
        return sample(model_fn, shape, schedule, steps=steps, method=settings.method, x_T=x_T, generator=gen,
                      guidance=guidance, guidance_steps=guided if guidance is not None else 0,
                      guidance_clip=settings.guidance_clip)

    @torch.no_grad()
    def denoise(self, cond: torch.Tensor, joint_mask: torch.Tensor, settings: Settings, gen: torch.Generator,
                guidance: Callable[[torch.Tensor], GuidanceFn | None] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Algorithm 1 on normalised window features: returns (trajectory (B,L,13), local pose (B,L,Dp)).

        guidance(traj) gives the PoseNet guidance for a trajectory estimate (None: unguided)."""
        traj_cols, local = list(self.layout.traj_abs), self.layout.local
        b, n = cond.shape[:2]
        traj_shape, pose_shape = (b, n, len(traj_cols)), (b, n, local.stop - local.start)
        ones = torch.ones(b, n, NUM_JOINTS, device=cond.device)
        use_control = settings.trajcontrol and getattr(self.trajnet, "control", None) is not None
        r_cond, r_mask, control = cond[..., traj_cols], joint_mask[..., :1], None
        p_cond, p_mask = cond[..., local], joint_mask
        traj = pose = None
        for _ in range(settings.iterations):
            traj = self._sample(self.trajnet, self.traj_schedule, traj_shape, settings.traj_steps, settings, gen,
                                cond=r_cond, cond_mask=r_mask, control=control)
            pose = self._sample(self.posenet, self.pose_schedule, pose_shape, settings.pose_steps, settings, gen,
                                guidance=guidance(traj) if guidance is not None else None,
                                traj=traj, cond=p_cond, cond_mask=p_mask)
            control = pose if use_control else None
            if not settings.anchor_input:
                r_cond, r_mask, p_cond, p_mask = traj, ones[..., :1], pose, ones
        return traj, pose

    def _guidance(self, settings: Settings, rest: torch.Tensor,
                  keypoints: Keypoints2D | None) -> Callable[[torch.Tensor], GuidanceFn | None] | None:
        """A factory of PoseNet guidance for a trajectory, or None when guidance is off."""
        if not settings.guidance or (settings.skate_weight <= 0 and (keypoints is None or settings.reproj_weight <= 0)):
            return None

        def make(traj: torch.Tensor) -> GuidanceFn:
            objective = PoseGuidance(self.normalizer, traj, rest, settings.skate_weight, keypoints, settings.reproj_weight)
            return gradient_guidance(objective.objective)
        return make

    # ----- outputs ---------------------------------------------------------------------------
    def _to_world(self, traj: torch.Tensor, pose: torch.Tensor, frames: list[CanonicalFrame],
                  pelvis: torch.Tensor) -> dict[str, torch.Tensor]:
        """Root and joint rotations, translation and contacts of each window in the world frame."""
        full = torch.zeros(*traj.shape[:2], self.layout.dim, dtype=torch.float64)
        full[..., list(self.layout.traj_abs)] = traj.double().cpu()
        full[..., self.layout.local] = pose.double().cpu()
        d = decode(self.normalizer.denormalize(full), self.layout)
        inverse = [f.inverse() for f in frames]
        rot = torch.stack([torch.as_tensor(f.rotation) for f in inverse])  # (B, 3, 3)
        off = torch.stack([torch.as_tensor(f.offset) for f in inverse])
        root = rot[:, None] @ d["root_rotmat"]
        trans = (d["trans"] + pelvis) @ rot.transpose(-1, -2) + off[:, None] - pelvis
        rotations = torch.cat([root[..., None, :, :], d["pose_rotmat"]], dim=-3)  # (B, L, 22, 3, 3)
        return {"rotations": rotations, "trans": trans, "contacts": d["contacts"]}

    def reconstruct(self, motion: Motion, settings: Settings | None = None, progress: bool = False) -> Motion:
        """Denoise and complete a motion; the output has exactly as many frames as the input."""
        settings = settings or Settings()
        settings.check()
        motion = with_confidence_mask(motion)
        check_motion(motion)  # after the mask: a pelvis the detector never sees is refused too
        work = resample_motion(motion, self.fps)
        if work.num_frames < MIN_FRAMES:
            raise RohmError(f"the motion lasts {work.num_frames} frames at the models' {self.fps:g} fps; "
                            f"at least {MIN_FRAMES} are needed")
        out = self._reconstruct(work, settings, progress)
        if settings.drift_sigma is not None:
            observed = work.observed()[:, 0]
            shift = drift_correction(out.joints[:, 0], np.nan_to_num(work.joints[:, 0]), observed, settings.drift_sigma,
                                     settings.gap_weight)
            out.joints, out.trans = out.joints + shift[:, None], out.trans + shift
        if settings.joint_sigma is not None:
            if work.keypoints_2d is not None:  # a camera: depth-noisy 3D, anchored loosely to the raw input
                out = self._anchor(out, work, *settings.camera_anchoring)
            else:
                evidence = smoothed_evidence(work) if settings.smooth_evidence else work
                out = self._anchor(out, evidence, settings.joint_sigma, settings.joint_gap_weight)
        out = resample_motion(out, motion.fps, motion.num_frames)
        if settings.foot_lock:
            rest = self.body.rest_joints(torch.as_tensor(out.betas, dtype=torch.float64)[None])[0]
            out = lock_feet(out, rest, settings.foot_shift, settings.foot_drop)
        extras = dict(motion.extras)
        extras.update({f"settings_{k}": np.asarray(-1 if v is None else v) for k, v in asdict(settings).items()})
        if motion.joint_mask is not None or np.isnan(motion.joints).any():
            extras["input_joint_mask"] = motion.observed()
        for key in ("joints_std", "shape_source"):
            if key in out.extras:
                extras[key] = out.extras[key]
        out.extras = extras
        out.keypoints_2d, out.keypoints_2d_conf, out.intrinsics = motion.keypoints_2d, motion.keypoints_2d_conf, motion.intrinsics
        return out

    def _anchor(self, out: Motion, evidence: Motion, sigma: float, gap_weight: float) -> Motion:
        """Observed joints pulled towards the input at time scales above `sigma` frames (and, with
        `gap_weight`, towards the line between observations through their gaps), then the body
        fitted to them by inverse kinematics (joints and parameters stay consistent)."""
        joints = anchor_joints(out.joints, evidence.joints, evidence.observed(), sigma, gap_weight)
        rest = self.body.rest_joints(torch.as_tensor(out.betas, dtype=torch.float64)[None])[0]
        fit = retarget(rest, torch.as_tensor(joints))
        return dataclasses.replace(out, joints=fit.joints.numpy(), trans=fit.trans.numpy(),
                                   root_orient=fit.root_orient.numpy(), pose_body=fit.pose_body.numpy())

    def _reconstruct(self, motion: Motion, settings: Settings, progress: bool) -> Motion:
        """Windows a batch at a time, blended into one world frame (motion already at the models' fps)."""
        n, samples = motion.num_frames, settings.samples
        prep = prepare(motion, self.body)
        betas = torch.as_tensor(prep.betas, dtype=torch.float64)
        rest = self.body.rest_joints(betas[None])[0]
        window = settings.window or self.window
        length = min(window, n)
        starts = window_starts(n, window, min(settings.overlap, window // 2))
        weights = torch.as_tensor(blend_weights(n, starts, length))
        acc_rot = torch.zeros(samples, n, NUM_JOINTS, 3, 3, dtype=torch.float64)
        acc = {k: torch.zeros(samples, n, c, dtype=torch.float64) for k, c in (("trans", 3), ("contacts", 4))}
        gen = torch.Generator().manual_seed(settings.seed)
        chunk = max(1, settings.batch_windows // samples)
        bar = tqdm(total=len(starts), desc="windows", unit="win", disable=not progress, leave=False)
        for c0 in range(0, len(starts), chunk):
            ws = starts[c0:c0 + chunk]
            inputs = self._window_inputs(prep, ws, length)
            frames = inputs["frames"] * samples  # batch index = sample * len(ws) + window
            keypoints = self._keypoints(motion, np.tile(inputs["idx"], (samples, 1)), frames)
            make_guidance = self._guidance(settings, rest.float().to(self.device), keypoints)
            traj, pose = self.denoise(inputs["cond"].repeat(samples, 1, 1), inputs["joint_mask"].repeat(samples, 1, 1),
                                      settings, gen, make_guidance)
            out = self._to_world(traj, pose, frames, rest[0])
            for s in range(samples):
                for i, start in enumerate(ws):
                    b, w = s * len(ws) + i, weights[c0 + i][:, None]
                    acc_rot[s, start:start + length] += w[..., None, None] * out["rotations"][b]
                    for k in acc:
                        acc[k][s, start:start + length] += w * out[k][b]
            bar.update(len(ws))
        bar.close()
        local = roma.special_procrustes(acc_rot)
        joints, _ = forward_kinematics_rotmat(rest, local, acc["trans"])
        aa = roma.rotmat_to_rotvec(local[0])
        extras = {"joints_std": joints.std(dim=0, unbiased=False).norm(dim=-1).numpy()} if samples > 1 else {}
        extras["shape_source"] = np.str_(prep.shape_source)
        return Motion(joints=joints[0].numpy(), fps=motion.fps, trans=acc["trans"][0].numpy(),
                      root_orient=aa[:, 0].numpy(), pose_body=aa[:, 1:].reshape(n, 63).numpy(),
                      betas=prep.betas.copy(), body_model=self.body.name,
                      contacts=acc["contacts"][0].clamp(0, 1).numpy(), extras=extras)


class MDMReconstructor(Reconstructor):
    """The MDM++ baseline (supp. C): one transformer denoises trajectory and pose together,
    conditioned on the masked noisy input; same windows, frames and outputs as rohm, no guidance."""

    def __init__(self, mdm: torch.nn.Module, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mdm = mdm.to(self.device).eval()

    @classmethod
    def from_pretrained(cls, folder: str | Path | None = None, device: str | torch.device = "cpu") -> MDMReconstructor:
        """Load MDM++ (and the shared parts) from shipped or exported weights."""
        folder, args, fps = cls._pretrained_args(folder, device)
        mdm, _ = load_network(folder / "mdm.safetensors", device)
        return cls(mdm, *args, device=device, fps=fps)

    @torch.no_grad()
    def denoise(self, cond: torch.Tensor, joint_mask: torch.Tensor, settings: Settings, gen: torch.Generator,
                guidance: Callable[[torch.Tensor], GuidanceFn | None] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One sampling pass over the full feature vector (MDM++ has no iterations and no guidance)."""
        full = self._sample(self.mdm, self.pose_schedule, tuple(cond.shape), settings.pose_steps, settings, gen,
                            cond=cond, cond_mask=joint_mask)
        return full[..., list(self.layout.traj_abs)], full[..., self.layout.local]
