"""The built-in real clips (rohm/demo_clips): where they are, their names and the demo's default.

Kept apart from `rohm.demo`, which imports the reconstruction stack, so that `rohm demo --help`
and `rohm demo --list` stay cheap.
"""

from __future__ import annotations

from pathlib import Path

CLIPS_DIR = Path(__file__).resolve().parent / "demo_clips"
DEFAULT_CLIP = "walk-turn-left_normal_020"


def demo_clips() -> list[str]:
    """Names of the built-in clips."""
    return sorted(p.stem for p in CLIPS_DIR.glob("*.npz"))
