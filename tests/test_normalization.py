"""Feature normaliser: NaN-aware fit, floored std, 0/1 contacts, exact round trips,
safetensors save/load and one-line errors for bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

from rohm.errors import RohmError
from rohm.representation import FeatureLayout, Normalizer

LAYOUT = FeatureLayout(num_betas=6)


def _training_features(seed: int = 0) -> list[np.ndarray]:
    """Three clips of random features with a constant column, NaN gaps and one column never observed."""
    rng = np.random.default_rng(seed)
    clips = [rng.normal(2.0, 3.0, (n, LAYOUT.dim)) for n in (20, 31, 7)]
    for clip in clips:
        clip[:, 5] = 0.7
        clip[::4, 30] = np.nan
        clip[:, 40] = np.nan
        clip[:, LAYOUT.contacts] = rng.integers(0, 2, (clip.shape[0], 4))
    return clips


def test_fit_ignores_nan_floors_std_and_keeps_contacts() -> None:
    clips = _training_features()
    norm = Normalizer.fit(clips, LAYOUT)
    data = np.concatenate(clips)
    regular = [c for c in range(LAYOUT.dim) if c not in (5, 40) and c not in range(LAYOUT.dim)[LAYOUT.contacts]]
    np.testing.assert_allclose(norm.mean[regular], np.nanmean(data[:, regular], axis=0), atol=1e-12)
    np.testing.assert_allclose(norm.std[regular], np.nanstd(data[:, regular], axis=0), atol=1e-12)
    assert norm.mean[5] == pytest.approx(0.7) and norm.std[5] == 1e-3
    assert (norm.mean[40], norm.std[40]) == (0.0, 1.0)
    assert (norm.mean[LAYOUT.contacts] == 0).all() and (norm.std[LAYOUT.contacts] == 1).all()
    normalised = norm.normalize(data)
    np.testing.assert_array_equal(normalised[:, LAYOUT.contacts], data[:, LAYOUT.contacts])
    assert np.abs(np.nanmean(normalised[:, regular], axis=0)).max() < 1e-9


def test_round_trip_numpy_and_torch() -> None:
    norm = Normalizer.fit(_training_features(), LAYOUT)
    x = np.random.default_rng(3).normal(size=(2, 9, LAYOUT.dim))
    np.testing.assert_allclose(norm.denormalize(norm.normalize(x)), x, atol=1e-12)
    xt = torch.as_tensor(x, dtype=torch.float32)
    yt = norm.normalize(xt)
    assert isinstance(yt, torch.Tensor) and yt.dtype == torch.float32
    np.testing.assert_allclose(yt.numpy(), norm.normalize(x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(norm.denormalize(yt), xt, rtol=1e-5, atol=1e-4)


def test_save_load(tmp_path: Path) -> None:
    layout = FeatureLayout(num_betas=10)
    data = [np.random.default_rng(4).normal(size=(12, layout.dim))]
    norm = Normalizer.fit(data, layout)
    path = norm.save(tmp_path / "sub" / "norm.safetensors")
    loaded = Normalizer.load(path)
    assert loaded.layout == layout
    np.testing.assert_array_equal(loaded.mean, norm.mean)
    np.testing.assert_array_equal(loaded.std, norm.std)
    assert [p.name for p in path.parent.iterdir()] == ["norm.safetensors"]  # no temporary left


def test_bad_files_are_rohm_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing.safetensors"
    with pytest.raises(RohmError, match="missing.safetensors"):
        Normalizer.load(missing)
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not a header at all")
    with pytest.raises(RohmError, match="corrupt.safetensors"):
        Normalizer.load(corrupt)
    no_meta = tmp_path / "no_meta.safetensors"
    save_file({"mean": np.zeros(LAYOUT.dim), "std": np.ones(LAYOUT.dim)}, str(no_meta))
    with pytest.raises(RohmError, match="no_meta.safetensors"):
        Normalizer.load(no_meta)
    wrong = tmp_path / "wrong.safetensors"
    save_file({"mean": np.zeros(5), "std": np.ones(5)}, str(wrong), metadata={"num_betas": "6"})
    with pytest.raises(RohmError, match="wrong.safetensors.*expected"):
        Normalizer.load(wrong)


def test_rotation_and_shape_columns_get_a_larger_std_floor() -> None:
    from rohm.representation.normalization import (
        POSITION_STD_FLOOR,
        ROTATION_STD_FLOOR,
        STD_FLOOR,
    )

    layout = FeatureLayout(num_betas=6)
    data = np.random.default_rng(0).normal(size=(50, layout.dim))
    data[:, layout.rotations] = 0.3  # constant, e.g. a leaf joint that never turns
    data[:, layout.betas] = 0.5
    data[:, layout.joints] = 1.0
    data[:, layout.joint_vel] = 0.0
    norm = Normalizer.fit([data], layout)
    assert np.allclose(norm.std[layout.rotations], ROTATION_STD_FLOOR)
    assert np.allclose(norm.std[layout.betas], ROTATION_STD_FLOOR)
    # Positions: a hip that never moves relative to the pelvis must not make another body's hips
    # tens of standard deviations out.
    assert np.allclose(norm.std[layout.joints], POSITION_STD_FLOOR)
    assert np.allclose(norm.std[layout.joint_vel], STD_FLOOR)
