"""Command-line flags shared by subcommands defined in different modules (`rohm.cli`, `rohm.video.command`).

Kept apart from both so that neither imports the other; torch is imported only when a flag is applied.
"""

from __future__ import annotations

import argparse

from rohm.errors import RohmError


def add_threads_flag(p: argparse.ArgumentParser) -> None:
    """`--threads N`: torch's CPU threads for the command (see `set_threads`)."""
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="torch CPU threads, N >= 1 (default: torch's choice, usually one per core); "
                        "set before any work starts")


def set_threads(threads: int | None) -> None:
    """torch.set_num_threads(threads) unless None (torch's default); below 1 is a RohmError."""
    if threads is None:
        return
    if threads < 1:
        raise RohmError(f"--threads must be >= 1, got {threads}")
    import torch

    torch.set_num_threads(threads)
