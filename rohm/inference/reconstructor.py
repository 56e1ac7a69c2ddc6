"""The reconstructor: noisy, incomplete motion in; clean, complete, world-space motion out.

A thin pipeline over explicit stages (`Reconstructor.stages` lists what runs for a setting):
  check -> resample to the models' rate -> prepare (complete body parameters + mask)
  -> windows (canonical frames, features) -> denoise (Algorithm 1, or MDM++) -> blend
  -> refit (forward kinematics of the blended rotations)
  -> model-rate post-processing (drift correction, joint anchoring) -> resample back
  -> output-rate post-processing (foot locking).
Any length: windows are denoised a batch at a time (memory stays flat with length), mapped back
to one world frame and cross-faded, so the output has exactly the input's frames and no seams.
The camera of the 2D evidence (`Motion.extrinsics`, world -> camera) is one (4, 4) for the clip
or one per frame (N, 4, 4, e.g. a moving camera); per-frame cameras are resampled with the motion.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict
from pathlib import Path

import numpy as np
import roma
import torch
from tqdm.auto import tqdm

from rohm.body import BodyModel, load_body
from rohm.body.kinematics import forward_kinematics_rotmat
from rohm.diffusion import GuidanceFn, gradient_guidance
from rohm.errors import RohmError
from rohm.inference.denoise import Algorithm1, Denoiser, GuidanceFactory, JointDenoiser
from rohm.inference.guidance import (
    CONFIDENCE_THRESHOLD,
    Keypoints2D,
    PoseGuidance,
    frame_extrinsics,
)
from rohm.inference.postprocess import model_rate_steps, output_rate_steps
from rohm.inference.prepare import Prepared, prepare
from rohm.inference.pretrained import DEFAULT_WEIGHTS, read_manifest
from rohm.inference.resample import resample_motion
from rohm.inference.settings import Settings
from rohm.inference.window_features import WindowCodec
from rohm.inference.windows import Blender, blend_weights, window_starts
from rohm.io.motion_file import Motion
from rohm.models.weights import load_network
from rohm.representation import Normalizer
from rohm.skeleton import NUM_JOINTS

MIN_FRAMES = 3  # velocities and contacts need neighbours; acceleration needs three frames
MODEL_FPS = 30.0  # rate of the training data when a weights manifest does not say
MODELS = ("rohm", "mdm++")


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
    frame_extrinsics(motion.extrinsics, motion.num_frames)  # (4, 4) or one per frame


def with_confidence_mask(motion: Motion) -> Motion:
    """The motion with joints whose 2D confidence is below the threshold (or NaN) masked in 3D
    too: a joint the detector barely sees is not trusted as an observation."""
    if motion.keypoints_2d_conf is None or motion.keypoints_2d_conf.shape != motion.joints.shape[:2]:
        return motion
    conf = np.nan_to_num(np.asarray(motion.keypoints_2d_conf, dtype=np.float64), nan=0.0)
    return dataclasses.replace(motion, joint_mask=motion.observed() & (conf >= CONFIDENCE_THRESHOLD))


class Reconstructor:
    """The pipeline of the module docstring around one denoiser (rohm's Algorithm 1 or MDM++)."""

    def __init__(self, denoiser: Denoiser, normalizer: Normalizer, window: int, body: BodyModel | None = None,
                 device: str | torch.device = "cpu", fps: float = MODEL_FPS) -> None:
        self.denoiser, self.normalizer, self.window, self.fps = denoiser, normalizer, window, fps
        self.device = torch.device(device)
        self.codec = WindowCodec(normalizer, self.device)
        self.body = body or load_body()

    @classmethod
    def from_pretrained(cls, folder: str | Path | None = None, device: str | torch.device = "cpu",
                        model: str = "rohm") -> Reconstructor:
        """Load shipped (default) or exported weights; `model` "rohm" (TrajNet + PoseNet) or
        "mdm++" (the MDM++ baseline): only that model's networks are loaded."""
        if model not in MODELS:
            raise RohmError(f"unknown model {model!r}; choose from {', '.join(MODELS)}")
        folder = Path(folder) if folder is not None else DEFAULT_WEIGHTS
        manifest = read_manifest(folder)
        try:
            window, traj_steps, pose_steps = (manifest[k] for k in ("window", "traj_diffusion_steps", "pose_diffusion_steps"))
        except KeyError as exc:
            raise RohmError(f"manifest.json lacks {exc}", folder) from None
        nets = [load_network(folder / f"{net}.safetensors", device)[0]
                for net in (("trajnet", "posenet") if model == "rohm" else ("mdm",))]
        normalizer = Normalizer.load(folder / "normalization.safetensors")
        denoiser: Denoiser = (Algorithm1(*nets, normalizer.layout, traj_steps, pose_steps) if model == "rohm"
                              else JointDenoiser(*nets, normalizer.layout, pose_steps))
        return cls(denoiser, normalizer, window, device=device, fps=float(manifest.get("fps", MODEL_FPS)))

    def stages(self, settings: Settings, motion: Motion | None = None) -> list[str]:
        """The names of the stages `reconstruct` runs for these settings (and this input: a motion at
        the models' rate is not resampled; 2D evidence changes what joint anchoring pulls towards)."""
        settings = self.denoiser.effective(settings)
        resample = motion is None or motion.fps != self.fps
        work = motion if motion is not None else Motion(joints=np.zeros((MIN_FRAMES, NUM_JOINTS, 3)), fps=self.fps)
        names = ["check", *(["resample"] if resample else []), "prepare", "windows", f"denoise ({self.denoiser.name})",
                 "blend", "refit"]
        names += [s.name for s in model_rate_steps(dataclasses.replace(settings, smooth_evidence=False), work, self.body)]
        names += ["resample back"] if resample else []
        return names + [s.name for s in output_rate_steps(settings, self.body)]

    def reconstruct(self, motion: Motion, settings: Settings | None = None, progress: bool = False) -> Motion:
        """Denoise and complete a motion; the output has exactly as many frames as the input."""
        settings = self.denoiser.effective(settings or Settings())
        settings.check()
        masked = with_confidence_mask(motion)
        check_motion(masked)  # after the mask: a pelvis the detector never sees is refused too
        work = resample_motion(masked, self.fps)
        if work.num_frames < MIN_FRAMES:
            raise RohmError(f"the motion lasts {work.num_frames} frames at the models' {self.fps:g} fps; "
                            f"at least {MIN_FRAMES} are needed")
        out = self._denoise(work, settings, progress)
        for step in model_rate_steps(settings, work, self.body):
            out = step(out)
        out = resample_motion(out, motion.fps, motion.num_frames)
        for step in output_rate_steps(settings, self.body):
            out = step(out)
        observed_input = masked.joint_mask is not None or np.isnan(masked.joints).any()
        return dataclasses.replace(
            out, keypoints_2d=motion.keypoints_2d, keypoints_2d_conf=motion.keypoints_2d_conf,
            intrinsics=motion.intrinsics, extrinsics=motion.extrinsics, extras=dict(motion.extras),
            input_joint_mask=masked.observed() if observed_input else None, settings=asdict(settings))

    def _guidance(self, settings: Settings, rest: torch.Tensor, keypoints: Keypoints2D | None) -> GuidanceFactory | None:
        """A factory of PoseNet guidance for a trajectory, or None when no objective has weight
        (called only for a guided denoiser with guidance on)."""
        if settings.skate_weight <= 0 and (keypoints is None or settings.reproj_weight <= 0):
            return None

        def make(traj: torch.Tensor) -> GuidanceFn:
            objective = PoseGuidance(self.normalizer, traj, rest, settings.skate_weight, keypoints, settings.reproj_weight)
            return gradient_guidance(objective.objective)
        return make

    def _denoise(self, motion: Motion, settings: Settings, progress: bool) -> Motion:
        """Prepare, window, denoise, blend and refit (the motion already at the models' fps)."""
        n, samples = motion.num_frames, settings.samples
        prep: Prepared = prepare(motion, self.body)
        rest = self.body.rest_joints(torch.as_tensor(prep.betas, dtype=torch.float64)[None])[0]
        window = settings.window or self.window
        length = min(window, n)
        starts = window_starts(n, window, min(settings.overlap, window // 2))
        blender = Blender(blend_weights(n, starts, length), starts, n, samples, {"trans": 3, "contacts": 4})
        gen = torch.Generator().manual_seed(settings.seed)
        chunk = max(1, settings.batch_windows // samples)
        bar = tqdm(total=len(starts), desc="windows", unit="win", disable=not progress, leave=False)
        for c0 in range(0, len(starts), chunk):
            ws = starts[c0:c0 + chunk]
            batch = self.codec.encode(prep, rest, ws, length)
            frames = batch.frames * samples  # batch index = sample * len(ws) + window
            guidance = None
            if self.denoiser.guided and settings.guidance:
                keypoints = self.codec.keypoints(motion, np.tile(batch.idx, (samples, 1)), frames)
                guidance = self._guidance(settings, rest.float().to(self.device), keypoints)
            traj, pose = self.denoiser(batch.cond.repeat(samples, 1, 1), batch.joint_mask.repeat(samples, 1, 1),
                                       settings, gen, guidance)
            world = self.codec.to_world(traj, pose, frames, rest[0])
            for s in range(samples):
                for i in range(len(ws)):
                    b = s * len(ws) + i
                    blender.add(c0 + i, s, world["rotations"][b], trans=world["trans"][b], contacts=world["contacts"][b])
            bar.update(len(ws))
        bar.close()
        local, channels = blender.result()
        joints, _ = forward_kinematics_rotmat(rest, local, channels["trans"])
        aa = roma.rotmat_to_rotvec(local[0])
        return Motion(joints=joints[0].numpy(), fps=motion.fps, trans=channels["trans"][0].numpy(),
                      root_orient=aa[:, 0].numpy(), pose_body=aa[:, 1:].reshape(n, 63).numpy(),
                      betas=prep.betas.copy(), body_model=self.body.name,
                      contacts=channels["contacts"][0].clamp(0, 1).numpy(), shape_source=prep.shape_source,
                      joints_std=joints.std(dim=0, unbiased=False).norm(dim=-1).numpy() if samples > 1 else None)
