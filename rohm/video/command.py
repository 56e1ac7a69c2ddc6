"""`rohm video`: the command-line entry of the video front end."""

from __future__ import annotations

import argparse
from pathlib import Path

from rohm.cli_flags import add_threads_flag, set_threads
from rohm.video.camera import CAMERA_MODES, DEFAULT_FOV_DEG


def add_video_parser(sub: argparse._SubParsersAction) -> None:
    """Register `rohm video`."""
    video = sub.add_parser(
        "video", help="reconstruct the person in an RGB(-D) video (needs the `video` extra: pip install \"rohm[video]\")",
        description="Detect the person in every frame (MediaPipe), lift to a gravity-aligned world with the floor "
                    "at y = 0, and reconstruct clean, complete motion with rohm. Writes motion.npz, motion.bvh, motion.glb, "
                    "overlay.mp4, render.mp4 and summary.json into --out.")
    video.add_argument("video", help="input video (anything ffmpeg reads), at least 1 s long")
    video.add_argument("--out", required=True, help="output folder (a previous output there is replaced)")
    lens = video.add_mutually_exclusive_group()
    lens.add_argument("--fov", type=float, default=None,
                      help=f"horizontal field of view in degrees (default: {DEFAULT_FOV_DEG:g} across the longer side, "
                           "a phone's main camera)")
    lens.add_argument("--intrinsics", type=Path, default=None,
                      help='JSON: a 3x3 matrix, {"K": 3x3} or {"fx", "fy", "cx", "cy"}, in video pixels')
    video.add_argument("--depth", type=Path, default=None,
                       help="folder of depth frames: one 16-bit PNG per frame of the whole video (sorted by name), "
                            "millimetres, registered to the colour frames")
    video.add_argument("--start", type=float, default=None, help="first second used (default: 0)")
    video.add_argument("--end", type=float, default=None, help="last second used (default: the end)")
    video.add_argument("--camera", choices=CAMERA_MODES, default="auto",
                       help="static camera (it may turn: its turns are measured on the background), moving "
                            "(travelling, e.g. a tracking shot), or auto-detect from the background and the feet (default)")
    video.add_argument("--render", action=argparse.BooleanOptionalAction, default=True,
                       help="write overlay.mp4 and render.mp4 (default: yes)")
    video.add_argument("--checkpoint", type=Path, default=None, help="weights folder (default: the shipped rohm/weights)")
    add_threads_flag(video)
    video.set_defaults(func=_cmd_video)


def _cmd_video(args: argparse.Namespace) -> int:
    from rohm.video.pipeline import VideoOptions, run_video

    set_threads(args.threads)
    options = VideoOptions(fov=args.fov, intrinsics=args.intrinsics, depth=args.depth, start=args.start,
                           end=args.end, render=args.render, camera=args.camera, checkpoint=args.checkpoint)
    summary = run_video(args.video, args.out, options)
    cam = summary["camera"]
    print(f"wrote {args.out}: {', '.join(summary['outputs'])}")
    print(f"  {summary['frames']} frames at {summary['fps']:g} fps, person detected in "
          f"{100 * summary['detection_rate']:.1f}% of frames; camera {'moving' if cam['moving'] else 'static'} "
          f"({cam['decision']}), {cam['height_m']:.2f} m above the floor")
    if summary["other_person"]["switches"]:
        print(f"  {summary['other_person']['frames_masked']} frames showed another person: treated as missing")
    stages = ", ".join(f"{k} {v:.2f} s" for k, v in summary["timings_s"].items())
    print(f"  {stages}")
    print(f"  decode to reconstruction: {summary['pipeline_fps']} fps ({summary['pipeline_with_startup_fps']} fps "
          "with MediaPipe and weights loading)")
    return 0
