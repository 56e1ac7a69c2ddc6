"""Reading raw motion sources for the data build: BVH or motion npz files, in a folder or an archive.

Each file becomes body-joint positions (N, 22, 3) in metres, y-up, at the target
frame rate, plus a subject signature used to fit one body shape per performer. A BVH's
joint map is the one given, else the built-in map detected from its joint names. Leading
T-pose frames are dropped and the motion is checked for what no person can do
(`rohm.data.quality`); the problems found travel with the clip.
"""

from __future__ import annotations

import contextlib
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rohm.data.joint_map import JointMap, detect_joint_map
from rohm.data.quality import bone_stretch, check_motion, leading_tpose
from rohm.errors import RohmError
from rohm.io.bvh import read_bvh
from rohm.io.motion_file import load_motion
from rohm.skeleton import JOINT_NAMES, PARENTS

MOTION_SUFFIXES = (".bvh", ".npz")
_ARCHIVES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".zip")


@dataclass
class SourceClip:
    """One source clip as body-joint positions."""

    stem: str
    path: str
    joints: np.ndarray  # (N, 22, 3) metres, y-up
    fps: float
    subject: str
    joint_map: str = ""  # the built-in map's name or the JSON file; "" for npz sources
    dropped_frames: int = 0  # leading T-pose frames dropped, at the source's frame rate
    problems: list[dict[str, Any]] = field(default_factory=list)  # rohm.data.quality findings


def is_archive(path: Path) -> bool:
    return path.is_file() and any(path.name.lower().endswith(s) for s in _ARCHIVES)


@contextlib.contextmanager
def source_folder(source: Path, scratch: Path) -> Iterator[Path]:
    """Yield a folder with the source's files: the folder itself, or an archive extracted into scratch."""
    if source.is_dir():
        yield source
        return
    if not source.exists():
        raise RohmError("no such file or folder", source)
    if not is_archive(source):
        raise RohmError(f"source must be a folder or an archive ({', '.join(_ARCHIVES)})", source)
    with tempfile.TemporaryDirectory(prefix=".extract-", dir=scratch) as tmp:
        try:
            if source.name.lower().endswith(".zip"):
                with zipfile.ZipFile(source) as zf:
                    zf.extractall(tmp)
            else:
                with tarfile.open(source) as tf:
                    tf.extractall(tmp, filter="data")
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
            raise RohmError(f"cannot extract archive ({type(exc).__name__}: {exc})", source) from None
        yield Path(tmp)


def list_motion_files(folder: Path) -> list[Path]:
    """All BVH and npz files under a folder (hidden ones skipped), sorted by name."""
    files = [p for p in folder.rglob("*") if p.suffix.lower() in MOTION_SUFFIXES and p.is_file()
             and not any(part.startswith(".") for part in p.relative_to(folder).parts)]
    return sorted(files, key=lambda p: (p.name, str(p)))


def resample(joints: np.ndarray, fps: float, target_fps: float) -> np.ndarray:
    """Linear resampling in time; every source frame's time span is kept (no frame dropped at the ends)."""
    if abs(fps - target_fps) < 1e-3 * target_fps or joints.shape[0] < 2:
        return joints
    duration = (joints.shape[0] - 1) / fps
    t_new = np.arange(int(np.floor(duration * target_fps + 1e-6)) + 1) / target_fps
    t_old = np.arange(joints.shape[0]) / fps
    flat = joints.reshape(joints.shape[0], -1)
    out = np.stack([np.interp(t_new, t_old, flat[:, k]) for k in range(flat.shape[1])], axis=1)
    return out.reshape(len(t_new), *joints.shape[1:])


def _bvh_subject(names: list[str], parents: list[int], offsets: np.ndarray) -> str:
    """Performer signature: the skeleton's bone lengths (root's children excluded: their offset is a position)."""
    lengths = [f"{names[j]}={np.linalg.norm(offsets[j]):.1f}" for j, p in enumerate(parents) if p > 0]
    return "bvh:" + ",".join(lengths)


def read_clip(path: Path, joint_map: JointMap | None, target_fps: float) -> SourceClip:
    """Read one BVH or npz file into body-joint positions at the target frame rate.

    `joint_map` None: the built-in map detected from the BVH's joint names.
    """
    map_name = ""
    if path.suffix.lower() == ".bvh":
        bvh = read_bvh(path)
        names, parents = bvh.skeleton.names, bvh.skeleton.parents
        jmap = joint_map if joint_map is not None else detect_joint_map(names, path)
        positions = bvh.global_positions()
        joints, metres_per_unit = jmap.to_body(names, positions, path)
        fps, subject = bvh.fps, _bvh_subject(names, parents, bvh.skeleton.offsets)
        map_name = jmap.name or jmap.origin
    else:
        motion = load_motion(path)
        joints, fps = motion.joints, motion.fps
        positions, names, parents, metres_per_unit = joints, list(JOINT_NAMES), PARENTS, 1.0
        subject = "npz:" + ("default" if motion.betas is None else ",".join(f"{b:.2f}" for b in motion.betas))
    if joints.shape[0] == 0:
        raise RohmError("empty sequence (0 frames)", path)
    if np.isnan(joints).all():
        raise RohmError("every joint of every frame is missing (NaN)", path)
    if not np.isfinite(joints).all():
        raise RohmError("clip has missing or non-finite joint positions; training data must be complete", path)
    drop = leading_tpose(joints, fps)
    stretch = bone_stretch(positions[drop:], parents, names, metres_per_unit)
    joints = resample(joints[drop:], fps, target_fps)
    problems = ([stretch] if stretch else []) + check_motion(joints, target_fps)
    return SourceClip(path.stem, str(path), joints, target_fps, subject, map_name, drop, problems)
