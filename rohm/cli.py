"""The `rohm` command line: one entry point, one subcommand per job.

Every user-facing problem is a RohmError: printed as one line on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from rohm.errors import RohmError


def _cmd_data_build(args: argparse.Namespace) -> int:
    from rohm.data.build import build_dataset

    summary = build_dataset(args.source, args.out, args.joint_map, fps=args.fps, workers=args.workers)
    err = summary["retarget_error_mm"]
    print(f"wrote {summary['clips']} clips ({summary['hours']:.2f} h) to {args.out}")
    for split, s in summary["splits"].items():
        print(f"  {split:5s} {s['clips']:5d} clips {s['hours']:7.3f} h")
    print(f"retarget error: mean {err['mean']:.1f} mm, max {err['max']:.1f} mm (per clip)")
    print(f"summary: {Path(args.out) / 'summary.json'}")
    return 0


def _cmd_corrupt(args: argparse.Namespace) -> int:
    from rohm.corruption import corrupt_motion
    from rohm.io.atomic import check_not_input
    from rohm.io.motion_file import load_motion, save_motion

    check_not_input(args.out, [args.input])
    motion = load_motion(args.input)
    try:
        corrupted = corrupt_motion(motion, args.noise, args.occlusion, args.seed)
    except RohmError as exc:
        raise RohmError(str(exc), args.input) from None
    save_motion(corrupted, args.out)
    masked = int((~corrupted.observed()).sum())
    print(f"wrote {args.out}: {corrupted.num_frames} frames, noise k={args.noise}, "
          f"occlusion {args.occlusion}, {masked} of {corrupted.observed().size} joints missing")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from rohm.evaluation.metrics import evaluate, format_table
    from rohm.io.atomic import write_text_atomic
    from rohm.io.motion_file import load_motion

    pred = load_motion(args.pred)
    gt = load_motion(args.gt)
    inp = load_motion(args.input, allow_all_missing=True) if args.input else None
    results = evaluate(pred, gt, inp)
    print(format_table(results))
    if args.json:
        write_text_atomic(args.json, json.dumps(results, indent=2))
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    import torch

    from rohm.training.config import TrainConfig
    from rohm.training.trainer import Trainer

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = TrainConfig.load(args.config) if args.config else TrainConfig()
    trainer = Trainer(args.data, args.out, cfg, device=args.device, max_clips=args.max_clips)
    state = trainer.run_all(only=args.stage, resume=args.resume)
    if trainer.main:
        print(f"finished stages: {', '.join(state['done'])}; weights and log in {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rohm", description="Robust human motion reconstruction via diffusion.")
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="build training/evaluation data from raw mocap")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    build = data_sub.add_parser("build", help="BVH/npz folder or archive -> motion npz per clip, split, summary")
    build.add_argument("--source", required=True, help="folder or archive (.tar.xz, .zip, ...) of .bvh or .npz files")
    build.add_argument("--out", required=True, help="output folder (train/, val/, test/, summary.json)")
    build.add_argument("--joint-map", default=None, help="JSON joint map for non-Bandai rigs")
    build.add_argument("--fps", type=float, default=30.0, help="output frame rate (default 30)")
    build.add_argument("--workers", type=int, default=2, help="reader processes (default 2)")
    build.set_defaults(func=_cmd_data_build)

    train = sub.add_parser("train", help="train TrajNet, TrajControl, PoseNet and MDM++ (the curriculum of Supp. B.1)")
    train.add_argument("--data", required=True, help="a `rohm data build` folder")
    train.add_argument("--out", required=True, help="run folder (checkpoints, state.json, log.jsonl)")
    train.add_argument("--config", default=None, help="training config JSON (default: the shipped curriculum)")
    train.add_argument("--stage", default=None, help="run only this stage")
    train.add_argument("--resume", action="store_true", help="continue the run folder's unfinished stages")
    train.add_argument("--device", default="cpu", help="cpu or cuda (under torchrun: one GPU per process)")
    train.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    train.add_argument("--max-clips", type=int, default=None, help="use only the first N clips per split (smoke tests)")
    train.set_defaults(func=_cmd_train)

    from rohm.corruption import OCCLUSIONS

    corrupt = sub.add_parser("corrupt", help="make a noisy, occluded test input (the paper's AMASS setup)")
    corrupt.add_argument("input", help="motion npz with body parameters")
    corrupt.add_argument("--noise", type=float, required=True, help="noise level k: k degrees on rotations, k cm on translation")
    corrupt.add_argument("--occlusion", choices=OCCLUSIONS, required=True)
    corrupt.add_argument("--seed", type=int, default=0)
    corrupt.add_argument("--out", required=True, help="output npz")
    corrupt.set_defaults(func=_cmd_corrupt)

    ev = sub.add_parser("evaluate", help="the paper's metrics of a prediction against ground truth")
    ev.add_argument("pred", help="predicted motion npz")
    ev.add_argument("--gt", required=True, help="ground-truth motion npz")
    ev.add_argument("--input", default=None, help="the corrupted input (for visible/occluded joints)")
    ev.add_argument("--json", default=None, help="write the metrics as JSON here")
    ev.set_defaults(func=_cmd_evaluate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `rohm` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except RohmError as exc:
        print(f"rohm: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rohm: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
