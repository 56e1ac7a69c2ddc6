"""Shared fixtures: a few real Bandai Namco clips streamed from the shared archive, and a
small dataset built from them with `rohm data build`."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BANDAI_ARCHIVE = REPO.parent / "shared" / "data" / "bandai-namco-motion-bvh.tar.xz"
NUM_CLIPS = 10


@pytest.fixture(scope="session")
def bandai_bvh_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first real BVH clips of the Bandai archive (train, val and test clips among them)."""
    if not BANDAI_ARCHIVE.exists():
        pytest.skip(f"real data archive not found at {BANDAI_ARCHIVE}")
    out = tmp_path_factory.mktemp("bandai-bvh")
    with tarfile.open(BANDAI_ARCHIVE, "r|xz") as tar:
        count = 0
        for member in tar:
            if member.name.endswith(".bvh"):
                (out / Path(member.name).name).write_bytes(tar.extractfile(member).read())
                count += 1
                if count == NUM_CLIPS:
                    break
    return out


@pytest.fixture(scope="session")
def built_dataset(bandai_bvh_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`rohm data build` run on those clips (one reader process)."""
    from rohm.data.build import build_dataset

    out = tmp_path_factory.mktemp("built") / "bandai"
    build_dataset(bandai_bvh_dir, out, workers=1)
    return out
