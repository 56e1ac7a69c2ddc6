"""Denoiser networks: shapes for any N, TrajControl's zero start and fine-tuning, padding
invariance of the transformers, gradient flow, configs and the model factory."""

from __future__ import annotations

import json

import pytest
import torch
from torch import Tensor, nn

from rohm.errors import RohmError
from rohm.models import (
    MDM,
    MDMConfig,
    PoseNet,
    PoseNetConfig,
    TrajNet,
    TrajNetConfig,
    build_model,
    count_parameters,
)

SMALL_TRAJ = TrajNetConfig(pose_dim=20, channels=(16, 32), time_dim=32, kernel=3)
SMALL_POSE = PoseNetConfig(pose_dim=20, traj_dim=5, mask_dim=4, width=32, layers=2, heads=4, ff=64)
SMALL_MDM = MDMConfig(feature_dim=25, mask_dim=4, width=32, layers=2, heads=4, ff=64)


def _t(b: int) -> Tensor:
    return torch.randint(0, 1000, (b,))


def traj_inputs(cfg: TrajNetConfig, b: int, n: int) -> tuple[Tensor, ...]:
    mask = (torch.rand(b, n, cfg.mask_dim) > 0.3).float()
    return torch.randn(b, n, cfg.traj_dim), _t(b), torch.randn(b, n, cfg.traj_dim) * mask, mask


def pose_inputs(cfg: PoseNetConfig, b: int, n: int) -> tuple[Tensor, ...]:
    return (torch.randn(b, n, cfg.pose_dim), _t(b), torch.randn(b, n, cfg.traj_dim),
            torch.randn(b, n, cfg.pose_dim), (torch.rand(b, n, cfg.mask_dim) > 0.3).float())


def mdm_inputs(cfg: MDMConfig, b: int, n: int) -> tuple[Tensor, ...]:
    return (torch.randn(b, n, cfg.feature_dim), _t(b), torch.randn(b, n, cfg.feature_dim),
            (torch.rand(b, n, cfg.mask_dim) > 0.3).float())


@pytest.fixture(scope="module")
def default_models() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return {kind: build_model(kind).eval() for kind in ("trajnet", "posenet", "mdm")}


@pytest.mark.parametrize("n", [1, 7, 96, 145])
def test_output_shapes_any_length(default_models: dict[str, nn.Module], n: int) -> None:
    b = 2
    with torch.no_grad():
        out = default_models["trajnet"](*traj_inputs(TrajNetConfig(), b, n))
        assert out.shape == (b, n, 13) and torch.isfinite(out).all()
        out = default_models["posenet"](*pose_inputs(PoseNetConfig(), b, n))
        assert out.shape == (b, n, 262) and torch.isfinite(out).all()
        out = default_models["mdm"](*mdm_inputs(MDMConfig(), b, n))
        assert out.shape == (b, n, 275) and torch.isfinite(out).all()


def test_default_parameter_counts(default_models: dict[str, nn.Module]) -> None:
    counts = {kind: count_parameters(model) for kind, model in default_models.items()}
    print("default parameter counts:", counts)
    assert 1e6 < counts["posenet"] < 5e6
    assert 1e6 < counts["mdm"] < 5e6
    assert 1e6 < counts["trajnet"] < 2e7
    trajnet = build_model("trajnet")
    base = count_parameters(trajnet)
    trajnet.add_control()
    print("TrajControl parameters:", count_parameters(trajnet) - base)
    assert count_parameters(trajnet) > base


def test_wrong_input_width_is_a_clear_error() -> None:
    net = TrajNet(SMALL_TRAJ)
    x, t, cond, mask = traj_inputs(SMALL_TRAJ, 2, 8)
    with pytest.raises(ValueError, match="cond_mask"):
        net(x, t, cond, torch.ones(2, 8, 3))
    posenet = PoseNet(SMALL_POSE)
    inputs = list(pose_inputs(SMALL_POSE, 2, 8))
    inputs[2] = inputs[2][:, :5]
    with pytest.raises(ValueError, match="traj"):
        posenet(*inputs)


def test_longer_than_max_len_is_an_error() -> None:
    cfg = PoseNetConfig(**{**SMALL_POSE.to_dict(), "max_len": 16})
    with pytest.raises(ValueError, match="max_len"):
        PoseNet(cfg)(*pose_inputs(cfg, 1, 17))


@pytest.mark.parametrize("n", [7, 16])
def test_trajcontrol_starts_as_exact_identity(n: int) -> None:
    torch.manual_seed(1)
    net = TrajNet(SMALL_TRAJ).eval()
    inputs = traj_inputs(SMALL_TRAJ, 3, n)
    pose = torch.randn(3, n, SMALL_TRAJ.pose_dim)
    with torch.no_grad():
        vanilla = net(*inputs)
        assert torch.equal(net(*inputs, control=pose), vanilla)  # ignored without TrajControl
        net.add_control()
        assert torch.equal(net(*inputs), vanilla)
        for control in (pose, 100.0 * torch.randn_like(pose), torch.zeros_like(pose)):
            assert torch.equal(net(*inputs, control=control), vanilla)
    with pytest.raises(RuntimeError):
        net.add_control()


def test_trajcontrol_copies_encoder_except_input_conv() -> None:
    net = TrajNet(SMALL_TRAJ)
    control = net.add_control()
    encoder = net.encoder.state_dict()
    copied = control.encoder.state_dict()
    assert copied["in_conv.weight"].shape == (16, SMALL_TRAJ.pose_dim, 3)
    for name, value in encoder.items():
        if not name.startswith("in_conv."):
            assert torch.equal(copied[name], value), name
    pairs = zip(net.encoder.parameters(), control.encoder.parameters())
    assert all(p.data_ptr() != q.data_ptr() for p, q in pairs)  # a copy, not shared weights


def test_freeze_base_leaves_only_control_trainable() -> None:
    net = TrajNet(SMALL_TRAJ)
    net.freeze_base()  # before add_control: the copy must still be trainable
    net.add_control()
    trainable = {name for name, p in net.named_parameters() if p.requires_grad}
    assert trainable == {name for name, _ in net.named_parameters() if name.startswith("control.")}
    assert count_parameters(net, trainable_only=True) == sum(p.numel() for p in net.control_parameters())
    assert count_parameters(net, trainable_only=True) < count_parameters(net)
    with pytest.raises(RuntimeError):
        TrajNet(SMALL_TRAJ).control_parameters()


def test_one_control_step_changes_output_and_keeps_base() -> None:
    torch.manual_seed(2)
    net = TrajNet(SMALL_TRAJ).eval()
    inputs = traj_inputs(SMALL_TRAJ, 4, 12)
    pose = torch.randn(4, 12, SMALL_TRAJ.pose_dim)
    with torch.no_grad():
        vanilla = net(*inputs)
    net.add_control()
    net.freeze_base()
    base_before = {k: v.clone() for k, v in net.state_dict().items() if not k.startswith("control.")}
    optimizer = torch.optim.SGD(net.control_parameters(), lr=0.1)

    loss = (net(*inputs, control=pose) - torch.randn(4, 12, SMALL_TRAJ.traj_dim)).square().mean()
    loss.backward()
    for name, p in net.named_parameters():
        if name.startswith("control.zero_convs."):
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        elif not name.startswith("control."):
            assert p.grad is None, name
    optimizer.step()

    with torch.no_grad():
        assert not torch.allclose(net(*inputs, control=pose), vanilla, atol=1e-6)
        assert torch.equal(net(*inputs), vanilla)  # without pose: still the vanilla TrajNet
    for name, value in net.state_dict().items():
        if not name.startswith("control."):
            assert torch.equal(value, base_before[name]), name

    optimizer.zero_grad()
    net(*inputs, control=pose).square().mean().backward()
    for name, p in net.control.named_parameters():  # now the whole copy learns
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def _assert_all_params_get_gradient(model: nn.Module, out: Tensor) -> None:
    out.square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_gradient_reaches_every_parameter() -> None:
    torch.manual_seed(3)
    trajnet = TrajNet(SMALL_TRAJ)
    _assert_all_params_get_gradient(trajnet, trajnet(*traj_inputs(SMALL_TRAJ, 2, 10)))
    posenet = PoseNet(SMALL_POSE)
    _assert_all_params_get_gradient(posenet, posenet(*pose_inputs(SMALL_POSE, 2, 10)))
    mdm = MDM(SMALL_MDM)
    _assert_all_params_get_gradient(mdm, mdm(*mdm_inputs(SMALL_MDM, 2, 10)))


def test_occlusion_mask_is_an_input() -> None:
    """A zeroed value reads differently when it is flagged missing than when it is observed."""
    torch.manual_seed(4)
    trajnet = TrajNet(SMALL_TRAJ).eval()
    x, t, cond, _ = traj_inputs(SMALL_TRAJ, 2, 8)
    posenet = PoseNet(SMALL_POSE).eval()
    px, pt, traj, pcond, _ = pose_inputs(SMALL_POSE, 2, 8)
    with torch.no_grad():
        assert not torch.allclose(trajnet(x, t, cond, torch.ones(2, 8, 1)),
                                  trajnet(x, t, cond, torch.zeros(2, 8, 1)))
        assert not torch.allclose(posenet(px, pt, traj, pcond, torch.ones(2, 8, 4)),
                                  posenet(px, pt, traj, pcond, torch.zeros(2, 8, 4)))


def _pad(x: Tensor, extra: int) -> Tensor:
    """Append `extra` garbage frames (huge values and NaN)."""
    garbage = 1e4 * torch.randn(x.shape[0], extra, *x.shape[2:], dtype=x.dtype)
    garbage[:, ::3] = float("nan")
    return torch.cat([x, garbage.to(x.dtype)], dim=1)


@pytest.mark.parametrize("kind", ["posenet", "mdm"])
def test_padding_frames_do_not_change_valid_outputs(kind: str) -> None:
    torch.manual_seed(5)
    if kind == "posenet":
        model, inputs = PoseNet(SMALL_POSE).eval(), pose_inputs(SMALL_POSE, 3, 20)
    else:
        model, inputs = MDM(SMALL_MDM).eval(), mdm_inputs(SMALL_MDM, 3, 20)
    t = inputs[1]
    frames = [x for i, x in enumerate(inputs) if i != 1]
    extra = 13
    padded = [_pad(x, extra) for x in frames]
    valid = torch.ones(3, 20 + extra, dtype=torch.bool)
    valid[:, 20:] = False
    with torch.no_grad():
        plain = model(*frames[:1], t, *frames[1:])
        all_valid = model(*frames[:1], t, *frames[1:], valid=torch.ones(3, 20, dtype=torch.bool))
        torch.testing.assert_close(all_valid, plain, atol=1e-5, rtol=0)
        out = model(*padded[:1], t, *padded[1:], valid=valid)
        torch.testing.assert_close(out[:, :20], plain, atol=1e-5, rtol=0)
        # a batch of different lengths equals each clip run on its own
        valid[1, 9:] = False
        out = model(*padded[:1], t, *padded[1:], valid=valid)
        alone = model(*[x[1:2, :9] for x in frames[:1]], t[1:2], *[x[1:2, :9] for x in frames[1:]])
        torch.testing.assert_close(out[1:2, :9], alone, atol=1e-5, rtol=0)
        # a clip with no valid frame still gives finite outputs (the timestep token is a key)
        valid[2] = False
        assert torch.isfinite(model(*padded[:1], t, *padded[1:], valid=valid)).all()


@pytest.mark.parametrize("cfg", [TrajNetConfig(), PoseNetConfig(), MDMConfig(), SMALL_TRAJ, SMALL_POSE])
def test_config_json_round_trip(cfg: object) -> None:
    data = json.loads(json.dumps(cfg.to_dict()))
    assert type(cfg).from_dict(data) == cfg
    assert type(cfg).from_dict({}) == type(cfg)()


def test_config_rejects_bad_values() -> None:
    with pytest.raises(RohmError, match="unknown key"):
        TrajNetConfig.from_dict({"chanels": [8, 16]})
    with pytest.raises(RohmError, match="odd"):
        TrajNetConfig(kernel=4)
    with pytest.raises(RohmError, match="channels"):
        TrajNetConfig.from_dict({"channels": []})
    with pytest.raises(RohmError, match="divisible"):
        PoseNetConfig(width=30, heads=4)
    with pytest.raises(RohmError, match="dropout"):
        MDMConfig(dropout=1.0)
    with pytest.raises(RohmError, match="positive"):
        MDMConfig.from_dict({"layers": 0})


def test_build_model() -> None:
    for kind, cls, cfg in (("trajnet", TrajNet, SMALL_TRAJ), ("posenet", PoseNet, SMALL_POSE),
                           ("mdm", MDM, SMALL_MDM)):
        model = build_model(kind, cfg.to_dict())
        assert type(model) is cls and model.cfg == cfg
    with torch.no_grad():
        out = build_model("mdm", SMALL_MDM.to_dict())(*mdm_inputs(SMALL_MDM, 1, 5))
    assert out.shape == (1, 5, 25)
    with pytest.raises(RohmError, match="unknown model kind"):
        build_model("unet", {})


def test_checkpoint_round_trip_with_control() -> None:
    torch.manual_seed(6)
    net = TrajNet(SMALL_TRAJ).eval()
    net.add_control()
    for p in net.control.zero_convs.parameters():
        nn.init.normal_(p)
    state = net.state_dict()
    restored = build_model("trajnet", net.cfg.to_dict()).eval()
    restored.add_control()
    restored.load_state_dict(state)
    inputs = traj_inputs(SMALL_TRAJ, 2, 9)
    pose = torch.randn(2, 9, SMALL_TRAJ.pose_dim)
    with torch.no_grad():
        assert torch.equal(restored(*inputs, control=pose), net(*inputs, control=pose))


def test_positional_table_is_not_in_checkpoints() -> None:
    """A model trained with a short max_len loads into one allowing longer sequences."""
    torch.manual_seed(7)
    short = PoseNet(SMALL_POSE).eval()
    long = PoseNet(PoseNetConfig(**{**SMALL_POSE.to_dict(), "max_len": 4096})).eval()
    long.load_state_dict(short.state_dict())
    inputs = pose_inputs(SMALL_POSE, 2, 30)
    with torch.no_grad():
        torch.testing.assert_close(long(*inputs), short(*inputs), atol=1e-6, rtol=0)
        assert long(*pose_inputs(SMALL_POSE, 1, 2000)).shape == (1, 2000, 20)
