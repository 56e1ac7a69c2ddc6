"""load_network: a weights file rebuilds its own network (config and TrajControl from the
metadata), float16 on disk comes back float32 in eval mode, and a file that does not fit its
config is a one-line RohmError naming it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rohm.checkpoint import save_tensors
from rohm.errors import RohmError
from rohm.models import build_model
from rohm.models.config import TrajNetConfig
from rohm.models.weights import load_network

SMALL_TRAJ = TrajNetConfig(channels=(8, 16), time_dim=16)


def _save(path: Path, net: torch.nn.Module, config: dict, has_control: bool) -> Path:
    tensors = {k: v.to(torch.float16) for k, v in net.state_dict().items()}
    return save_tensors(path, tensors, {"kind": "trajnet", "config": config, "has_control": has_control})


def test_a_network_comes_back_from_its_file(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = build_model("trajnet", SMALL_TRAJ.to_dict())
    net.add_control()
    path = _save(tmp_path / "trajnet.safetensors", net, SMALL_TRAJ.to_dict(), has_control=True)
    loaded, meta = load_network(path)
    assert not loaded.training and meta["has_control"] and loaded.cfg == SMALL_TRAJ
    for name, value in loaded.state_dict().items():
        assert value.dtype == torch.float32
        torch.testing.assert_close(value, net.state_dict()[name].to(torch.float16).float())


def test_weights_that_do_not_fit_their_config_are_one_line(tmp_path: Path) -> None:
    net = build_model("trajnet", SMALL_TRAJ.to_dict())
    wider = TrajNetConfig(channels=(8, 32), time_dim=16).to_dict()
    path = _save(tmp_path / "trajnet.safetensors", net, wider, has_control=False)
    with pytest.raises(RohmError, match="do not match their network config") as exc:
        load_network(path)
    assert exc.value.path == str(path) and "\n" not in str(exc.value)
