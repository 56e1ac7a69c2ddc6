"""`rohm data build` on real Bandai clips: every frame kept, low retargeting error, clean failures."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from rohm.body import load_body
from rohm.data.build import build_dataset
from rohm.data.splits import split_of
from rohm.errors import RohmError
from rohm.io.bvh import read_bvh
from rohm.io.motion_file import load_motion
from rohm.representation import (
    FeatureLayout,
    Normalizer,
    features_to_motion,
    motion_to_features,
)


def test_build_outputs(built_dataset: Path, bandai_bvh_dir: Path) -> None:
    summary = json.loads((built_dataset / "summary.json").read_text())
    sources = sorted(bandai_bvh_dir.glob("*.bvh"))
    assert summary["clips"] == len(sources)
    assert summary["retarget_error_mm"]["mean"] < 30
    assert {s for s in summary["splits"] if summary["splits"][s]["clips"]} == {"train", "val", "test"}
    for src in sources:
        npz = built_dataset / split_of(src.stem) / f"{src.stem}.npz"
        m = load_motion(npz)
        assert m.num_frames == read_bvh(src).num_frames  # 30 fps source: no frame lost
        assert m.has_params and m.contacts.shape == (m.num_frames, 4) and m.fps == 30.0
        assert 0.0 < m.joints[:, [10, 11], 1].min() < 0.1  # toes near the floor, above it
        assert float(m.extras["retarget_error_mm"]) < 40
    norm = Normalizer.load(built_dataset / summary["normalization"])
    train = [motion_to_features(load_motion(p), FeatureLayout(6), np.zeros(3), floor_height=0.0)[0]
             for p in sorted((built_dataset / "train").glob("*.npz"))]
    z = norm.normalize(np.concatenate(train))
    assert np.allclose(np.nanmean(z, axis=0)[norm.layout.traj], 0.0, atol=1e-6)


def test_round_trip_features_on_real_clips(built_dataset: Path) -> None:
    layout = FeatureLayout(num_betas=6)
    body = load_body("anny")
    for path in sorted(built_dataset.glob("*/*.npz")):
        m = load_motion(path)
        feats, frame = motion_to_features(m, layout, torch.zeros(3).numpy())
        assert feats.shape == (m.num_frames, layout.dim)
        back = features_to_motion(feats, layout, body, frame, m.fps)
        assert back.num_frames == m.num_frames
        assert np.abs(back.joints - m.joints).max() < 1e-4


def test_resampling_keeps_the_duration(bandai_bvh_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    clip = sorted(bandai_bvh_dir.glob("*.bvh"))[0]
    shutil.copy(clip, src / clip.name)
    build_dataset(src, tmp_path / "out", fps=20.0, workers=1)
    (m_path,) = (tmp_path / "out").glob("*/*.npz")
    n_src = read_bvh(clip).num_frames
    assert load_motion(m_path).num_frames == int(np.floor((n_src - 1) / 30 * 20 + 1e-6)) + 1


def _bad_source(tmp_path: Path, bandai_bvh_dir: Path, kind: str) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    clip = sorted(bandai_bvh_dir.glob("*.bvh"))[0]
    shutil.copy(clip, src / clip.name)
    if kind == "truncated":
        text = clip.read_text()
        (src / "broken.bvh").write_text(text[: len(text) // 2])
    elif kind == "garbled":
        (src / "broken.bvh").write_bytes(b"\x00\xffnot a bvh")
    elif kind == "nan":
        np.savez(src / "broken.npz", joints=np.full((5, 22, 3), np.nan), fps=30)
    elif kind == "empty":
        np.savez(src / "broken.npz", joints=np.zeros((0, 22, 3)), fps=30)
    return src


@pytest.mark.parametrize("kind", ["truncated", "garbled", "nan", "empty"])
def test_bad_clip_stops_the_build_without_output(tmp_path: Path, bandai_bvh_dir: Path, kind: str) -> None:
    src = _bad_source(tmp_path, bandai_bvh_dir, kind)
    before = {p: p.read_bytes() for p in src.iterdir()}
    with pytest.raises(RohmError, match="broken") as err:
        build_dataset(src, tmp_path / "out", workers=1)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]
    assert {p: p.read_bytes() for p in src.iterdir()} == before


def test_refuses_bad_destinations(tmp_path: Path, bandai_bvh_dir: Path) -> None:
    with pytest.raises(RohmError, match="refusing"):
        build_dataset(bandai_bvh_dir, bandai_bvh_dir, workers=1)
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(RohmError, match="not a previous rohm data build"):
        build_dataset(bandai_bvh_dir, other, workers=1)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RohmError, match="no .bvh or .npz"):
        build_dataset(empty, tmp_path / "out", workers=1)
    with pytest.raises(RohmError, match="no such file"):
        build_dataset(tmp_path / "absent", tmp_path / "out", workers=1)


def test_archive_source(tmp_path: Path, bandai_bvh_dir: Path) -> None:
    import tarfile

    clip = sorted(bandai_bvh_dir.glob("*.bvh"))[1]
    archive = tmp_path / "clips.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(clip, arcname=f"some/dir/{clip.name}")
    summary = build_dataset(archive, tmp_path / "out", workers=1)
    assert summary["clips"] == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".extract")]
    bad = tmp_path / "bad.tar.xz"
    bad.write_bytes(b"garbage")
    with pytest.raises(RohmError, match="cannot extract archive"):
        build_dataset(bad, tmp_path / "out2", workers=1)
