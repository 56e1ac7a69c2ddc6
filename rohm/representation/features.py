"""The paper's per-frame motion features x^n = (r^n, p^n) (Eq. 4-5), in torch.

r = (r^l, dr^l, r^a, dr^a, r^z, gamma, dgamma, Phi, dPhi)       25 dims
p = (J, dJ, theta, beta, f)                                      256 + num_betas dims

r^l / r^z: pelvis x, z / height; r^a: heading (yaw of the root's hip axis, like the
canonical facing), unwrapped over time; gamma: SMPL-X trans; Phi: root orientation
in 6D. J: the 21 other joints relative to the pelvis projected on the floor, in the
heading frame; theta: their local rotations in 6D; f: 4 foot contacts. Velocities
are frame differences d[n] = x[n] - x[n-1] with d[0] = d[1], so N frames give N
feature frames. Heading comes from the root orientation rather than the hips so a
missing hip does not erase the trajectory. Everything is batched over leading dims;
`decode` is differentiable (training losses go through it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import roma
import torch

from rohm.body.base import BodyModel
from rohm.body.contacts import HEIGHT_THRESHOLDS, SPEED_THRESHOLD
from rohm.errors import RohmError
from rohm.io.motion_file import Motion
from rohm.representation.canonical import CanonicalFrame, canonicalize
from rohm.skeleton import FOOT_JOINTS, NUM_JOINTS

NUM_LOCAL = NUM_JOINTS - 1  # joints other than the pelvis
NUM_CONTACTS = len(FOOT_JOINTS)
_TRAJ_BLOCKS = (("r_l", 2), ("dr_l", 2), ("r_a", 1), ("dr_a", 1), ("r_z", 1),
                ("gamma", 3), ("dgamma", 3), ("phi", 6), ("dphi", 6))
_TRAJ_VELOCITY = ("dr_l", "dr_a", "dgamma", "dphi")
_TRAJ_ABS = ("r_l", "r_a", "r_z", "gamma", "phi")

# feature_mask gathers each column from a per-frame (..., N, 4*22 + 2) observation
# vector: [joint observed | observed in both frames of its velocity | same two, also
# needing the pelvis (pelvis-relative J, dJ) | always | never].
_POS, _VEL, _POS_REL, _VEL_REL = (k * NUM_JOINTS for k in range(4))
_ALWAYS, _NEVER = 4 * NUM_JOINTS, 4 * NUM_JOINTS + 1


@dataclass(frozen=True)
class FeatureLayout:
    """Column layout of the features for a body with `num_betas` shape values."""

    num_betas: int
    r_l: slice = field(init=False, repr=False, compare=False)
    dr_l: slice = field(init=False, repr=False, compare=False)
    r_a: slice = field(init=False, repr=False, compare=False)
    dr_a: slice = field(init=False, repr=False, compare=False)
    r_z: slice = field(init=False, repr=False, compare=False)
    gamma: slice = field(init=False, repr=False, compare=False)
    dgamma: slice = field(init=False, repr=False, compare=False)
    phi: slice = field(init=False, repr=False, compare=False)
    dphi: slice = field(init=False, repr=False, compare=False)
    joints: slice = field(init=False, repr=False, compare=False)  # J (21*3)
    joint_vel: slice = field(init=False, repr=False, compare=False)  # dJ (21*3)
    rotations: slice = field(init=False, repr=False, compare=False)  # theta (21*6)
    betas: slice = field(init=False, repr=False, compare=False)
    contacts: slice = field(init=False, repr=False, compare=False)
    traj: slice = field(init=False, repr=False, compare=False)  # r, 25 dims
    local: slice = field(init=False, repr=False, compare=False)  # p
    traj_abs: tuple[int, ...] = field(init=False, repr=False, compare=False)  # TrajNet's 13 columns
    dim: int = field(init=False, repr=False, compare=False)
    mask_source: np.ndarray = field(init=False, repr=False, compare=False)  # (dim,) see feature_mask

    def __post_init__(self) -> None:
        blocks = _TRAJ_BLOCKS + (("joints", 3 * NUM_LOCAL), ("joint_vel", 3 * NUM_LOCAL),
                                 ("rotations", 6 * NUM_LOCAL), ("betas", self.num_betas),
                                 ("contacts", NUM_CONTACTS))
        start = 0
        for name, size in blocks:
            object.__setattr__(self, name, slice(start, start + size))
            start += size
        traj_dim = sum(size for _, size in _TRAJ_BLOCKS)
        object.__setattr__(self, "dim", start)
        object.__setattr__(self, "traj", slice(0, traj_dim))
        object.__setattr__(self, "local", slice(traj_dim, start))
        object.__setattr__(self, "traj_abs", tuple(i for name in _TRAJ_ABS for i in range(start)[getattr(self, name)]))
        source = np.full(start, _POS, dtype=np.int64)
        for name in _TRAJ_VELOCITY:
            source[getattr(self, name)] = _VEL
        local_joint = np.arange(1, NUM_JOINTS)
        source[self.joints] = np.repeat(_POS_REL + local_joint, 3)
        source[self.joint_vel] = np.repeat(_VEL_REL + local_joint, 3)
        source[self.rotations] = np.repeat(_POS + local_joint, 6)
        source[self.betas] = _ALWAYS
        source[self.contacts] = _NEVER
        object.__setattr__(self, "mask_source", source)

    def joint_columns(self, joint: int) -> np.ndarray:
        """Column indices of one joint's features: the trajectory for the pelvis, else its J, dJ and theta."""
        if joint == 0:
            return np.arange(self.traj.stop)

        def cols(block: slice, width: int) -> np.ndarray:
            return np.arange(block.start, block.stop)[(joint - 1) * width: joint * width]
        return np.concatenate([cols(self.joints, 3), cols(self.joint_vel, 3), cols(self.rotations, 6)])


def _velocity(x: torch.Tensor, dim: int) -> torch.Tensor:
    """d[n] = x[n] - x[n-1], d[0] = d[1]; zero for a single frame (NaN stays NaN)."""
    if x.shape[dim] == 1:
        return x - x
    d = x.diff(dim=dim)
    return torch.cat([d.narrow(dim, 0, 1), d], dim=dim)


def _previous_frame(x: torch.Tensor) -> torch.Tensor:
    """x[n-1] along dim -2, with frame 1 standing in for frame 0 (as in `_velocity`)."""
    if x.shape[-2] == 1:
        return x
    return torch.cat([x[..., 1:2, :], x[..., :-1, :]], dim=-2)


def unwrap_angle(angle: torch.Tensor) -> torch.Tensor:
    """Unwrap angles (..., N) over time so steps stay within [-pi, pi); NaN frames are
    skipped (they stay NaN) and the frames around them still join up."""
    valid = ~torch.isnan(angle)
    frames = torch.arange(angle.shape[-1], device=angle.device).expand_as(angle)
    last = torch.where(valid, frames, -1).cummax(dim=-1).values
    first = valid.to(torch.int64).argmax(dim=-1, keepdim=True).expand_as(last)
    filled = angle.gather(-1, torch.where(last < 0, first, last))
    step = torch.remainder(filled.diff(dim=-1) + math.pi, 2 * math.pi) - math.pi
    out = torch.cat([filled[..., :1], filled[..., :1] + step.cumsum(dim=-1)], dim=-1)
    return torch.where(valid, out, torch.full_like(out, float("nan")))


def rotate_yaw(v: torch.Tensor, yaw: torch.Tensor) -> torch.Tensor:
    """Rotate vectors (..., 3) by `yaw` (broadcast over (...)) about +y."""
    c, s = torch.cos(yaw), torch.sin(yaw)
    x, y, z = v.unbind(-1)
    return torch.stack([c * x + s * z, y, c * z - s * x], dim=-1)


def root_heading(root_rotmat: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (...) yaw of the facing (hip axis x up) of a root rotation, in (-pi, pi]."""
    return torch.atan2(-root_rotmat[..., 2, 0], root_rotmat[..., 0, 0])


def _to_6d(rotmat: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 6): the first two columns (Zhou et al.), row by row."""
    return rotmat[..., :2].flatten(-2)


def _from_6d(x: torch.Tensor) -> torch.Tensor:
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt; finite for degenerate (near-zero) inputs."""
    return roma.special_gramschmidt(x.unflatten(-1, (3, 2)), epsilon=1e-8)


def foot_contacts_torch(joints: torch.Tensor, fps: float) -> torch.Tensor:
    """(..., N, 22, 3) canonical joints -> (..., N, 4) contact labels (0/1, NaN where a
    foot joint is missing), the rule of rohm.body.contacts on a floor at y = 0."""
    feet = joints[..., FOOT_JOINTS, :]
    if feet.shape[-3] == 1:
        speed = torch.linalg.vector_norm(feet - feet, dim=-1)
    else:
        step = torch.linalg.vector_norm(feet.diff(dim=-3), dim=-1) * fps
        speed = torch.cat([step, step[..., -1:, :]], dim=-2)
    height = feet[..., 1]
    limit = torch.as_tensor(HEIGHT_THRESHOLDS, dtype=feet.dtype, device=feet.device)
    contact = ((speed < SPEED_THRESHOLD) & (height < limit)).to(feet.dtype)
    return torch.where(torch.isnan(speed) | torch.isnan(height), torch.full_like(contact, float("nan")), contact)


def encode(
    joints: torch.Tensor,
    root_orient: torch.Tensor,
    trans: torch.Tensor,
    pose_body: torch.Tensor,
    betas: torch.Tensor,
    contacts: torch.Tensor | None,
    layout: FeatureLayout,
    fps: float | None = None,
) -> torch.Tensor:
    """Features (..., N, D) of canonical motion: joints (..., N, 22, 3), root_orient and
    trans (..., N, 3), pose_body (..., N, 63), betas (..., num_betas), contacts (..., N, 4)
    or None to label them from the joints (needs `fps`). NaN inputs give NaN features in
    the columns that depend on them."""
    if betas.shape[-1] != layout.num_betas:
        raise ValueError(f"betas have {betas.shape[-1]} values, the layout expects {layout.num_betas}")
    if contacts is None:
        if fps is None:
            raise ValueError("fps is needed to label foot contacts")
        contacts = foot_contacts_torch(joints, fps)
    pelvis = joints[..., 0, :]
    root = roma.rotvec_to_rotmat(root_orient)
    heading = unwrap_angle(root_heading(root))[..., None]
    ground = pelvis * pelvis.new_tensor([1.0, 0.0, 1.0])
    local = rotate_yaw(joints[..., 1:, :] - ground[..., None, :], -heading).flatten(-2)
    r_l = pelvis[..., [0, 2]]
    phi = _to_6d(root)
    theta = _to_6d(roma.rotvec_to_rotmat(pose_body.unflatten(-1, (NUM_LOCAL, 3)))).flatten(-2)
    n = joints.shape[-3]
    parts = [
        r_l, _velocity(r_l, -2), heading, _velocity(heading, -2), pelvis[..., 1:2],
        trans, _velocity(trans, -2), phi, _velocity(phi, -2),
        local, _velocity(local, -2), theta,
        betas[..., None, :].expand(*betas.shape[:-1], n, layout.num_betas),
        contacts.to(joints.dtype),
    ]
    return torch.cat([p.to(joints.dtype) for p in parts], dim=-1)


def decode(features: torch.Tensor, layout: FeatureLayout) -> dict[str, torch.Tensor]:
    """Body parameters and joints from features (..., N, D), differentiably.

    Returns root_orient, trans (..., N, 3), pose_body (..., N, 63), root_rotmat
    (..., N, 3, 3), pose_rotmat (..., N, 21, 3, 3), betas (..., num_betas) (mean over
    frames), contacts (..., N, 4) as stored, and joints_local (..., N, 22, 3): the J
    block placed back in the canonical world with r^l, r^a and r^z."""
    r_l = features[..., layout.r_l]
    heading = features[..., layout.r_a]
    height = features[..., layout.r_z]
    root_rotmat = _from_6d(features[..., layout.phi])
    pose_rotmat = _from_6d(features[..., layout.rotations].unflatten(-1, (NUM_LOCAL, 6)))
    ground = torch.stack([r_l[..., 0], torch.zeros_like(r_l[..., 0]), r_l[..., 1]], dim=-1)
    pelvis = torch.cat([r_l[..., :1], height, r_l[..., 1:]], dim=-1)
    local = features[..., layout.joints].unflatten(-1, (NUM_LOCAL, 3))
    others = rotate_yaw(local, heading) + ground[..., None, :]
    return {
        "root_orient": roma.rotmat_to_rotvec(root_rotmat),
        "trans": features[..., layout.gamma],
        "pose_body": roma.rotmat_to_rotvec(pose_rotmat).flatten(-2),
        "root_rotmat": root_rotmat,
        "pose_rotmat": pose_rotmat,
        "betas": features[..., layout.betas].mean(dim=-2),
        "contacts": features[..., layout.contacts],
        "joints_local": torch.cat([pelvis[..., None, :], others], dim=-2),
    }


def feature_mask(joint_mask: torch.Tensor | np.ndarray, layout: FeatureLayout) -> torch.Tensor | np.ndarray:
    """Expand a joint mask (..., N, 22), True = observed, to a feature mask (..., N, D).

    Trajectory columns follow the pelvis; a joint's J/dJ columns need the joint and
    the pelvis (they are pelvis-relative), its rotation columns the joint alone; a
    velocity column needs both frames it is taken from; betas are always observed and
    contacts never (they are predicted). Returns the input's type (numpy or torch)."""
    obs = torch.as_tensor(joint_mask).to(torch.bool)
    vel = obs & _previous_frame(obs)
    shape = obs.shape[:-1]
    table = torch.cat([obs, vel, obs & obs[..., :1], vel & vel[..., :1],
                       torch.ones(*shape, 1, dtype=torch.bool, device=obs.device),
                       torch.zeros(*shape, 1, dtype=torch.bool, device=obs.device)], dim=-1)
    mask = table[..., torch.as_tensor(layout.mask_source, device=obs.device)]
    return mask.numpy() if isinstance(joint_mask, np.ndarray) else mask


def _fixed_betas(motion: Motion, layout: FeatureLayout) -> np.ndarray:
    """The motion's betas cut or zero-padded to the layout's length."""
    if motion.betas is None:
        raise RohmError("the motion has no betas: features need the body shape")
    betas = np.zeros(layout.num_betas)
    used = np.asarray(motion.betas, dtype=np.float64).reshape(-1)[: layout.num_betas]
    betas[: used.size] = used
    return betas


def motion_to_features(
    motion: Motion, layout: FeatureLayout, rest_pelvis: np.ndarray, floor_height: float | None = None
) -> tuple[np.ndarray, CanonicalFrame]:
    """Canonicalise a motion with body parameters and encode it: (N, D) float64 features
    and the frame that maps the canonical motion back to the motion's world."""
    if not motion.has_params:
        raise RohmError("the motion has no body parameters (trans, root_orient, pose_body): features need them")
    canon, frame = canonicalize(motion, rest_pelvis, floor_height)

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a, dtype=np.float64))

    contacts = None if canon.contacts is None else t(canon.contacts)
    feats = encode(t(canon.joints), t(canon.root_orient), t(canon.trans), t(canon.pose_body),
                   t(_fixed_betas(motion, layout)), contacts, layout, fps=motion.fps)
    return feats.numpy(), frame


def features_to_motion(
    features: np.ndarray | torch.Tensor, layout: FeatureLayout, body: BodyModel, frame: CanonicalFrame, fps: float
) -> Motion:
    """Decode features (N, D), pose the body for its joints, and map everything back to
    the world of `frame` (the frame returned by motion_to_features)."""
    feats = torch.as_tensor(features, dtype=torch.float64)
    with torch.no_grad():
        out = decode(feats, layout)
        betas = out["betas"]
        joints = body(betas, out["root_orient"], out["pose_body"], out["trans"]).joints
        rest_pelvis = body.rest_joints(betas[None])[0, 0].to(torch.float64).numpy()
    world = frame.inverse()
    root_orient, trans = world.apply_params(out["root_orient"].numpy(), out["trans"].numpy(), rest_pelvis)
    return Motion(
        joints=world.apply_points(joints.numpy()), fps=float(fps), trans=trans, root_orient=root_orient,
        pose_body=out["pose_body"].numpy(), betas=betas.numpy(), body_model=body.name,
        contacts=out["contacts"].numpy() > 0.5,
    )
