"""The committed split list follows the rule, covers the whole archive, and never splits a clip."""

import tarfile
from collections import Counter
from pathlib import Path

import pytest

from rohm.data.splits import bandai_rule, committed_split, hash_rule, split_of

ARCHIVE = Path(__file__).resolve().parents[2] / "shared" / "data" / "bandai-namco-motion-bvh.tar.xz"


def test_rule_examples() -> None:
    assert bandai_rule("dataset-1_bow_angry_001") == "test"
    assert bandai_rule("dataset-1_walk-back_sad_001") == "val"
    assert bandai_rule("dataset-1_dance-short_normal_002") == "train"
    assert bandai_rule("dataset-2_walk-turn-left_feminine_040") == "test"
    assert bandai_rule("dataset-2_run_active_021") == "val"
    assert bandai_rule("dataset-2_run_active_022") == "train"
    assert bandai_rule("my_clip") is None


def test_committed_list_matches_the_rule() -> None:
    table = committed_split()
    assert len(table) == 3076
    assert all(bandai_rule(stem) == split for stem, split in table.items())
    counts = Counter(table.values())
    assert counts["test"] > 100 and counts["val"] > 100 and counts["train"] > 2500


def test_committed_list_is_the_archive() -> None:
    if not ARCHIVE.exists():
        pytest.skip("archive not available")
    with tarfile.open(ARCHIVE, "r|xz") as tar:
        stems = {Path(m.name).stem for m in tar if m.name.endswith(".bvh")}
    assert stems == set(committed_split())


def test_other_names_hash_deterministically() -> None:
    names = [f"clip_{i}" for i in range(2000)]
    counts = Counter(hash_rule(n) for n in names)
    assert 0.05 < counts["test"] / 2000 < 0.15 and 0.05 < counts["val"] / 2000 < 0.15
    assert [split_of(n) for n in names[:50]] == [split_of(n) for n in names[:50]]
