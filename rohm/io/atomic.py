"""Atomic output: write to a temporary name beside the target, then rename.

A killed run therefore never leaves a half-written file under the final name,
and an input can never be overwritten by mistake.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from rohm.errors import RohmError


def check_not_input(out: str | Path, inputs: Sequence[str | Path]) -> None:
    """Refuse an output path that is one of the inputs."""
    out_p = Path(out).resolve()
    for inp in inputs:
        if Path(inp).resolve() == out_p:
            raise RohmError("output path is an input file; refusing to overwrite it", out)


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto `target` on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part" + target.suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    tmp_path.chmod(0o666 & ~umask)  # mkstemp makes 0600 files; outputs get the usual permissions
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(target: str | Path, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text)
