"""`run_video`: an RGB(-D) video in, clean world-space motion and its videos out.

Stages (each timed in summary.json):
1. decode + detect: frames streamed from ffmpeg at DETECT_SIDE pixels (MediaPipe crops and
   resizes to 256 px anyway), MediaPipe pose in video mode; the background around the person
   tracked at the same time (`rohm.video.background`: the camera's turns and motion); frames
   where MediaPipe followed someone else are dropped (`rohm.video.identity`);
2. lift: 33 landmarks -> 22 joints, confidences and masks; per-frame translation from the
   2D landmarks and the intrinsics, or from depth (RGB-D) with depth occlusion masks;
3. ground: gravity from the feet on the floor, the floor, and the camera's motion -> a y-up
   world with the floor at y = 0 (`rohm.video.ground`, `rohm.video.gravity`);
4. shape: the person's body shape from the median bone lengths (`rohm.video.person`);
5. reconstruct: rohm (TrajNet + PoseNet, skating guidance, 2D reprojection guidance against the
   detections with each frame's camera); missed frames and hidden joints are infilled; the
   floor then settles under the feet in contact;
6. outputs: motion.npz, motion.bvh, motion.glb, overlay.mp4, render.mp4 (--no-render skips the
   videos), summary.json (with the plausibility figures of `rohm.video.plausibility`).
Everything is written into a temporary folder beside the output folder and renamed at the end,
so a failed run leaves nothing that looks complete.

Start-up: rohm's weights (and torch, which they need) load in a background thread while the
video is decoded and MediaPipe runs, so that on a short clip start-up hides behind detection;
nothing torch needs is imported here before that.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from rohm.errors import RohmError
from rohm.io.atomic import write_text_atomic
from rohm.io.motion_file import Motion, save_motion
from rohm.video.background import BackgroundTracker, CameraEvidence
from rohm.video.camera import (
    DEFAULT_FOV_DEG,
    default_fov_deg,
    intrinsics_from_fov,
    load_intrinsics,
    solve_translation,
)
from rohm.video.decode import (
    MIN_SECONDS,
    Span,
    VideoInfo,
    probe,
    read_frames,
    scaled_size,
    select_span,
)
from rohm.video.depth import DepthFrames, occluded, place_with_depth, sample_depth
from rohm.video.detect import (
    Detections,
    PoseDetector,
    check_available,
    native_output_silenced,
    stack,
)
from rohm.video.ground import Ground, estimate_ground
from rohm.video.identity import Identity, find_others
from rohm.video.landmarks import VISIBLE, map_confidence, map_points, place_trunk
from rohm.video.plausibility import plausibility

if TYPE_CHECKING:
    from rohm.inference import Reconstructor

DETECT_SIDE = 960  # longer side of the frames MediaPipe sees
SOLE_LANDMARKS = (29, 31, 30, 32)  # MediaPipe left heel, left foot_index, right heel, right foot_index
RENDER_SIZE = (960, 540)
OUTPUTS = ("motion.npz", "motion.bvh", "motion.glb", "overlay.mp4", "render.mp4", "summary.json")


@dataclass
class VideoOptions:
    """What `rohm video` was asked for (see its --help)."""

    fov: float | None = None
    intrinsics: Path | None = None
    depth: Path | None = None
    start: float | None = None
    end: float | None = None
    render: bool = True
    camera: str = "auto"
    checkpoint: Path | None = None


class Timings:
    """Seconds per stage, in order."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


@dataclass
class Lifted:
    """Camera-frame evidence of every frame: joints (N, 22, 3), sole points (N, 4, 3), 2D keypoints
    (N, 22, 2) in video pixels, confidence (N, 22), depth-occluded joints (N, 22) or None."""

    joints: np.ndarray
    soles: np.ndarray
    keypoints: np.ndarray
    confidence: np.ndarray
    occluded: np.ndarray | None


def _check_output(out: Path, inputs: list[Path]) -> None:
    """The output folder may be new, empty, or a previous output (replaced at the end); never a
    file, another folder's contents, or a folder holding an input."""
    if out.exists() and not out.is_dir():
        raise RohmError("--out must be a folder, but a file of that name exists", out)
    resolved = out.resolve()
    for inp in inputs:
        if resolved == inp.resolve() or resolved in inp.resolve().parents:
            raise RohmError(f"the output folder would hold or replace the input {inp}", out)
    if out.is_dir() and any(out.iterdir()) and not (out / "summary.json").is_file():
        raise RohmError("the output folder exists and is not a `rohm video` output; choose a new folder", out)


def _publish(tmp: Path, out: Path) -> None:
    """Put the finished temporary folder in place of `out` (replacing a previous output)."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / out.name)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def detect_video(info: VideoInfo, span: Span, intrinsics: np.ndarray, timings: Timings,
                 progress: bool) -> tuple[Detections, CameraEvidence]:
    """MediaPipe on every frame of the span, streamed, and the background's motion around the
    person; decode, detection and background tracking timed apart (ffmpeg decodes in its own
    process, in parallel: 'decode' is the time spent waiting for it)."""
    results = []
    background = BackgroundTracker(info.size, intrinsics, info.fps)
    with native_output_silenced() as console, ThreadPoolExecutor(max_workers=1) as tracker:
        with timings.stage("detector_load"):
            detector = PoseDetector(info.size)
        with detector:
            frames = read_frames(info, span, scaled_size(info.size, DETECT_SIDE))
            bar = tqdm(total=len(span), desc="detect", unit="frame", file=console, disable=not progress)
            pending: Future[None] | None = None
            while True:
                with timings.stage("decode"):
                    frame = next(frames, None)
                if frame is None:
                    break
                with timings.stage("detect"):
                    results.append(detector.detect(frame))
                # Background tracking of frame i runs beside the detection of frame i + 1 (OpenCV
                # releases the interpreter lock); "background" is the time it was waited for.
                with timings.stage("background"):
                    if pending is not None:
                        pending.result()
                    pending = tracker.submit(background.add, frame, None if results[-1] is None else results[-1][0])
                bar.update()
            bar.close()
            with timings.stage("background"):
                if pending is not None:
                    pending.result()
    return stack(results), background.evidence()


def lift(det: Detections, intrinsics: np.ndarray, depth: DepthFrames | None, first_frame: int,
         progress: bool) -> Lifted:
    """Landmarks -> camera-frame joints: mapped to 22 joints (the trunk placed as the default body has it),
    translated from the 2D landmarks (or from depth), hidden joints (depth) marked. The 2D
    keypoints of the trunk joints move with their 3D placement."""
    line = map_points(det.world)
    rel = place_trunk(line)
    keypoints, confidence = map_points(det.image), map_confidence(det.visibility)
    trans = solve_translation(det.world, det.image, det.visibility, intrinsics)
    keypoints = keypoints + _project(rel + trans[:, None], intrinsics) - _project(line + trans[:, None], intrinsics)
    hidden = None
    if depth is not None:
        hidden = np.zeros(confidence.shape, dtype=bool)
        for i in tqdm(np.flatnonzero(det.detected), desc="depth", unit="frame", disable=not progress):
            observed = sample_depth(depth.read(first_frame + i), keypoints[i])
            placed = place_with_depth(rel[i], keypoints[i], np.where(confidence[i] >= VISIBLE, confidence[i], 0.0),
                                      observed, intrinsics)
            if np.isfinite(placed).all():
                trans[i] = placed
            hidden[i] = occluded(rel[i, :, 2] + trans[i, 2], observed)
        confidence = np.where(hidden, 0.0, confidence)
    offset = trans[:, None]
    return Lifted(rel + offset, det.world[:, list(SOLE_LANDMARKS)] + offset, keypoints, confidence, hidden)


def _project(points: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Camera-frame points (..., 3) -> pixels (..., 2)."""
    return points[..., :2] / points[..., 2:] @ intrinsics[:2, :2].T + intrinsics[:2, 2]


def input_motion(lifted: Lifted, ground: Ground, detected: np.ndarray, intrinsics: np.ndarray, fps: float) -> Motion:
    """The motion contract for rohm: world joints and masks, the 2D evidence and the camera of
    every frame (`extrinsics`, (N, 4, 4) world -> camera), which rohm's 2D guidance projects
    through frame by frame."""
    mask = (lifted.confidence >= VISIBLE) & detected[:, None]
    return Motion(joints=ground.to_world(lifted.joints), fps=fps, joint_mask=mask, intrinsics=intrinsics,
                  keypoints_2d=lifted.keypoints, keypoints_2d_conf=lifted.confidence, extrinsics=ground.extrinsics())


def output_motion(result: Motion, ground: Ground, lifted: Lifted, detected: np.ndarray, span: Span) -> Motion:
    """The reconstruction with what the video told: frames detected, input joints, video frame
    numbers, depth occlusions, the camera of every frame (extras['camera_extrinsics']) and, when
    the camera is static, its one pose (`extrinsics`). With a moving camera the 2D keypoints
    move to extras['detected_keypoints_2d*'] and there is no `extrinsics`.
    Contacts are raised to 1 where the output foot stands (slow and on the floor, as pinned by
    the foot lock): PoseNet is unsure of contacts on unusual footage such as slow motion."""
    from rohm.inference.foot_lock import stance_labels

    if result.contacts is not None:
        result.contacts = np.maximum(result.contacts, stance_labels(result.joints, result.contacts, result.fps))
    cameras = ground.extrinsics()
    result.extrinsics = None if ground.moving else cameras[0]
    result.extras.update(detected=detected, video_frames=np.arange(span.start, span.stop),
                         input_joints=ground.to_world(lifted.joints), camera_extrinsics=cameras)
    if lifted.occluded is not None:
        result.extras["depth_occluded"] = lifted.occluded
    if ground.moving:
        result.extras.update(detected_keypoints_2d=result.keypoints_2d, detected_keypoints_2d_conf=result.keypoints_2d_conf)
        result.keypoints_2d = result.keypoints_2d_conf = None
    return result


def run_video(video: str | Path, out: str | Path, options: VideoOptions | None = None,
              progress: bool = True) -> dict[str, Any]:
    """Reconstruct the person in `video`; write OUTPUTS into folder `out`; return the summary."""
    options = options or VideoOptions()
    video, out = Path(video), Path(out)
    timings = Timings()
    with timings.stage("detector_load"):
        check_available()  # imports MediaPipe: fail before any work when it is missing
    info = probe(video)
    span = select_span(info, options.start, options.end)
    if options.intrinsics is not None:
        intrinsics, camera_source = load_intrinsics(options.intrinsics), f"file {options.intrinsics}"
    else:
        fov = default_fov_deg(info.size) if options.fov is None else options.fov
        intrinsics = intrinsics_from_fov(fov, info.size)
        camera_source = f"{fov:.4g} deg horizontal field of view" + (
            f" (default: {DEFAULT_FOV_DEG:g} deg across the longer side)" if options.fov is None else "")
    depth = None
    if options.depth is not None:
        depth = DepthFrames(options.depth, info.size)
        depth.check_count(info.num_frames, exact=False)
    _check_output(out, [video] + ([options.depth] if options.depth is not None else []))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes 0700 folders; the output gets the usual permissions
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rohm-weights") as loader:
            weights = loader.submit(_load_reconstructor, options.checkpoint)
            summary = _run(info, span, intrinsics, camera_source, depth, options, weights, tmp, timings, progress)
        _publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return summary


def _load_reconstructor(checkpoint: Path | None) -> Reconstructor:
    """Import rohm's inference stack and load its weights: the start-up that `run_video` runs in a
    background thread, beside decoding and detection."""
    from rohm.inference import Reconstructor

    return Reconstructor.from_pretrained(checkpoint)


def _run(info: VideoInfo, span: Span, intrinsics: np.ndarray, camera_source: str, depth: DepthFrames | None,
         options: VideoOptions, weights: Future[Reconstructor], folder: Path, timings: Timings,
         progress: bool) -> dict[str, Any]:
    det, background = detect_video(info, span, intrinsics, timings, progress)
    identity = find_others(det.image, det.detected, info.fps)
    det = det.without(identity.other)
    n = len(det.detected)
    if n < MIN_SECONDS * info.fps:
        raise RohmError(f"only {n} frames could be decoded; at least {MIN_SECONDS:g} s is needed", info.path)
    span = Span(span.start, span.start + n)
    if depth is not None and options.end is None:
        depth.check_count(span.stop, exact=True)
    if not det.detected.any():
        raise RohmError("no person was detected in any frame", info.path)
    with timings.stage("lift"):
        lifted = lift(det, intrinsics, depth, span.start, progress)
    with timings.stage("ground"):
        ground = estimate_ground(lifted.joints, lifted.soles, info.fps, options.camera, background)
    with timings.stage("model_load"):  # what is left of loading the weights once detection is done
        reconstructor = weights.result()
    # Imported only now: they need torch, which the weights' thread imported meanwhile.
    from rohm.inference import Settings
    from rohm.io.export import export_bvh
    from rohm.io.glb import export_glb
    from rohm.video.overlay import OverlayData, write_overlay
    from rohm.video.person import floor_offset, lowered, with_own_shape
    from rohm.visualisation import render_video

    with timings.stage("shape"):
        motion = with_own_shape(input_motion(lifted, ground, det.detected, intrinsics, info.fps), reconstructor.body)
    with timings.stage("reconstruct"):
        result = reconstructor.reconstruct(motion, Settings.video(), progress=progress)
    settle = floor_offset(result.joints, result.contacts, result.fps)
    result, ground = lowered(result, settle), ground.with_floor_raised(settle)
    result = output_motion(result, ground, lifted, det.detected, span)
    extrinsics = ground.extrinsics()
    with timings.stage("save"):
        save_motion(result, folder / "motion.npz")
        export_bvh(result, folder / "motion.bvh", reconstructor.body)
        export_glb(result, folder / "motion.glb", reconstructor.body)
    if options.render:
        overlay = OverlayData(result, extrinsics, intrinsics, lifted.keypoints, lifted.confidence, det.detected)
        with timings.stage("overlay"):
            write_overlay(info, span, overlay, folder / "overlay.mp4", progress)
        with timings.stage("render"):
            render_video([result], folder / "render.mp4", labels=["rohm"], layout="overlay", size=RENDER_SIZE,
                         progress=progress)
    summary = _summary(info, span, det, background, identity, lifted, ground, result, intrinsics, camera_source,
                       depth, timings)
    summary["body"] = {"betas": [round(float(b), 4) for b in result.betas], "shape": "fitted to the median bone lengths",
                       "floor_raised_m": round(settle, 4)}
    write_text_atomic(folder / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


PIPELINE_STAGES = ("decode", "detect", "background", "lift", "ground", "shape", "reconstruct")  # the work per frame
# Once per run: importing MediaPipe, and the wait for the weights that detection did not hide.
STARTUP_STAGES = ("detector_load", "model_load")


def _summary(info: VideoInfo, span: Span, det: Detections, background: CameraEvidence, identity: Identity,
             lifted: Lifted, ground: Ground, result: Motion, intrinsics: np.ndarray, camera_source: str,
             depth: DepthFrames | None, timings: Timings) -> dict[str, Any]:
    n = len(span)
    pipeline = sum(timings.seconds.get(s, 0.0) for s in PIPELINE_STAGES)
    startup = sum(timings.seconds.get(s, 0.0) for s in STARTUP_STAGES)
    pitch, roll = ground.camera_pitch_roll()
    feet = result.joints[:, [7, 8, 10, 11], 1]
    decision = ground.decision
    summary: dict[str, Any] = {
        "video": str(info.path), "size": list(info.size), "fps": info.fps,
        "frames": n, "first_frame": span.start, "seconds": round(n / info.fps, 3),
        "detection_rate": round(float(det.detected.mean()), 4),
        "frames_without_detection": int((~det.detected).sum()),
        "other_person": identity.summary(),
        "joints_masked_rate": round(float(1.0 - ((lifted.confidence >= VISIBLE) & det.detected[:, None]).mean()), 4),
        "camera": {"intrinsics": intrinsics.round(3).tolist(), "source": camera_source,
                   "moving": ground.moving, "path_length_m": round(float(np.linalg.norm(
                       np.diff(ground.camera_path, axis=0), axis=1).sum()), 3),
                   "height_m": round(ground.camera_height(), 3), "pitch_down_deg": round(pitch, 2),
                   "roll_deg": round(roll, 2), "turn_deg": round(background.turn_deg(), 2),
                   "decision": None if decision is None else decision.reason,
                   "background_speed_per_s": None if decision is None or decision.background_speed is None
                   else round(decision.background_speed, 4),
                   "feet_camera_speed_m_s": None if decision is None else round(decision.feet_speed, 3),
                   "floor_places": None if ground.gravity is None else ground.gravity.places},
        "lowest_foot_joint_height_m": {"median": round(float(np.median(feet.min(axis=1))), 4),
                                       "min": round(float(feet.min()), 4)},
        "plausibility": plausibility(result.joints, result.contacts, result.fps, ground.extrinsics(), intrinsics,
                                     lifted.keypoints, lifted.confidence, det.detected),
        "timings_s": {k: round(v, 3) for k, v in timings.seconds.items()},
        "pipeline_fps": round(n / pipeline, 2),
        "pipeline_with_startup_fps": round(n / (pipeline + startup), 2),
        "pipeline_stages": list(PIPELINE_STAGES), "startup_stages": list(STARTUP_STAGES),
        "outputs": [name for name in OUTPUTS if name not in ("overlay.mp4", "render.mp4") or "overlay" in timings.seconds],
    }
    if depth is not None and lifted.occluded is not None:
        summary["depth"] = {"folder": str(depth.folder), "occluded_joint_rate": round(float(lifted.occluded.mean()), 4)}
    return summary
