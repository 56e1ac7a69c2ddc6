"""Reconstructing many motion files: one job per file, run here, in a process pool or on a Ray cluster.

A job reads one input (a motion npz or a BVH take, told apart by their first bytes), checks that
a human body can have made it (`check_human`), reconstructs it and writes its output atomically
the moment it is done: an interrupted run keeps every finished clip, and a rerun with `resume`
skips inputs whose output exists. A BVH take comes back as a BVH on its own skeleton
(`rohm.inference.bvh_take`). Each worker loads the model once. One bad file does not stop a
library: its error comes back with its job and the other clips go on.

Over Ray the files travel as bytes (the driver reads the inputs and writes the outputs), so the
cluster's machines need rohm installed but no shared file system; custom weights and a JSON
joint map travel the same way.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rohm.data.joint_map import load_joint_map
from rohm.data.sources import list_motion_files
from rohm.errors import RohmError
from rohm.inference import Reconstructor, Settings
from rohm.inference.bvh_take import BvhTake, read_take, write_take
from rohm.inference.pretrained import read_manifest
from rohm.io.atomic import atomic_path
from rohm.io.export import export_bvh
from rohm.io.motion_file import Motion, check_human, file_kind, load_motion, save_motion

OUTPUT_SUFFIXES = (".npz", ".bvh")


@dataclass(frozen=True)
class Job:
    """One input file and the output it becomes."""

    source: Path
    output: Path


@dataclass(frozen=True)
class Options:
    """What every worker needs to run jobs (picklable: sent once to each worker)."""

    settings: Settings
    weights: str | None = None  # weights folder; None: the shipped weights
    device: str = "cpu"
    joint_map: str | None = None  # BVH takes: a built-in map's name or a JSON file; None: detected
    threads: int | None = None  # torch CPU threads per worker; None: torch's choice (pools: cores / workers)


@dataclass
class Done:
    """A finished job: frames written and seconds taken, or the error that stopped it."""

    job: Job
    frames: int = 0
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()
    error: str | None = None
    error_path: str | None = None  # the file the error names when it is not the job's input


def plan_jobs(inputs: list[str] | list[Path], out: str | Path) -> list[Job]:
    """One job per input file; a folder stands for every .npz and .bvh file under it (outputs keep
    their paths relative to it). One input file with OUT ending in .npz or .bvh: OUT itself,
    else OUT is a folder and each output has its input's name (a BVH gives a BVH)."""
    out = Path(out)
    out_is_file = out.suffix.lower() in OUTPUT_SUFFIXES and not out.is_dir()
    pairs: list[tuple[Path, Path]] = []
    for item in map(Path, inputs):
        if item.is_dir():
            earlier = out.resolve() != item.resolve()  # an earlier run's outputs in a folder inside the input folder
            inside = [f for f in list_motion_files(item) if not (earlier and f.resolve().is_relative_to(out.resolve()))]
            if not inside:
                raise RohmError("no .npz or .bvh motion files in this folder", item)
            pairs += [(f, f.relative_to(item)) for f in inside]
        else:
            pairs.append((item, Path(item.name)))
    if out_is_file and (len(pairs) > 1 or Path(inputs[0]).is_dir()):
        raise RohmError("several inputs need an output folder, not a file", out)
    jobs = [Job(pairs[0][0], out)] if out_is_file else [Job(src, out / rel) for src, rel in pairs]
    outputs = [job.output.resolve() for job in jobs]
    if len(set(outputs)) != len(outputs):
        raise RohmError("two inputs have the same file name; reconstruct them into different folders", out)
    sources = {job.source.resolve() for job in jobs}
    for job, resolved in zip(jobs, outputs):
        if resolved in sources:
            raise RohmError("output path is an input file; refusing to overwrite it", job.output)
    return jobs


def reconstruct_file(rec: Reconstructor, job: Job, options: Options, progress: bool = False) -> tuple[int, list[str]]:
    """Read, check, reconstruct and write one file; returns (frames, warnings)."""
    kind = file_kind(job.source)
    take: BvhTake | None = None
    if kind == "bvh":
        take = read_take(job.source, rec.body, options.joint_map)
        motion = take.motion
    elif kind == "npz":
        motion = load_motion(job.source)
    else:
        raise RohmError("neither a motion .npz nor a BVH file", job.source)
    notes = check_human(motion, job.source)
    try:
        result = rec.reconstruct(motion, options.settings, progress=progress)
    except RohmError as exc:
        raise RohmError(exc.message, exc.path or job.source) from None
    write_result(result, job.output, take, rec)
    return result.num_frames, notes


def write_result(result: Motion, out: Path, take: BvhTake | None, rec: Reconstructor) -> None:
    """A .bvh on the take's own skeleton (or the body model's for an npz input), else a motion npz; atomically."""
    if out.suffix.lower() != ".bvh":
        save_motion(result, out)
    elif take is not None:
        write_take(take, result, out, rec.body)
    else:
        export_bvh(result, out, rec.body)


class Worker:
    """A loaded reconstructor that runs jobs: one per process or Ray actor."""

    def __init__(self, options: Options) -> None:
        if options.threads:
            torch.set_num_threads(options.threads)
        self.options = options
        self.rec = Reconstructor.from_pretrained(options.weights, device=options.device)

    def run(self, job: Job, catch: bool = True, progress: bool = False) -> Done:
        """Run one job; with `catch`, an error comes back in the Done instead of being raised."""
        start = time.perf_counter()
        try:
            frames, notes = reconstruct_file(self.rec, job, self.options, progress)
        except RohmError as exc:
            if not catch:
                raise
            return Done(job, error=exc.message, error_path=None if exc.path == str(job.source) else exc.path)
        except Exception as exc:  # a bug met on one clip must not stop a library
            if not catch:
                raise
            return Done(job, error=f"internal error ({type(exc).__name__}: {exc})")
        return Done(job, frames, time.perf_counter() - start, tuple(notes))


def check_options(options: Options) -> None:
    """The weights folder and joint map exist (a one-line RohmError before any worker starts)."""
    if options.weights is not None:
        read_manifest(options.weights)
    if options.joint_map is not None:
        load_joint_map(options.joint_map)


# ----- a process pool on this machine ---------------------------------------------------------
_POOL_WORKER: Worker | RohmError | None = None


def _start_pool_worker(options: Options) -> None:
    global _POOL_WORKER
    try:
        _POOL_WORKER = Worker(options)
    except RohmError as exc:  # reported with every job: a raising initializer would be restarted forever
        _POOL_WORKER = exc


def _run_pool_job(job: Job) -> Done:
    if isinstance(_POOL_WORKER, Worker):
        return _POOL_WORKER.run(job)
    exc = _POOL_WORKER or RohmError("worker not started")
    return Done(job, error=exc.message, error_path=exc.path)


def run_local(jobs: list[Job], options: Options, workers: int = 1) -> Iterator[Done]:
    """Jobs in this process (workers 1) or in a pool of `workers` processes, each loading the
    model once and using its share of the cores; results in the order they finish."""
    if workers <= 1 or len(jobs) <= 1:
        worker = Worker(options)
        for job in jobs:
            yield worker.run(job)
        return
    check_options(options)
    workers = min(workers, len(jobs))
    options = dataclasses.replace(options, threads=options.threads or max(1, (os.cpu_count() or 1) // workers))
    with mp.get_context("spawn").Pool(workers, _start_pool_worker, (options,)) as pool:
        yield from pool.imap_unordered(_run_pool_job, jobs)
        pool.close()  # a clean end: terminating spawned workers leaks their semaphores
        pool.join()


# ----- a Ray cluster -------------------------------------------------------------------------
def _portable(options: Options) -> dict[str, Any]:
    """Options with custom weights and a JSON joint map as bytes, for machines without our files."""
    weights = None
    if options.weights is not None:
        folder = Path(options.weights)
        weights = {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix in (".json", ".safetensors")}
    joint_map = options.joint_map
    if joint_map is not None and Path(joint_map).is_file():
        joint_map = (Path(joint_map).name, Path(joint_map).read_bytes())
    return {"options": dataclasses.replace(options, weights=None, joint_map=None), "weights": weights,
            "joint_map": joint_map}


class RayWorker:
    """A Worker taking and giving files as bytes, in its own scratch folder (a Ray actor)."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.scratch = Path(tempfile.mkdtemp(prefix="rohm-ray-"))
        options: Options = payload["options"]
        if payload["weights"] is not None:
            folder = self.scratch / "weights"
            folder.mkdir()
            for name, data in payload["weights"].items():
                (folder / name).write_bytes(data)
            options = dataclasses.replace(options, weights=str(folder))
        joint_map = payload["joint_map"]
        if isinstance(joint_map, tuple):
            (self.scratch / joint_map[0]).write_bytes(joint_map[1])
            joint_map = str(self.scratch / joint_map[0])
        self.worker = Worker(dataclasses.replace(options, joint_map=joint_map))

    def run(self, index: int, name: str, data: bytes | None, suffix: str) -> tuple[int, Done, bytes | None]:
        """Reconstruct one file given as bytes; returns (index, result, output bytes or None)."""
        folder = Path(tempfile.mkdtemp(dir=self.scratch))
        try:
            job = Job(folder / name, folder / "out" / (Path(name).stem + suffix))
            if data is None:
                return index, Done(job, error="cannot read file"), None
            job.source.write_bytes(data)
            done = self.worker.run(job)
            if done.error_path is not None and done.error_path.startswith(str(self.scratch)):
                done.error_path = Path(done.error_path).name  # a file this run sent along
            return index, done, job.output.read_bytes() if done.error is None else None
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def run_on_ray(jobs: list[Job], options: Options, address: str | None = None, workers: int | None = None) -> Iterator[Done]:
    """Jobs spread over a Ray cluster (`address`; None: the running one, RAY_ADDRESS, or a new
    local instance) by a pool of actors, each loading the model once; `workers` actors (default:
    one per `options.threads` CPUs of the cluster). Outputs are written here, atomically."""
    try:
        import ray
        from ray.util.actor_pool import ActorPool
    except ImportError:
        raise RohmError("--ray needs Ray: pip install 'rohm[ray]'") from None
    check_options(options)
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, log_to_driver=False)
    threads = options.threads or 1
    options = dataclasses.replace(options, threads=threads)
    count = workers or max(1, int(ray.cluster_resources().get("CPU", 1)) // threads)
    actor = ray.remote(num_cpus=threads)(RayWorker)
    payload = ray.put(_portable(options))
    actors = [actor.remote(payload) for _ in range(min(count, len(jobs)))]
    try:
        pool = ActorPool(actors)
        submit = lambda a, k: a.run.remote(k, jobs[k].source.name, _read_or_none(jobs[k].source),  # noqa: E731
                                           jobs[k].output.suffix)
        for index, done, data in pool.map_unordered(submit, range(len(jobs))):
            job = jobs[index]
            if data is not None:
                with atomic_path(job.output) as tmp:
                    tmp.write_bytes(data)
            yield dataclasses.replace(done, job=job)
    finally:
        for a in actors:
            ray.kill(a)
        if started:
            ray.shutdown()
