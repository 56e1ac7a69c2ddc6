"""`rohm data build`: raw mocap (BVH or motion npz) -> one motion npz per clip, split, with a summary.

Pipeline: read every clip as body-joint positions at the target fps (in parallel; each
BVH through the given joint map or the built-in one its joint names match; leading T-pose
frames dropped), set aside clips whose motion no person can make (`rohm.data.quality`;
listed with their reasons in summary.json under "flagged", kept only on request), fit one
body shape per performer, retarget every clip to body parameters, label foot contacts,
write DIR/{train,val,test}/<clip>.npz, the train split's feature normalisation statistics
(DIR/normalization.safetensors) and DIR/summary.json. Output goes to a temporary folder
that replaces DIR only when everything succeeded.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from rohm.body import BodyModel, load_body
from rohm.body.contacts import foot_contacts
from rohm.body.ik import Retargeted, fit_shape, retarget
from rohm.data.joint_map import JointMap, load_joint_map
from rohm.data.sources import SourceClip, list_motion_files, read_clip, source_folder
from rohm.data.splits import SPLITS, split_of
from rohm.errors import RohmError
from rohm.io.motion_file import Motion, save_motion
from rohm.representation import FeatureLayout, Normalizer, motion_to_features
from rohm.skeleton import JOINT_NAMES

NORMALIZATION_FILE = "normalization.safetensors"  # feature mean/std of the train split
SHAPE_FIT_FRAMES = 200
SHAPE_FIT_STEPS = 100


def _read_one(path: Path, joint_map: JointMap | None, fps: float) -> SourceClip | RohmError:
    try:
        return read_clip(path, joint_map, fps)
    except RohmError as exc:
        return exc


def read_all(files: list[Path], joint_map: JointMap | None, fps: float, workers: int) -> list[SourceClip]:
    """Read every clip (in `workers` processes); the first bad file stops the build."""
    reader: Callable[[Path], SourceClip | RohmError] = partial(_read_one, joint_map=joint_map, fps=fps)
    clips: list[SourceClip] = []
    bar = tqdm(total=len(files), desc="read", unit="clip")
    if workers > 1:
        with mp.get_context("spawn").Pool(workers) as pool:
            results = pool.imap(reader, files, chunksize=16)
            for res in results:
                if isinstance(res, RohmError):
                    raise res
                clips.append(res)
                bar.update()
    else:
        for f in files:
            res = reader(f)
            if isinstance(res, RohmError):
                raise res
            clips.append(res)
            bar.update()
    bar.close()
    return clips


def fit_subjects(clips: list[SourceClip], body: BodyModel, seed: int = 0) -> dict[str, dict[str, Any]]:
    """One body shape per performer, fitted on frames sampled across that performer's clips."""
    by_subject: dict[str, list[SourceClip]] = defaultdict(list)
    for clip in clips:
        by_subject[clip.subject].append(clip)
    rng = np.random.default_rng(seed)
    fits: dict[str, dict[str, Any]] = {}
    for k, (signature, group) in enumerate(tqdm(sorted(by_subject.items()), desc="fit shapes", unit="subject")):
        frames = np.concatenate([c.joints for c in group])
        pick = rng.choice(len(frames), size=min(SHAPE_FIT_FRAMES, len(frames)), replace=False)
        betas, err = fit_shape(body, torch.from_numpy(frames[pick]), steps=SHAPE_FIT_STEPS)
        fits[signature] = {"id": f"subject-{k}", "clips": len(group), "betas": betas.tolist(), "fit_error_mm": 1000 * err}
    return fits


def _replace_folder(tmp: Path, out: Path) -> None:
    """Move a finished build into place; an existing previous build is replaced, anything else refused."""
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)


def check_output_folder(out: Path, source: Path) -> None:
    """Refuse to replace a folder that is not a previous build, or that holds the source."""
    if out.resolve() == source.resolve() or source.resolve().is_relative_to(out.resolve()):
        raise RohmError("output folder is (or contains) the source; refusing to overwrite input", out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "summary.json").is_file())):
        raise RohmError("output exists and is not a previous rohm data build; refusing to replace it", out)


def _flag_report(clips: list[SourceClip], keep_flagged: bool) -> dict[str, Any]:
    """summary.json's account of dropped T-pose frames and of clips with impossible motion."""
    flagged = [c for c in clips if c.problems]
    counts = Counter(p["check"] for c in flagged for p in c.problems)
    dropped = [c for c in clips if c.dropped_frames]
    return {
        "leading_tpose_dropped": {"clips": len(dropped), "source_frames": sum(c.dropped_frames for c in dropped)},
        "flagged": {
            "excluded": not keep_flagged, "count": len(flagged), "by_check": dict(sorted(counts.items())),
            "frame_numbers": "at the build's fps, counted after the dropped leading T-pose frames",
            "clips": [{"clip": c.stem, "file": Path(c.path).name, "reasons": [p["reason"] for p in c.problems],
                       "problems": c.problems} for c in flagged],
        },
    }


def build_dataset(source: str | Path, out: str | Path, joint_map_path: str | Path | None = None,
                  fps: float = 30.0, workers: int = 2, keep_flagged: bool = False,
                  split: str | None = None) -> dict[str, Any]:
    """Build the dataset; returns the summary that is also written to out/summary.json.

    joint_map_path: a JSON joint map, a built-in map's name (bandai, cmu, mixamo, smplx), or
    None to detect each BVH's map from its joint names. keep_flagged: also write clips whose
    motion failed the source-data checks (they are always listed in the summary). split: put
    every clip in this split (e.g. "val" for an evaluation-only set such as CMU: with no train
    split the build writes no normalisation statistics, so nothing can train on it); default:
    `rohm.data.splits.split_of` per clip name.
    """
    source, out = Path(source), Path(out)
    if not fps > 0:
        raise RohmError(f"--fps must be positive, got {fps}")
    if split is not None and split not in SPLITS:
        raise RohmError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    check_output_folder(out, source)
    joint_map = None if joint_map_path is None else load_joint_map(joint_map_path)
    start = time.time()
    out.parent.mkdir(parents=True, exist_ok=True)
    with source_folder(source, out.parent) as folder:
        files = list_motion_files(folder)
        if not files:
            raise RohmError("no .bvh or .npz motion files found", source)
        stems = [f.stem for f in files]
        dupes = sorted({s for s in stems if stems.count(s) > 1}) if len(set(stems)) != len(stems) else []
        if dupes:
            raise RohmError(f"clip names must be unique; repeated: {', '.join(dupes[:5])}", source)
        clips = read_all(files, joint_map, fps, workers)
    report = _flag_report(clips, keep_flagged)
    kept = clips if keep_flagged else [c for c in clips if not c.problems]
    if not kept:
        first = clips[0]
        raise RohmError(f"every clip failed the source-data checks (e.g. {first.stem}: {first.problems[0]['reason']}); "
                        "nothing to write", source)
    body = load_body()
    fits = fit_subjects(kept, body)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        summary = _write_clips(kept, fits, body, tmp, fps, split)
        summary.update(source=str(source), source_clips=len(clips),
                       split_rule=f"every clip in {split}" if split else "rohm.data.splits.split_of",
                       joint_map=joint_map.origin if joint_map else "detected from each file's joint names",
                       joint_maps=dict(Counter(c.joint_map for c in clips if c.joint_map)), **report,
                       fps=fps, body_model=body.name, joints=list(JOINT_NAMES),
                       build_seconds=round(time.time() - start, 1))
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2))
        _replace_folder(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return summary


def retarget_clips(clips: list[SourceClip], fits: dict[str, dict[str, Any]], body: BodyModel,
                   chunk: int = 20000) -> list[Retargeted]:
    """Retarget every clip; frames are independent, so each performer's frames go through in big batches."""
    results: list[Retargeted | None] = [None] * len(clips)
    by_subject: dict[str, list[int]] = defaultdict(list)
    for i, clip in enumerate(clips):
        by_subject[clip.subject].append(i)
    bar = tqdm(total=sum(len(c.joints) for c in clips), desc="retarget", unit="frame", unit_scale=True)
    for subject, idx in by_subject.items():
        rest = body.rest_joints(torch.tensor(fits[subject]["betas"], dtype=torch.float64)[None])[0]
        frames = torch.from_numpy(np.concatenate([clips[i].joints for i in idx]))
        parts = []
        with torch.no_grad():
            for start in range(0, len(frames), chunk):
                parts.append(retarget(rest, frames[start:start + chunk]))
                bar.update(len(parts[-1].joints))
        merged = [torch.cat([getattr(p, f) for p in parts]) for f in ("root_orient", "pose_body", "trans", "joints", "error")]
        bounds = np.cumsum([0] + [len(clips[i].joints) for i in idx])
        for k, i in enumerate(idx):
            results[i] = Retargeted(*(m[bounds[k]:bounds[k + 1]] for m in merged))
    bar.close()
    return results  # type: ignore[return-value]


def _write_clips(clips: list[SourceClip], fits: dict[str, dict[str, Any]], body: BodyModel,
                 folder: Path, fps: float, only_split: str | None = None) -> dict[str, Any]:
    """Retarget, label and write every clip; return the summary statistics."""
    stats = {s: {"clips": 0, "frames": 0} for s in SPLITS}
    clip_errors: list[float] = []
    joint_err_sum = np.zeros(len(JOINT_NAMES))
    total_frames = 0
    contact_frames = 0
    worst = ("", 0.0)
    layout = FeatureLayout(num_betas=body.num_betas)
    train_features: list[np.ndarray] = []
    retargeted = retarget_clips(clips, fits, body)
    for clip, res in zip(tqdm(clips, desc="write", unit="clip"), retargeted):
        fit = fits[clip.subject]
        joints = res.joints.numpy()
        err = res.error.numpy()
        contacts = foot_contacts(joints, fps)
        split = only_split or split_of(clip.stem)
        motion = Motion(
            joints=joints, fps=fps, trans=res.trans.numpy(), root_orient=res.root_orient.numpy(),
            pose_body=res.pose_body.numpy(), betas=np.asarray(fit["betas"]), body_model=body.name,
            contacts=contacts.astype(np.float64),
            extras={"source": np.asarray(Path(clip.path).name), "subject": np.asarray(fit["id"]),
                    "retarget_error_mm": np.asarray(1000 * err.mean()),
                    "source_first_frame": np.asarray(clip.dropped_frames)},  # leading T-pose frames dropped
        )
        save_motion(motion, folder / split / f"{clip.stem}.npz")
        if split == "train":
            train_features.append(motion_to_features(motion, layout, np.zeros(3), floor_height=0.0)[0])
        stats[split]["clips"] += 1
        stats[split]["frames"] += len(joints)
        clip_errors.append(1000 * float(err.mean()))
        if clip_errors[-1] > worst[1]:
            worst = (clip.stem, clip_errors[-1])
        joint_err_sum += 1000 * err.sum(axis=0)
        total_frames += len(joints)
        contact_frames += int(contacts.any(axis=1).sum())
    if train_features:
        Normalizer.fit(train_features, layout).save(folder / NORMALIZATION_FILE)
    for s in stats.values():
        s["hours"] = round(s["frames"] / fps / 3600, 4)
    return {
        "clips": len(clips), "frames": total_frames, "hours": round(total_frames / fps / 3600, 4),
        "splits": stats,
        "shortest_clip_frames": min(len(c.joints) for c in clips),
        "subjects": {f["id"]: {k: v for k, v in f.items() if k != "id"} | {"signature": s} for s, f in fits.items()},
        "retarget_error_mm": {
            "mean": round(float(np.mean(clip_errors)), 2), "max": round(float(np.max(clip_errors)), 2),
            "worst_clip": worst[0],
            "per_joint": {n: round(float(e / total_frames), 2) for n, e in zip(JOINT_NAMES, joint_err_sum)},
        },
        "frames_with_foot_contact": round(contact_frames / total_frames, 4),
        "normalization": NORMALIZATION_FILE if train_features else None,
    }
