"""The `rohm` command line: one entry point, one subcommand per job.

Every user-facing problem is a RohmError: printed as one line on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rohm.builtin_clips import DEFAULT_CLIP
from rohm.cli_flags import add_threads_flag, set_threads
from rohm.errors import RohmError
from rohm.evaluation.catalogue import DEFAULT_PROTOCOLS, METHODS, parse_list
from rohm.occlusions import OCCLUSIONS
from rohm.video.command import add_video_parser

if TYPE_CHECKING:
    from rohm.inference import Settings


def _cmd_data_build(args: argparse.Namespace) -> int:
    from rohm.data.build import build_dataset

    summary = build_dataset(args.source, args.out, args.joint_map, fps=args.fps, workers=args.workers,
                            keep_flagged=args.keep_flagged, split=args.split)
    err = summary["retarget_error_mm"]
    print(f"wrote {summary['clips']} clips ({summary['hours']:.2f} h) to {args.out}")
    for split, s in summary["splits"].items():
        print(f"  {split:5s} {s['clips']:5d} clips {s['hours']:7.3f} h")
    print(f"retarget error: mean {err['mean']:.1f} mm, max {err['max']:.1f} mm (per clip)")
    flagged = summary.get("flagged", {})
    if flagged.get("count"):
        action = "kept" if args.keep_flagged else "left out"
        print(f"{flagged['count']} clips with impossible motion {action} (reasons in summary.json 'flagged'):")
        for clip in flagged.get("clips", [])[:5]:
            print(f"  {clip.get('clip', clip)}: {'; '.join(clip.get('reasons', [])) if isinstance(clip, dict) else ''}")
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


def _settings(args: argparse.Namespace) -> Settings:
    """Inference settings from the reconstruct/demo flags."""
    from rohm.inference import Settings

    settings = Settings.paper() if args.paper else Settings()
    settings.seed = args.seed
    if args.iterations is not None:
        settings.iterations = args.iterations
    if args.steps is not None:
        settings.pose_steps, settings.traj_steps = args.steps, max(1, args.steps // 2)
    settings.guidance = not args.no_guidance
    settings.trajcontrol = not args.no_trajcontrol
    settings.foot_lock = not args.no_foot_lock
    settings.samples = args.samples
    settings.check()
    return settings


def _device(name: str) -> str:
    import torch

    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RohmError(f"--device {name}: no CUDA device is available here")
    return name


def _cmd_reconstruct(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from rohm.inference.batch import Options, Worker, plan_jobs, run_local, run_on_ray

    set_threads(args.threads)
    options = Options(_settings(args), args.checkpoint, _device(args.device), args.joint_map, args.threads)
    if args.workers is not None and args.workers < 1:
        raise RohmError(f"--workers must be >= 1, got {args.workers}")
    jobs = plan_jobs(args.inputs, args.out)
    todo = [job for job in jobs if not (args.resume and job.output.exists())]
    if len(todo) < len(jobs):
        print(f"--resume: {len(jobs) - len(todo)} of {len(jobs)} outputs exist already, skipped")
    if not todo:
        return 0
    if len(jobs) == 1 and todo and args.ray is None:  # one clip: here, errors raised as they are
        done = Worker(options).run(todo[0], catch=False, progress=True)
        for note in done.warnings:
            print(f"rohm: warning: {done.job.source}: {note}", file=sys.stderr)
        print(f"{done.job.output}: {done.frames} frames in {done.seconds:.2f} s")
        return 0
    if args.ray is not None:
        results = run_on_ray(todo, options, args.ray or None, args.workers)
    else:
        results = run_local(todo, options, args.workers or 1)
    failed = 0
    with tqdm(total=len(todo), desc="clips", unit="clip") as bar:
        for done in results:
            for note in done.warnings:
                tqdm.write(f"rohm: warning: {done.job.source}: {note}", file=sys.stderr)
            if done.error is not None:
                failed += 1
                tqdm.write(f"rohm: error: {done.error_path or done.job.source}: {done.error}", file=sys.stderr)
            else:
                tqdm.write(f"{done.job.output}: {done.frames} frames in {done.seconds:.2f} s")
            bar.update()
    if failed:
        raise RohmError(f"{failed} of {len(todo)} inputs failed (listed above); the others were written", args.out)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from rohm.io.atomic import check_not_input
    from rohm.io.export import export_bvh
    from rohm.io.glb import export_glb
    from rohm.io.motion_file import load_motion

    outputs = [(out, write) for out, write in ((args.bvh, export_bvh), (args.glb, export_glb)) if out]
    if not outputs:
        raise RohmError("nothing to export: give --bvh OUT.bvh and/or --glb OUT.glb")
    for out, _ in outputs:
        check_not_input(out, [args.motion])
    motion = load_motion(args.motion)
    for out, write in outputs:
        try:
            write(motion, out)
        except RohmError as exc:
            raise RohmError(exc.message, exc.path or args.motion) from None
        print(f"wrote {out}: {motion.num_frames} frames at {motion.fps:g} fps (metres, y-up)")
    return 0


def _labelled_motions(args: argparse.Namespace) -> tuple[list, list[str]]:
    """The motion and --compare motions of `view`/`render`, with their --labels (default: file names)."""
    from rohm.io.atomic import check_not_input
    from rohm.io.motion_file import load_motion

    paths = [args.motion, *args.compare]
    check_not_input(args.out, paths)
    labels = args.labels.split(",") if args.labels else [Path(p).stem for p in paths]
    if len(labels) != len(paths):
        raise RohmError(f"--labels gives {len(labels)} names for {len(paths)} motions")
    return [load_motion(p, allow_all_missing=True) for p in paths], labels


def _cmd_view(args: argparse.Namespace) -> int:
    from rohm.io.glb import glb_bytes
    from rohm.visualisation.viewer import write_viewer

    motions, labels = _labelled_motions(args)
    try:
        glb = glb_bytes(motions[0]) if args.mesh else None
    except RohmError as exc:
        raise RohmError(exc.message, exc.path or args.motion) from None
    out = write_viewer(motions[0], args.out, motions[1:], labels, glb)
    print(f"wrote {out}: open it in a browser (works offline)")
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    from rohm.visualisation import render_video

    motions, labels = _labelled_motions(args)
    out = render_video(motions, args.out, labels=labels, layout=args.layout, mode=args.mode)
    print(f"wrote {out}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from rohm.builtin_clips import demo_clips

    if args.list:
        print("\n".join(demo_clips()))
        return 0
    from rohm.demo import run_demo

    _device(args.device)
    files = run_demo(args.out, clip=args.clip, noise=args.noise, occlusion=args.occlusion, seed=args.seed,
                     settings=_settings(args), weights=args.checkpoint, video=not args.no_video)
    print("wrote:")
    for name, path in files.items():
        print(f"  {name:12s} {path}")
    return 0


def _cmd_benchmark(args: argparse.Namespace) -> int:
    from rohm.evaluation.benchmark import run_benchmark

    report = run_benchmark(args.data, args.out, split=args.split, protocols=parse_list(args.protocols, DEFAULT_PROTOCOLS),
                           methods=parse_list(args.methods, METHODS), max_clips=args.max_clips, workers=args.workers,
                           seed=args.seed, weights=args.checkpoint, report_only=args.report_only, all_pairs=args.all_pairs,
                           rerun=parse_list(args.rerun, ()))
    main = report["results"].get("occl-k3", {})
    for name, r in main.items():
        print(f"occl-k3 {name:20s} GMPJPE all {r['gmpjpe.all']:.1f} occ {r['gmpjpe.occ']:.1f} mm, "
              f"accel {r['accel']:.2f}, skating {r['skating']:.3f}, {r['seconds_per_144_frames']:.2f} s/144 frames")
    print(f"wrote {Path(args.out) / 'results.json'}, results.md and plots")
    return 0


def _add_inference_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--iterations", type=int, default=None, help="iterations K of Algorithm 1 (default 2)")
    p.add_argument("--steps", type=int, default=None,
                   help="PoseNet sampling steps (TrajNet gets half; default 20/10 DDIM)")
    p.add_argument("--paper", action="store_true", help="the paper's full DDPM sampling (1000/100 steps): slow")
    p.add_argument("--no-guidance", action="store_true", help="no score guidance (foot skating, 2D reprojection)")
    p.add_argument("--no-trajcontrol", action="store_true", help="TrajNet without TrajControl in iterations > 1")
    p.add_argument("--no-foot-lock", action="store_true", help="leave feet unpinned during their contacts")
    p.add_argument("--samples", type=int, default=1, help="draw S reconstructions; writes joints_std (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint", default=None, help="weights folder (default: the shipped rohm/weights)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rohm", description="Robust human motion reconstruction via diffusion.")
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="build training/evaluation data from raw mocap")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    build = data_sub.add_parser("build", help="BVH/npz folder or archive -> motion npz per clip, split, summary")
    build.add_argument("--source", required=True, help="folder or archive (.tar.xz, .zip, ...) of .bvh or .npz files")
    build.add_argument("--out", required=True, help="output folder (train/, val/, test/, summary.json)")
    build.add_argument("--joint-map", default=None,
                       help="JSON joint map or built-in name (bandai, cmu, mixamo, smplx); default: detected from each file's joint names")
    build.add_argument("--split", choices=("train", "val", "test"), default=None,
                       help="put every clip in this split (e.g. val for an evaluation-only set); default: the split rules")
    build.add_argument("--keep-flagged", action="store_true",
                       help="also write clips whose motion fails the source-data checks (always listed in summary.json)")
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

    rec = sub.add_parser("reconstruct", help="denoise and complete motion files (the main job)")
    rec.add_argument("inputs", nargs="+", metavar="IN",
                     help="motion npz (contract, AMASS-style or joints-only) or BVH files, or folders of them")
    rec.add_argument("--out", required=True,
                     help="output .npz or .bvh for one input, else a folder (a BVH comes back on its own skeleton)")
    rec.add_argument("--resume", action="store_true", help="skip inputs whose output already exists")
    rec.add_argument("--joint-map", default=None, metavar="NAME|FILE",
                     help="BVH joints -> body joints: a built-in map (bandai, cmu, mixamo, smplx) or a JSON file "
                          "(default: detected from the joint names)")
    rec.add_argument("--workers", type=int, default=None, metavar="N",
                     help="processes, each loading the model once (default 1; with --ray: the cluster's CPUs / --threads)")
    rec.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                     help="spread the clips over a Ray cluster (no ADDRESS: RAY_ADDRESS or a new local instance); "
                          "needs pip install 'rohm[ray]'")
    _add_inference_flags(rec)
    add_threads_flag(rec)
    rec.set_defaults(func=_cmd_reconstruct)

    exp = sub.add_parser("export", help="write a motion with body parameters as BVH and/or glTF (metres, y-up)")
    exp.add_argument("motion", help="motion npz, e.g. a `rohm reconstruct` output")
    exp.add_argument("--bvh", default=None, help="output .bvh (the 22-joint skeleton)")
    exp.add_argument("--glb", default=None, help="output .glb (the skinned, animated body)")
    exp.set_defaults(func=_cmd_export)

    view = sub.add_parser("view", help="one self-contained HTML page to play, scrub and orbit motions in a browser")
    view.add_argument("motion", help="motion npz, e.g. a `rohm reconstruct` output")
    view.add_argument("--compare", nargs="*", default=[], help="more motions shown with it (e.g. the input)")
    view.add_argument("--labels", default=None, help="comma-separated names (default: file names)")
    view.add_argument("--mesh", action="store_true", help="also show the result's body mesh (needs body parameters)")
    view.add_argument("--out", required=True, help="output .html")
    view.set_defaults(func=_cmd_view)

    ren = sub.add_parser("render", help="3D video of motions (skeleton or mesh, floor grid, side by side)")
    ren.add_argument("motion", help="motion npz")
    ren.add_argument("--compare", nargs="*", default=[], help="more motions shown with it")
    ren.add_argument("--labels", default=None, help="comma-separated names (default: file names)")
    ren.add_argument("--layout", choices=("side", "overlay"), default="side")
    ren.add_argument("--mode", choices=("skeleton", "mesh"), default="skeleton")
    ren.add_argument("--out", required=True, help="output .mp4")
    ren.set_defaults(func=_cmd_render)

    bench = sub.add_parser("benchmark", help="methods x protocols on whole clips: results.json, results.md, plots")
    bench.add_argument("--data", required=True, help="a `rohm data build` folder")
    bench.add_argument("--split", choices=("test", "val", "all"), default="test")
    bench.add_argument("--protocols", default=None, help=f"comma-separated, or a group: shape, main, sweep (default: {', '.join(DEFAULT_PROTOCOLS)})")
    bench.add_argument("--methods", default=None, help=f"comma-separated (default: all of {', '.join(METHODS)})")
    bench.add_argument("--all-pairs", action="store_true",
                       help="run every method on every protocol (default: ablations and rohm-paper on their protocols only)")
    bench.add_argument("--max-clips", type=int, default=None)
    bench.add_argument("--workers", type=int, default=1, help="processes (torch threads are shared out)")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--checkpoint", default=None, help="weights folder (default: the shipped rohm/weights)")
    bench.add_argument("--report-only", action="store_true", help="rebuild results.json/md/plots from finished clips")
    bench.add_argument("--rerun", default=None,
                       help="comma-separated methods whose finished clips are discarded and run again (after a change)")
    bench.add_argument("--out", required=True, help="output folder (resumable)")
    bench.set_defaults(func=_cmd_benchmark)

    add_video_parser(sub)

    demo = sub.add_parser("demo", help="corrupt, reconstruct, score and render a built-in real clip")
    demo.add_argument("--out", default="rohm-demo", help="output folder (default rohm-demo)")
    demo.add_argument("--clip", default=DEFAULT_CLIP, help=f"built-in clip (default {DEFAULT_CLIP}; --list)")
    demo.add_argument("--list", action="store_true", help="list the built-in clips")
    demo.add_argument("--noise", type=float, default=3.0, help="noise level k (default 3)")
    demo.add_argument("--occlusion", choices=OCCLUSIONS, default="lower")
    demo.add_argument("--no-video", action="store_true", help="skip the comparison video")
    _add_inference_flags(demo)
    demo.set_defaults(func=_cmd_demo)
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
