"""Reading raw motion sources for the data build: BVH or motion npz files, in a folder or an archive.

Each file becomes body-joint positions (N, 22, 3) in metres, y-up, at the target
frame rate, plus a subject signature used to fit one body shape per performer.
"""

from __future__ import annotations

import contextlib
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rohm.data.joint_map import JointMap
from rohm.errors import RohmError
from rohm.io.bvh import read_bvh
from rohm.io.motion_file import load_motion

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


def read_clip(path: Path, joint_map: JointMap, target_fps: float) -> SourceClip:
    """Read one BVH or npz file into body-joint positions at the target frame rate."""
    if path.suffix.lower() == ".bvh":
        bvh = read_bvh(path)
        joints = joint_map.apply(bvh.skeleton.names, bvh.global_positions(), path)
        fps, subject = bvh.fps, _bvh_subject(bvh.skeleton.names, bvh.skeleton.parents, bvh.skeleton.offsets)
    else:
        motion = load_motion(path)
        joints, fps = motion.joints, motion.fps
        subject = "npz:" + ("default" if motion.betas is None else ",".join(f"{b:.2f}" for b in motion.betas))
    if joints.shape[0] == 0:
        raise RohmError("empty sequence (0 frames)", path)
    if np.isnan(joints).all():
        raise RohmError("every joint of every frame is missing (NaN)", path)
    if not np.isfinite(joints).all():
        raise RohmError("clip has missing or non-finite joint positions; training data must be complete", path)
    return SourceClip(path.stem, str(path), resample(joints, fps, target_fps), target_fps, subject)
