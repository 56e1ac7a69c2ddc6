"""The `optim` baseline: VPoser-t / HuMoR-style test-time optimisation of body parameters.

The slow but careful reference rohm's diffusion model is compared with. Per clip, starting
from `prepare` (complete body parameters), each frame's body pose is a latent z of the
learned pose prior (`rohm.baselines.pose_prior`); z, the root orientation (axis-angle) and
the translation of all frames are optimised together with Adam (cosine-annealed step size,
a fixed number of steps); the body shape stays the prepared one. Objective, with J the
joints by forward kinematics, each term summed over joints and averaged over frames
(differences are per frame, not per second):

    data         * rho(|J - J_obs|^2, sigma)                observed joints only
    reproj       * c * rho(|Pi(J) - x|^2 / f^2, sigma_2d)   2D keypoints x, confidence c >= 0.2
    joint_vel    * |J_t+1 - J_t|^2
    joint_acc    * |J_t+1 - 2 J_t + J_t-1|^2
    latent_vel   * |z_t+1 - z_t|^2
    latent_prior * |z_t|^2
    floor        * max(0, -y_foot)^2                        feet not below the floor y = 0
    skate        * [y_foot,t < h] * |foot_t+1 - foot_t|^2   feet near the floor stay put

rho(r2, s) = s^2 r2 / (s^2 + r2) (Geman-McClure) grows like r2 for small residuals and
saturates for outliers; Pi projects with the clip's intrinsics and each frame's extrinsics
(default: the OpenGL-style world of `rohm.inference.guidance`), residuals in focal-length units; h are the
contact heights of `rohm.body.contacts` (ankle 18 cm, toe 15 cm), read off the current
estimate without gradient. Adam rather than L-BFGS: the frames are nearly independent
problems, and one shared line search converged several times slower on them.
Long clips are cut into overlapping chunks, fitted one at a time (memory stays flat) and
cross-faded (rotations averaged and projected back onto SO(3)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import roma
import torch

from rohm.baselines.pose_prior import PosePrior, load_pose_prior
from rohm.body import BodyModel, load_body
from rohm.body.contacts import HEIGHT_THRESHOLDS
from rohm.body.kinematics import forward_kinematics_rotmat
from rohm.errors import RohmError
from rohm.inference.guidance import CONFIDENCE_THRESHOLD, frame_extrinsics, project
from rohm.inference.prepare import Prepared, fill_in_time, prepare
from rohm.inference.windows import Blender, blend_weights, window_starts
from rohm.io.motion_file import Motion
from rohm.skeleton import FOOT_JOINTS, NUM_JOINTS

DTYPE = torch.float32  # fits as well as float64 here (checked), in less time and memory
Camera = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # per frame world->camera rotation (N,3,3), offset (N,3); intrinsics


@dataclass
class OptimSettings:
    """Loss weights and solver settings. The 3D weights were tuned lightly on the val split
    (Occ-L and Occ-10%, k = 3): see benchmarks/results/optim_tuning.json. The benchmark has no
    2D keypoints, so `reproj`/`sigma_2d` were set on a synthetic camera (tests/test_optim.py):
    strong enough that clean keypoints pull occluded legs into place within the iterations."""

    iterations: int = 150  # Adam steps
    data: float = 1.0
    reproj: float = 100.0
    joint_vel: float = 0.0
    joint_acc: float = 10.0
    latent_vel: float = 0.1
    latent_prior: float = 1e-3
    floor: float = 10.0
    skate: float = 10.0
    sigma: float = 0.1  # m, Geman-McClure scale of the 3D data term
    sigma_2d: float = 0.1  # focal lengths (100 px at f = 1000), scale of the 2D term
    chunk: int = 300  # frames optimised together; longer clips are cut into chunks
    overlap: int = 30
    lr: float = 0.05  # Adam, cosine-annealed to 0 over the iterations
    # torch intra-op threads while fitting (restored after; None: leave as is). A chunk's tensors
    # are small, so more threads mostly add synchronisation: 20x slower on a busy 2-core machine.
    threads: int | None = 1


def geman_mcclure(r2: torch.Tensor, sigma: float) -> torch.Tensor:
    """Robust penalty of squared residuals: ~r2 when small, -> sigma^2 for outliers."""
    return sigma**2 * r2 / (sigma**2 + r2)


@dataclass
class Evidence:
    """What one chunk is fitted to: observed joints (n, 22, 3) with mask (n, 22), and 2D
    keypoints (n, 22, 2) with confidence (n, 22) (zero where unusable) when present."""

    joints: torch.Tensor
    observed: torch.Tensor
    points: torch.Tensor | None = None
    confidence: torch.Tensor | None = None


class OptimBaseline:
    """Callable `Motion -> Motion`: the test-time optimisation fit of one clip."""

    def __init__(self, settings: OptimSettings | None = None, prior: PosePrior | None = None,
                 body: BodyModel | None = None) -> None:
        self.settings = settings or OptimSettings()
        self.prior = prior or load_pose_prior()
        self.body = body or load_body()
        self.contact_height = torch.as_tensor(HEIGHT_THRESHOLDS, dtype=DTYPE)

    def __call__(self, motion: Motion) -> Motion:
        threads = torch.get_num_threads()
        if self.settings.threads is not None:
            torch.set_num_threads(self.settings.threads)
        try:
            return self._reconstruct(motion)
        finally:
            torch.set_num_threads(threads)

    def _reconstruct(self, motion: Motion) -> Motion:
        s, n = self.settings, motion.num_frames
        if motion.keypoints_2d is not None and motion.keypoints_2d.shape[1] != NUM_JOINTS:
            raise RohmError(f"keypoints_2d has {motion.keypoints_2d.shape[1]} points per frame; "
                            f"the 2D term needs the {NUM_JOINTS} body joints in rohm's order")
        prep = prepare(motion, self.body)
        with torch.no_grad():
            rest = self.body.rest_joints(torch.as_tensor(prep.betas, dtype=torch.float64)[None])[0].to(DTYPE)
        camera = self._camera(motion)
        length = min(s.chunk, n)
        starts = window_starts(n, s.chunk, min(s.overlap, s.chunk // 2))
        blender = Blender(blend_weights(n, starts, length), starts, n, channels={"trans": 3}, dtype=DTYPE)
        for i, start in enumerate(starts):
            chunk_rot, chunk_trans = self.fit(prep, slice(start, start + length), rest, motion, camera)
            blender.add(i, 0, chunk_rot, trans=chunk_trans)
        rotations, channels = blender.result()
        rot, trans = rotations[0], channels["trans"][0]
        joints = forward_kinematics_rotmat(rest, rot, trans)[0]
        aa = roma.rotmat_to_rotvec(rot).double().numpy()
        return Motion(joints=joints.double().numpy(), fps=motion.fps, trans=trans.double().numpy(),
                      root_orient=aa[:, 0], pose_body=aa[:, 1:].reshape(n, 3 * (NUM_JOINTS - 1)),
                      betas=prep.betas.copy(), body_model=self.body.name, keypoints_2d=motion.keypoints_2d,
                      keypoints_2d_conf=motion.keypoints_2d_conf, intrinsics=motion.intrinsics,
                      extrinsics=motion.extrinsics, extras=dict(motion.extras))

    @staticmethod
    def _camera(motion: Motion) -> Camera | None:
        """The camera of every frame of the clip's 2D keypoints (one for the clip or one per frame,
        as `Motion.extrinsics` has it), when it has keypoints and intrinsics."""
        if motion.keypoints_2d is None or motion.intrinsics is None:
            return None
        ext = torch.tensor(frame_extrinsics(motion.extrinsics, motion.num_frames), dtype=DTYPE)
        return ext[:, :3, :3], ext[:, :3, 3], torch.as_tensor(motion.intrinsics, dtype=DTYPE)

    def _evidence(self, prep: Prepared, idx: slice, motion: Motion, camera: Camera | None) -> Evidence:
        ev = Evidence(joints=torch.as_tensor(np.nan_to_num(motion.joints[idx]), dtype=DTYPE),
                      observed=torch.as_tensor(prep.observed[idx]))
        if camera is not None:
            points = np.asarray(motion.keypoints_2d[idx], dtype=np.float64)
            conf = (np.ones(points.shape[:2]) if motion.keypoints_2d_conf is None
                    else np.asarray(motion.keypoints_2d_conf[idx], dtype=np.float64))
            conf = np.where(np.isfinite(points).all(-1) & (conf >= CONFIDENCE_THRESHOLD), np.nan_to_num(conf), 0.0)
            ev.points = torch.as_tensor(np.nan_to_num(points), dtype=DTYPE)
            ev.confidence = torch.as_tensor(conf, dtype=DTYPE)
        return ev

    def fit(self, prep: Prepared, idx: slice, rest: torch.Tensor, motion: Motion,
            camera: Camera | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Optimise frames `idx`; returns local rotations (n, 22, 3, 3), root first, and translation (n, 3)."""
        s = self.settings
        ev = self._evidence(prep, idx, motion, camera)
        camera = None if camera is None else (camera[0][idx], camera[1][idx], camera[2])
        with torch.no_grad():
            z0 = self.prior.encode(torch.as_tensor(prep.pose_body[idx], dtype=DTYPE))[0].numpy()
        # Frames without any observed body joint carry a zero (T-)pose from `prepare`: interpolate
        # their latents from the observed frames instead.
        z0 = fill_in_time(z0, prep.observed[idx, 1:].any(axis=1))
        z = torch.tensor(z0, dtype=DTYPE, requires_grad=True)
        root = torch.tensor(prep.root_orient[idx], dtype=DTYPE, requires_grad=True)
        trans = torch.tensor(prep.trans[idx], dtype=DTYPE, requires_grad=True)

        def pose() -> tuple[torch.Tensor, torch.Tensor]:
            local = torch.cat([roma.rotvec_to_rotmat(root)[:, None], self.prior.decode(z)], dim=1)
            return local, forward_kinematics_rotmat(rest, local, trans)[0]

        opt = torch.optim.Adam([z, root, trans], lr=s.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, s.iterations))
        for _ in range(s.iterations):
            opt.zero_grad()
            self.objective(z, pose()[1], ev, camera).backward()
            opt.step()
            sched.step()
        with torch.no_grad():
            local, _ = pose()
        return local, trans.detach()

    def objective(self, z: torch.Tensor, joints: torch.Tensor, ev: Evidence,
                  camera: Camera | None) -> torch.Tensor:
        """The weighted sum of the module docstring's terms for one chunk."""
        s, n = self.settings, joints.shape[0]
        r2 = (joints - ev.joints).pow(2).sum(-1)
        total = s.data * (geman_mcclure(r2, s.sigma) * ev.observed).sum()
        if camera is not None and s.reproj > 0:
            rot, offset, intr = camera
            pixels = project(torch.einsum("nij,nkj->nki", rot, joints) + offset[:, None], intr)
            res2 = ((pixels - ev.points) / intr[0, 0]).pow(2).sum(-1)
            total = total + s.reproj * (ev.confidence * geman_mcclure(res2, s.sigma_2d)).sum()
        vel = joints[1:] - joints[:-1]
        total = total + s.joint_vel * vel.pow(2).sum() + s.joint_acc * (vel[1:] - vel[:-1]).pow(2).sum()
        total = total + s.latent_vel * (z[1:] - z[:-1]).pow(2).sum() + s.latent_prior * z.pow(2).sum()
        feet = joints[:, list(FOOT_JOINTS)]
        total = total + s.floor * torch.relu(-feet[..., 1]).pow(2).sum()
        if s.skate > 0:
            low = (feet[:-1, :, 1] < self.contact_height).detach()
            total = total + s.skate * (low * (feet[1:] - feet[:-1]).pow(2).sum(-1)).sum()
        return total / n


def optim_method(**params: float | int | None) -> OptimBaseline:
    """The baseline as a protocol method (`Motion -> Motion`); `params` override OptimSettings fields."""
    return OptimBaseline(OptimSettings(**params))
