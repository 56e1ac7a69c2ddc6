"""The motion file contract: one `.npz` per clip, SMPL-X-style names.

Keys (N frames):
    joints (N,22,3) metres, y-up, NaN where missing        [required unless body params given]
    fps    scalar                                           [required]
    trans (N,3), root_orient (N,3), pose_body (N,63) axis-angle, betas (B,),
    body_model: a rohm.body model name (default: rohm.config.DEFAULT_BODY)  [body parameters, optional]
    joint_mask (N,22) bool, True = observed                 [optional]
    contacts (N,4) foot contacts (l-ankle, l-toe, r-ankle, r-toe)
    keypoints_2d (N,K,2) pixels, keypoints_2d_conf (N,K), intrinsics (3,3)
    extrinsics (4,4) or (N,4,4) world -> camera of the keypoints       [camera, optional]
    joints_std (N,22) metres, spread over samples                      [uncertainty, outputs]
    input_joint_mask (N,22), shape_source, settings_* (one key each)   [provenance, outputs]
Other keys travel through unchanged (`Motion.extras`).
Also read: AMASS-style npz (`poses`, `trans`, `betas`, `mocap_framerate`, z-up) and
joints-only npz (`joints` + `fps`). Every problem is a one-line RohmError naming the file.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from rohm.config import DEFAULT_BODY
from rohm.errors import RohmError
from rohm.io.atomic import atomic_path
from rohm.skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS

# z-up (AMASS) to y-up: rotate -90 degrees about x, (x, y, z) -> (x, z, -y).
ZUP_TO_YUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
BODY_MODELS = (DEFAULT_BODY, "smplx")
SETTINGS_PREFIX = "settings_"  # one file key per inference setting; None is stored as -1

# What a human body can be, in metres (the default body: about 1.45 m from ankle to head along the
# bones, longest bone 0.45 m). Beyond the first of each pair an input is refused, beyond the
# second it gets a warning.
MAX_BONE_M = 1.0  # median length over frames
MAX_HEIGHT_M, TALL_HEIGHT_M = 3.0, 2.2  # ankle to head along the bones
MIN_HEIGHT_M, SMALL_HEIGHT_M = 0.3, 0.7
MAX_REACH_M, LONG_REACH_M = 10.0, 2.5  # any joint from the pelvis, in any frame
MAX_BONE_CHANGE_M, NOISY_BONE_CHANGE_M = 1.0, 0.25  # spread (10th to 90th percentile) of a bone's length over frames
_HEIGHT_CHAIN = ("knee", "hip")  # with the ankle: each leg's bones up to the pelvis, then the spine
_SPINE_CHAIN = ("spine1", "spine2", "spine3", "neck", "head")


@dataclass
class Motion:
    """One motion clip in rohm's conventions (metres, y-up, 22 SMPL-X body joints)."""

    joints: np.ndarray
    fps: float
    trans: np.ndarray | None = None
    root_orient: np.ndarray | None = None
    pose_body: np.ndarray | None = None
    betas: np.ndarray | None = None
    body_model: str = DEFAULT_BODY
    joint_mask: np.ndarray | None = None
    contacts: np.ndarray | None = None
    keypoints_2d: np.ndarray | None = None
    keypoints_2d_conf: np.ndarray | None = None
    intrinsics: np.ndarray | None = None
    extrinsics: np.ndarray | None = None  # (4, 4) or (N, 4, 4) world -> camera (OpenCV axes) of the keypoints
    joints_std: np.ndarray | None = None  # (N, 22) metres: spread of several sampled reconstructions
    input_joint_mask: np.ndarray | None = None  # (N, 22) what the input of a reconstruction observed
    shape_source: str | None = None  # "input", "fitted" or "default": where a reconstruction's shape came from
    settings: dict[str, Any] | None = None  # the inference settings that made this motion
    extras: dict[str, Any] = field(default_factory=dict)  # any other file keys, passed through

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])

    @property
    def has_params(self) -> bool:
        return self.trans is not None and self.root_orient is not None and self.pose_body is not None

    def observed(self) -> np.ndarray:
        """(N, 22) bool: joints that are observed (mask True and not NaN)."""
        obs = ~np.isnan(self.joints).any(axis=-1)
        if self.joint_mask is not None:
            obs &= self.joint_mask.astype(bool)
        return obs


def _arr(data: Any, key: str, path: Path, dtype: Any = np.float64) -> np.ndarray:
    try:
        return np.asarray(data[key], dtype=dtype)
    except (ValueError, TypeError) as exc:
        raise RohmError(f"key '{key}' is not a numeric array ({exc})", path) from None


def _check_shape(arr: np.ndarray, shape: tuple[int | None, ...], key: str, path: Path) -> None:
    ok = arr.ndim == len(shape) and all(s is None or s == a for s, a in zip(shape, arr.shape))
    if not ok:
        want = "(" + ",".join("N" if s is None else str(s) for s in shape) + ")"
        raise RohmError(f"'{key}' has shape {arr.shape}, expected {want}", path)


def validate(motion: Motion, path: str | Path = "<motion>", allow_all_missing: bool = False) -> Motion:
    """Check shapes, frame counts and values; raise a one-line RohmError on the first problem."""
    path = Path(path)
    n = motion.joints.shape[0] if motion.joints.ndim >= 1 else 0
    _check_shape(motion.joints, (None, NUM_JOINTS, 3), "joints", path)
    if n == 0:
        raise RohmError("empty sequence (0 frames)", path)
    if not np.isfinite(motion.fps) or motion.fps <= 0:
        raise RohmError(f"fps must be a positive number, got {motion.fps}", path)
    if np.isinf(motion.joints).any():
        raise RohmError("'joints' contains infinite values", path)
    for key, shape in (("trans", (n, 3)), ("root_orient", (n, 3)), ("pose_body", (n, 63)),
                       ("joint_mask", (n, NUM_JOINTS)), ("contacts", (n, 4)), ("intrinsics", (3, 3)),
                       ("joints_std", (n, NUM_JOINTS)), ("input_joint_mask", (n, NUM_JOINTS))):
        value = getattr(motion, key)
        if value is not None:
            _check_shape(value, shape, key, path)
    if motion.extrinsics is not None and motion.extrinsics.shape not in ((4, 4), (n, 4, 4)):
        raise RohmError(f"'extrinsics' has shape {motion.extrinsics.shape}, expected (4,4) or (N,4,4)", path)
    if motion.keypoints_2d is not None:
        _check_shape(motion.keypoints_2d, (n, None, 2), "keypoints_2d", path)
        if motion.keypoints_2d_conf is not None:
            _check_shape(motion.keypoints_2d_conf, motion.keypoints_2d.shape[:2], "keypoints_2d_conf", path)
    if motion.body_model not in BODY_MODELS:
        raise RohmError(f"unknown body_model '{motion.body_model}' (expected one of {', '.join(BODY_MODELS)})", path)
    if not allow_all_missing and not motion.observed().any() and motion.keypoints_2d is None:
        raise RohmError("every joint of every frame is missing (all NaN or masked)", path)
    return motion


def _bone_lengths(motion: Motion) -> np.ndarray:
    """(N, 22) length of each joint's bone to its parent per frame; NaN where an end is unobserved (and for the pelvis)."""
    joints = np.where(motion.observed()[..., None], motion.joints, np.nan)
    lengths = np.full(joints.shape[:2], np.nan)
    lengths[:, 1:] = np.linalg.norm(joints[:, 1:] - joints[:, list(PARENTS[1:])], axis=-1)
    return lengths


def _body_height(median: np.ndarray) -> float:
    """Ankle to head along the bones (mean of the legs), from per-joint median bone lengths; NaN if unseen."""
    index = {name: j for j, name in enumerate(JOINT_NAMES)}
    legs = [sum(median[index[f"{side}_{part}"]] for part in ("ankle", *_HEIGHT_CHAIN)) for side in ("left", "right")]
    return float(np.nanmean(legs) + sum(median[index[name]] for name in _SPINE_CHAIN)) if not np.isnan(legs).all() else float("nan")


def _units_hint(length_m: float) -> str:
    """A guess at the units of a too-long bone (a long bone is ~0.45 m)."""
    for factor, unit in ((100.0, "centimetres"), (1000.0, "millimetres")):
        if 0.1 < length_m / factor < 1.0:
            return f" ({unit}? the joints must be in metres)"
    return "; the joints must be in metres"


def check_human(motion: Motion, path: str | Path = "<motion>") -> list[str]:
    """Refuse joints no human body can produce (a RohmError naming the file); return warnings for
    borderline ones. Looks at observed joints only: bone lengths, body height, reach, and how much
    bone lengths change over frames (see the limits above)."""
    lengths = _bone_lengths(motion)
    seen = ~np.isnan(lengths).all(axis=0)
    if not seen.any():
        return []
    median = np.full(NUM_JOINTS, np.nan)
    median[seen] = np.nanmedian(lengths[:, seen], axis=0)
    name = lambda j: f"{JOINT_NAMES[PARENTS[j]]}-{JOINT_NAMES[j]}"  # noqa: E731
    longest = int(np.nanargmax(median))
    if median[longest] > MAX_BONE_M:
        raise RohmError(f"bone {name(longest)} is {median[longest]:.3g} m long: no human bone is"
                        f"{_units_hint(median[longest])}", path)
    height = _body_height(median)
    if height > MAX_HEIGHT_M or height < MIN_HEIGHT_M:
        raise RohmError(f"the body is {height:.3g} m tall (ankle to head along its bones): no human is"
                        f"{_units_hint(height / 3)}", path)
    warnings = []
    if height > TALL_HEIGHT_M or height < SMALL_HEIGHT_M:
        warnings.append(f"the body is {height:.3g} m tall (ankle to head along its bones): are the joints in metres?")
    pelvis = np.where(motion.observed()[:, :1, None], motion.joints[:, :1], np.nan)
    reach = np.linalg.norm(np.where(motion.observed()[..., None], motion.joints, np.nan) - pelvis, axis=-1)
    if not np.isnan(reach).all():
        frame, joint = np.unravel_index(np.nanargmax(reach), reach.shape)
        far = f"in frame {frame + 1}, {JOINT_NAMES[joint]} is {reach[frame, joint]:.3g} m from the pelvis"
        if reach[frame, joint] > MAX_REACH_M:
            raise RohmError(f"{far}: no human body reaches that far", path)
        if reach[frame, joint] > LONG_REACH_M:
            count = int((reach > LONG_REACH_M).any(axis=1).sum())
            warnings.append(f"{far} ({count} frame{'s' if count > 1 else ''} beyond {LONG_REACH_M:g} m): glitches?")
    counted = seen & ((~np.isnan(lengths)).sum(axis=0) >= 10)
    if counted.any():
        low, high = np.nanpercentile(lengths[:, counted], [10, 90], axis=0)
        worst = int(np.argmax(high - low))
        change, bone = float(high[worst] - low[worst]), name(int(np.flatnonzero(counted)[worst]))
        if change > MAX_BONE_CHANGE_M:
            raise RohmError(f"bone {bone} changes length by {change:.3g} m over the frames: the joints are not one body", path)
        if change > NOISY_BONE_CHANGE_M:
            warnings.append(f"bone {bone} changes length by {change:.2f} m over the frames: very noisy joints")
    return warnings


def _params_from_amass(data: Any, path: Path) -> dict[str, Any]:
    poses = _arr(data, "poses", path)
    if poses.ndim != 2 or poses.shape[1] < 66:
        raise RohmError(f"'poses' has shape {poses.shape}, expected (N,>=66)", path)
    trans = _arr(data, "trans", path)
    _check_shape(trans, (poses.shape[0], 3), "trans", path)
    import roma
    import torch

    root = roma.rotvec_to_rotmat(torch.from_numpy(poses[:, :3]))
    root_yup = roma.rotmat_to_rotvec(torch.from_numpy(ZUP_TO_YUP) @ root).numpy()
    fps_key = "mocap_framerate" if "mocap_framerate" in data else "mocap_frame_rate"
    if fps_key not in data:
        raise RohmError("AMASS-style file has no 'mocap_framerate'", path)
    return dict(
        root_orient=root_yup, pose_body=poses[:, 3:66].copy(), trans_zup=trans,
        betas=_arr(data, "betas", path).reshape(-1), fps=float(np.asarray(data[fps_key])),
        body_model="smplx",
    )


def file_kind(path: str | Path) -> str | None:
    """"npz" (a zip archive, as numpy writes), "bvh" (text starting with HIERARCHY) or None,
    from the file's first bytes; a missing or unreadable file is a RohmError."""
    path = Path(path)
    if not path.is_file():
        raise RohmError("no such file", path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError as exc:
        raise RohmError(f"cannot read file ({exc.strerror or exc})", path) from None
    if head.startswith(b"PK"):
        return "npz"
    if head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"HIERARCHY"):
        return "bvh"
    return None


def load_motion(path: str | Path, body: Any = None, allow_all_missing: bool = False) -> Motion:
    """Read any supported motion npz into a validated Motion.

    `body` (a rohm BodyModel) is used to compute joints when the file has body
    parameters but no joints; by default the body named in the file is loaded.
    """
    path = Path(path)
    kind = file_kind(path)
    if kind == "bvh":
        raise RohmError("a BVH file, not a motion .npz (`rohm reconstruct` reads BVH takes)", path)
    if kind != "npz":
        raise RohmError("not a motion .npz file (numpy's zip of arrays)", path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise RohmError(f"not a readable .npz file ({type(exc).__name__}: {exc})", path) from None
    if "poses" in data and "pose_body" not in data:
        amass = _params_from_amass(data, path)
        params: dict[str, Any] = {k: v for k, v in amass.items() if k != "trans_zup"}
        params["trans"] = None
        trans_zup = amass["trans_zup"]
    else:
        trans_zup = None
        params = {}
        for key in ("trans", "root_orient", "pose_body", "betas"):
            if key in data:
                params[key] = _arr(data, key, path)
        if "fps" not in data:
            raise RohmError("missing key 'fps'", path)
        params["fps"] = float(np.asarray(data["fps"], dtype=np.float64).reshape(-1)[0]) if np.asarray(data["fps"]).size else float("nan")
        params["body_model"] = str(data["body_model"]) if "body_model" in data else DEFAULT_BODY
    optional: dict[str, Any] = {}
    for key in ("joint_mask", "contacts", "keypoints_2d", "keypoints_2d_conf", "intrinsics", "extrinsics",
                "joints_std", "input_joint_mask"):
        if key in data:
            optional[key] = _arr(data, key, path, bool if key.endswith("joint_mask") else np.float64)
    if "shape_source" in data:
        optional["shape_source"] = str(data["shape_source"])
    settings = {k[len(SETTINGS_PREFIX):]: v for k, v in data.items() if k.startswith(SETTINGS_PREFIX)}
    if settings:
        optional["settings"] = settings
    known = {f.name for f in fields(Motion)} | {"poses", "mocap_framerate", "mocap_frame_rate"}
    extras = {k: v for k, v in data.items() if k not in known and not k.startswith(SETTINGS_PREFIX)}

    if "joints" in data:
        joints = _arr(data, "joints", path)
    else:
        n_rot = params.get("root_orient")
        if n_rot is None or params.get("pose_body") is None:
            raise RohmError("file has neither 'joints' nor body parameters ('pose_body', 'root_orient', 'trans')", path)
        joints = None

    motion_kwargs = dict(params)
    if trans_zup is not None or joints is None:
        import torch

        from rohm.body import body_for_motion

        if body is None:
            body = body_for_motion(params.get("body_model", DEFAULT_BODY), path)
        betas = params.get("betas")
        betas = body.default_betas.numpy() if betas is None else betas[: body.num_betas]
        motion_kwargs["betas"] = betas
        if trans_zup is not None:
            # SMPL-X rotates about the rest pelvis: re-express the translation so the
            # z-up body lands where the z-up file put it, turned to y-up.
            pelvis = body.rest_joints(torch.as_tensor(betas[None], dtype=torch.float64))[0, 0].numpy()
            motion_kwargs["trans"] = (trans_zup + pelvis) @ ZUP_TO_YUP.T - pelvis
        n = motion_kwargs["root_orient"].shape[0]
        for key, shape in (("trans", (n, 3)), ("root_orient", (n, 3)), ("pose_body", (n, 63))):
            if motion_kwargs.get(key) is None:
                raise RohmError(f"missing key '{key}'", path)
            _check_shape(motion_kwargs[key], shape, key, path)
        with torch.no_grad():
            out = body(torch.as_tensor(betas, dtype=torch.float64),
                       torch.as_tensor(motion_kwargs["root_orient"]),
                       torch.as_tensor(motion_kwargs["pose_body"]),
                       torch.as_tensor(motion_kwargs["trans"]))
        joints = out.joints.numpy()
    motion = Motion(joints=joints, **motion_kwargs, **optional, extras=extras)
    return validate(motion, path, allow_all_missing=allow_all_missing)


def motion_to_dict(motion: Motion) -> dict[str, np.ndarray]:
    """The npz payload of a Motion (absent fields left out)."""
    out: dict[str, np.ndarray] = {}
    for f in fields(Motion):
        value = getattr(motion, f.name)
        if f.name == "extras":
            out.update({k: np.asarray(v) for k, v in value.items()})
        elif f.name == "settings" and value is not None:
            out.update({SETTINGS_PREFIX + k: np.asarray(-1 if v is None else v) for k, v in value.items()})
        elif value is not None:
            out[f.name] = np.asarray(value)
    return out


def save_motion(motion: Motion, path: str | Path) -> Path:
    """Write a Motion as a contract npz, atomically (temporary name, then rename)."""
    path = Path(path)
    if path.suffix != ".npz":
        raise RohmError("motion files must end in .npz", path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **motion_to_dict(motion))
    return path
