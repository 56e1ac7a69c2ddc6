"""`rohm benchmark`: methods x protocols on whole clips, resumable, with tables and plots.

Each (protocol, clip) input is made once, deterministically (seed + clip index), and given to
every method. Per-clip metrics are appended to DIR/clips/<protocol>.jsonl as soon as a clip is
done, so a killed run continues where it stopped; results.json / results.md / plots are
rebuilt from those files at the end (and by `--report-only`).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from rohm.errors import RohmError
from rohm.evaluation.catalogue import (
    DEFAULT_PROTOCOLS,
    METHOD_PROTOCOLS,
    METHODS,
    PROTOCOLS,
)
from rohm.evaluation.protocol import Method, aggregate, score_clip
from rohm.io.atomic import write_text_atomic


def build_method(name: str, weights: str | Path | None = None) -> Method:
    """A method by name (loads its networks/priors once)."""
    if name == "input":
        from rohm.inference.prepare import filled_input

        return filled_input
    if name == "classical":
        from rohm.baselines.classical import classical_method

        return classical_method()
    if name == "optim":
        from rohm.baselines.optim import optim_method

        return optim_method()
    from rohm.inference import Reconstructor, Settings

    variants = {"mdm++": Settings(), "rohm": Settings(), "rohm-paper": Settings.paper(),
                "rohm-no-trajcontrol": Settings(trajcontrol=False),
                "rohm-k1": Settings(iterations=1), "rohm-no-guidance": Settings(guidance=False),
                "rohm-no-skate": Settings(skate_weight=0.0), "rohm-no-footlock": Settings(foot_lock=False),
                "rohm-no-gap": Settings(gap_weight=0.0, joint_gap_weight=0.0),
                "paper-k1": replace(Settings.paper_fast(), iterations=1),
                "paper-k2-no-tc": replace(Settings.paper_fast(), trajcontrol=False),
                "paper-k2": Settings.paper_fast(),
                "paper-k2-no-guidance": replace(Settings.paper_fast(), guidance=False)}
    if name not in variants:
        raise RohmError(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
    rec = Reconstructor.from_pretrained(weights, model="mdm++" if name == "mdm++" else "rohm")
    settings = variants[name]
    return lambda m: rec.reconstruct(m, settings)


# ----- the worker side --------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _die_with_parent() -> None:
    """Ask Linux to end this worker when the benchmark process dies (a killed run leaves no orphans)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _init_worker(threads: int, weights: str | None, worker: bool = False) -> None:
    import torch

    if worker:
        _die_with_parent()
    torch.set_num_threads(threads)
    _WORKER.update(methods={}, weights=weights)


def _run_clip(task: tuple[str, int, str, int, tuple[str, ...]]) -> dict[str, Any]:
    """Corrupt one clip and score the asked methods on it (runs in a worker process)."""
    protocol_name, index, path, seed, names = task
    methods = _WORKER["methods"]
    for name in names:
        if name not in methods:
            methods[name] = build_method(name, _WORKER["weights"])
    row = score_clip(PROTOCOLS[protocol_name], path, seed + index, {name: methods[name] for name in names})
    return {"clip": row["clip"], "index": index, **{k: v for k, v in row.items() if k != "clip"}}


# ----- the driver ---------------------------------------------------------------------------------
def _done(jsonl: Path) -> dict[str, dict[str, Any]]:
    """Finished rows of a protocol file, by clip name (a torn last line from a kill is ignored)."""
    rows: dict[str, dict[str, Any]] = {}
    if jsonl.exists():
        for line in jsonl.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            rows.setdefault(row["clip"], {"clip": row["clip"], "index": row["index"], "frames": row["frames"],
                                          "methods": {}})["methods"].update(row["methods"])
    return rows


def forget(jsonl: Path, methods: Sequence[str]) -> None:
    """Drop the finished rows of `methods` from a protocol file (rewritten atomically), so they run again."""
    if not methods or not jsonl.exists():
        return
    kept = []
    for row in _done(jsonl).values():
        row["methods"] = {m: v for m, v in row["methods"].items() if m not in methods}
        if row["methods"]:
            kept.append(json.dumps(row) + "\n")
    write_text_atomic(jsonl, "".join(kept))


def plan(protocols: Sequence[str], methods: Sequence[str], clips: Sequence[Path],
         all_pairs: bool = False) -> dict[str, dict[str, list[int]]]:
    """protocol -> method -> clip indices to run: every clip, on METHOD_PROTOCOLS unless `all_pairs`."""
    out: dict[str, dict[str, list[int]]] = {}
    for p in protocols:
        out[p] = {}
        for m in methods:
            if not all_pairs and p not in METHOD_PROTOCOLS.get(m, tuple(PROTOCOLS)):
                continue
            out[p][m] = list(range(len(clips)))
    return out


def run_benchmark(data: str | Path, out: str | Path, split: str = "test", protocols: Sequence[str] = DEFAULT_PROTOCOLS,
                  methods: Sequence[str] = METHODS, max_clips: int | None = None, workers: int = 1, seed: int = 0,
                  weights: str | Path | None = None, report_only: bool = False, all_pairs: bool = False,
                  rerun: Sequence[str] = ()) -> dict[str, Any]:
    """Run (or resume) the benchmark and write results.json, results.md and plots into `out`;
    finished rows of the `rerun` methods are discarded first (after a change to a method)."""
    for p in protocols:
        if p not in PROTOCOLS:
            raise RohmError(f"unknown protocol {p!r}; choose from {', '.join(PROTOCOLS)}")
    for m in (*methods, *rerun):
        if m not in METHODS:
            raise RohmError(f"unknown method {m!r}; choose from {', '.join(METHODS)}")
    splits = ("train", "val", "test") if split == "all" else (split,)
    clips = sorted(p for s in splits for p in (Path(data) / s).glob("*.npz"))[:max_clips]
    if not clips:
        raise RohmError(f"no clips in split {split!r}", data)
    out = Path(out)
    (out / "clips").mkdir(parents=True, exist_ok=True)
    todo = plan(protocols, methods, clips, all_pairs)
    if not report_only:
        for p in protocols:
            forget(out / "clips" / f"{p}.jsonl", rerun)
        threads = max(1, (os.cpu_count() or 1) // max(1, workers))
        init = (threads, None if weights is None else str(weights))
        # Workers are spawned, not forked: forking a process that has started torch's threads can hang.
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=(*init, True)) if workers > 1 else None
        if pool is None:
            _init_worker(*init)
        mapper = pool.map if pool is not None else map
        try:
            for p in protocols:
                jsonl = out / "clips" / f"{p}.jsonl"
                done = _done(jsonl)
                tasks = []
                for i, clip in enumerate(clips):
                    need = tuple(m for m, idx in todo[p].items() if i in idx
                                 and m not in done.get(clip.stem, {}).get("methods", {}))
                    if need:
                        tasks.append((p, i, str(clip), seed, need))
                bar = tqdm(total=sum(len(t[4]) for t in tasks), desc=p, unit="run")
                with jsonl.open("a") as fh:
                    for row in mapper(_run_clip, tasks):
                        fh.write(json.dumps(row) + "\n")
                        fh.flush()
                        bar.update(len(row["methods"]))
                bar.close()
        finally:
            if pool is not None:
                pool.shutdown()
    results = collect(out, protocols, methods, clips, todo)
    report = {"split": split, "clips_in_split": len(clips), "seed": seed, "seeds": "seed + clip index per input",
              "command": reproducing_command(sys.argv), "machine": machine_info(workers), "plan": {
                  p: {m: len(idx) for m, idx in ms.items()} for p, ms in todo.items()},
              "protocols": {p: PROTOCOLS[p].title for p in protocols}, "results": results}
    write_text_atomic(out / "results.json", json.dumps(report, indent=2))
    from rohm.evaluation.report import write_markdown, write_plots

    write_markdown(report, out / "results.md")
    write_plots(report, out)
    return report


def reproducing_command(argv: Sequence[str]) -> str:
    """The command line that makes these results from scratch (bookkeeping flags --rerun/--report-only dropped)."""
    if "benchmark" not in argv:
        return "run_benchmark() from Python: " + " ".join(argv)
    args, skip = ["rohm", "benchmark"], False
    for a in argv[list(argv).index("benchmark") + 1:]:
        if skip:
            skip = False
        elif a == "--rerun":
            skip = True
        elif a != "--report-only" and not a.startswith("--rerun="):
            args.append(a)
    return " ".join(args)


def collect(out: Path, protocols: Sequence[str], methods: Sequence[str], clips: Sequence[Path],
            todo: dict[str, dict[str, list[int]]]) -> dict[str, dict[str, Any]]:
    """protocol -> method -> frame-weighted metrics, runtime per clip and per 144 frames."""
    names = {c.stem for c in clips}
    results: dict[str, dict[str, Any]] = {}
    for p in protocols:
        rows = [r for r in _done(out / "clips" / f"{p}.jsonl").values() if r["clip"] in names]
        results[p] = {}
        for m in methods:
            per_clip = [{**r["methods"][m], "frames.gt": r["frames"]} for r in rows if m in r["methods"]]
            if not per_clip:
                continue
            seconds = np.array([c.pop("seconds") for c in per_clip])
            frames = np.array([c["frames.gt"] for c in per_clip])
            agg = aggregate(per_clip)
            agg.update(seconds_per_clip=float(seconds.mean()), seconds_per_144_frames=float(seconds.sum() / frames.sum() * 144),
                       complete=len(per_clip) == len(todo[p].get(m, [])))
            results[p][m] = agg
    return results


def machine_info(workers: int) -> dict[str, Any]:
    """What the numbers were measured on."""
    import torch

    cpu = platform.processor()
    if Path("/proc/cpuinfo").exists():
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), cpu)
    return {"platform": platform.platform(), "cpu": cpu, "cpu_count": os.cpu_count(), "workers": workers,
            "torch": torch.__version__, "python": platform.python_version()}
