"""Train / val / test split, deterministic by file name; whole clips only, never windows.

Bandai Namco rule (the reference data): test = dataset-1 styles angry, childish, old,
proud + dataset-2 takes whose number is divisible by 20; val = dataset-1 style sad +
dataset-2 takes with number % 20 == 1; train = the rest. The resulting list is
committed as `bandai_split.txt` and is what the build uses for those files. Any other
file name is split 80/10/10 by a stable hash of its name.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

SPLITS = ("train", "val", "test")
SPLIT_LIST = Path(__file__).with_name("bandai_split.txt")
_BANDAI = re.compile(r"^dataset-(?P<set>[12])_(?P<content>.+)_(?P<style>[^_]+)_(?P<take>\d{3})$")
_TEST_STYLES = {"angry", "childish", "old", "proud"}


def bandai_rule(stem: str) -> str | None:
    """The Bandai split of a clip name (file stem), or None if it is not a Bandai name."""
    m = _BANDAI.match(stem)
    if m is None:
        return None
    if m["set"] == "1":
        return "test" if m["style"] in _TEST_STYLES else "val" if m["style"] == "sad" else "train"
    take = int(m["take"])
    return "test" if take % 20 == 0 else "val" if take % 20 == 1 else "train"


def hash_rule(stem: str) -> str:
    """80/10/10 split by a stable hash of the name (for non-Bandai sources)."""
    bucket = int(hashlib.sha1(stem.encode()).hexdigest(), 16) % 10
    return "test" if bucket == 0 else "val" if bucket == 1 else "train"


@lru_cache(maxsize=1)
def committed_split() -> dict[str, str]:
    """The committed Bandai split list: clip name -> split."""
    table: dict[str, str] = {}
    for line in SPLIT_LIST.read_text().splitlines():
        if line.strip():
            split, stem = line.split()
            table[stem] = split
    return table


def split_of(stem: str) -> str:
    """Split of a clip: the committed list, else the Bandai rule, else the hash rule."""
    return committed_split().get(stem) or bandai_rule(stem) or hash_rule(stem)
