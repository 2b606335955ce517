"""ACRLSD: the pair of networks against its definition, shapes by brute force, and shipping."""

import importlib
import json

import numpy as np
import pytest
import torch

from mbl_seg import checkpoints
from mbl_seg.autocontext import AutoContext, file_digest
from mbl_seg.models import UNet, center_crop, unet3d
from mbl_seg.predict import predict, predict_blocks

pretrained_module = importlib.import_module("mbl_seg.data.pretrained")  # not the function


def _pair(dims=2, lsd_depth=2, context_depth=3, out=2):
    lsd = UNet(dims=dims, depth=lsd_depth, base_features=4, out_channels=12, seed=0)
    context = UNet(dims=dims, depth=context_depth, base_features=4, in_channels=11,
                   out_channels=out, seed=1)
    return AutoContext(lsd, context), lsd, context


def _fits(net, size):
    try:
        net.output_shape((size, size))
        return True
    except ValueError:
        return False


def test_valid_shapes_are_exactly_the_inputs_both_networks_take():
    net, lsd, context = _pair()
    smallest, step = net.valid_input_shapes()
    for size in range(1, 140):
        both = _fits(lsd, size) and _fits(context, lsd.output_shape((size, size))[0])
        by_rule = size >= smallest[0] and (size - smallest[0]) % step[0] == 0
        assert both == by_rule, size
    assert net.valid_input_shape(near=(101, 90)) in {(100, 92), (100, 88)}


def test_forward_is_raw_and_sigmoid_of_the_last_ten_lsd_channels_into_the_context_net():
    net, lsd, context = _pair()
    x = torch.rand(1, 1, *net.valid_input_shape(near=(80, 80)))
    descriptors = torch.sigmoid(lsd(x)[:, -10:])
    expected = context(torch.cat([center_crop(x, descriptors.shape[2:]), descriptors], 1))
    assert torch.allclose(net(x), expected)
    assert net(x).shape[2:] == net.output_shape(x.shape[2:])


def test_only_the_context_network_learns_and_the_lsd_network_stays_in_eval_mode():
    net, lsd, _ = _pair()
    net.train()
    assert net.training and not lsd.training
    x = torch.rand(1, 1, *net.valid_input_shape(near=(64, 64)))
    net(x).square().mean().backward()
    assert all(p.grad is None for p in lsd.parameters())
    assert all(p.grad is not None for p in net.context_network.parameters())


def test_predict_blocks_gives_the_one_pass_prediction():
    net, _, _ = _pair(dims=3, lsd_depth=2, context_depth=2)
    raw = np.random.default_rng(0).integers(0, 255, (20, 40, 36), dtype=np.uint8)
    whole = predict(net, raw, device="cpu")
    blocks = predict_blocks(net, raw, block_shape=(8, 16, 16), device="cpu", progress=False)
    assert blocks.shape == (2, 20, 40, 36)
    np.testing.assert_allclose(blocks, whole, atol=1e-5)


def test_a_shipped_acrlsd_network_loads_and_refuses_a_retrained_lsd_network(tmp_path,
                                                                            monkeypatch):
    monkeypatch.setattr(pretrained_module, "MODELS_DIR", tmp_path)
    lsd = unet3d((8, 8, 8), out_channels=10, seed=0)
    torch.save({"model": lsd.state_dict(), "config": lsd.config}, tmp_path / "lsd_net.pt")
    source = {"name": "lsd_net", "sha256": file_digest(tmp_path / "lsd_net.pt")}
    net = AutoContext(lsd, unet3d((8, 8, 8), in_channels=11, seed=1), lsd_source=source)
    torch.save(net.shipped_entries(), tmp_path / "acrlsd_net.pt")
    (tmp_path / "acrlsd_net.json").write_text(json.dumps({"iterations": 1}))
    loaded, note = checkpoints.load_pretrained("acrlsd_net")
    x = torch.rand(1, 1, *net.valid_input_shape(near=(100, 100, 100)))
    assert isinstance(loaded, AutoContext) and note == {"iterations": 1}
    assert torch.allclose(loaded(x), net.eval()(x))
    lsd2 = unet3d((8, 8, 8), out_channels=10, seed=5)  # the LSD network is retrained
    torch.save({"model": lsd2.state_dict(), "config": lsd2.config}, tmp_path / "lsd_net.pt")
    with pytest.raises(ValueError, match="was trained on the LSDs of lsd_net.*retrain it"):
        checkpoints.load_pretrained("acrlsd_net")


@pytest.mark.parametrize("make, message", [
    (lambda: AutoContext(UNet(dims=2, out_channels=3), UNet(dims=2, in_channels=11)),
     "at least 10 LSD channels"),
    (lambda: AutoContext(UNet(dims=2, out_channels=10), UNet(dims=2, in_channels=4)),
     "raw \\+ 10 LSDs"),
    (lambda: AutoContext(UNet(dims=2, out_channels=10, padding="same"),
                         UNet(dims=2, in_channels=11)), "valid-padded"),
    (lambda: AutoContext(UNet(dims=2, out_channels=10), UNet(dims=2, in_channels=11))
     .shipped_entries(), "needs lsd_source"),
])
def test_bad_networks_say_what_was_expected(make, message):
    with pytest.raises((TypeError, ValueError), match=message):
        make()


def test_two_passes_equal_one_pass_away_from_the_faces_and_reuse_given_lsds():
    from mbl_seg.autocontext import predict_two_pass

    net, lsd, _ = _pair(dims=3, lsd_depth=2, context_depth=2)
    raw = np.random.default_rng(1).integers(0, 255, (28, 36, 36), dtype=np.uint8)
    one = predict_blocks(net, raw, block_shape=(8, 16, 16), device="cpu", progress=False)
    two = predict_two_pass(net, raw, device="cpu")
    half = [c // 2 for c in net.context_network.context]  # where mirrored LSDs reach
    inner = (slice(None), *[slice(h, n - h) for h, n in zip(half, raw.shape)])
    np.testing.assert_allclose(two[inner], one[inner], atol=1e-5)
    assert two.shape == one.shape and not np.allclose(two, one, atol=1e-5)  # the faces differ
    given = predict_blocks(lsd, raw, device="cpu", progress=False)[-10:]
    np.testing.assert_allclose(predict_two_pass(net, raw, lsds=given, device="cpu"), two,
                               atol=1e-6)
    with pytest.raises(ValueError, match=r"lsds must be \(10"):
        predict_two_pass(net, raw, lsds=given[:, :5], device="cpu")
    with pytest.raises(TypeError, match="AutoContext"):
        predict_two_pass(lsd, raw, device="cpu")
