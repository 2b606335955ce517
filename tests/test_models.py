"""The U-Net: shape arithmetic against real forward passes, receptive field against a
measured one, seeding, gradients, norms and autocast."""

import json

import numpy as np
import pytest
import torch

from mbl_seg.models import (LevelFactors, UNet, ValidShapes, anisotropic_factors, center_crop,
                            unet3d)

ANISO = ((1, 2, 2), (1, 2, 2), (2, 2, 2))

# Tiny features: the shape arithmetic does not depend on them and the sweeps stay fast.
CONFIGS = [
    dict(dims=2, depth=1),
    dict(dims=2, depth=2),
    dict(dims=2, depth=3),
    dict(dims=2, depth=4),
    dict(dims=2, depth=3, kernel_size=((5, 3), (3, 3), (3, 1)), downsample=(3, 2)),
    dict(dims=2, depth=2, kernel_size=2),
    dict(dims=2, depth=3, padding="same"),
    dict(dims=2, depth=4, padding="same", downsample=((2, 1), (2, 2), (1, 3))),
    dict(dims=3, depth=2),
    dict(dims=3, depth=3, padding="same"),
    dict(dims=3, depth=4, downsample=ANISO,
         kernel_size=((1, 3, 3), (1, 3, 3), (3, 3, 3), (3, 3, 3))),
    dict(dims=3, depth=4, downsample=ANISO, padding="same"),
]


def tiny(**options):
    return UNet(base_features=2, feature_growth=1, seed=0, **options)


def _sweep(net, axis):
    """Sizes 1.. a few steps past the smallest valid one along ``axis``, others smallest."""
    smallest, step = net.valid_input_shapes()
    for size in range(1, smallest[axis] + 2 * step[axis] + 1):
        shape = list(smallest)
        shape[axis] = size
        yield tuple(shape)


@pytest.mark.parametrize("options", CONFIGS)
def test_output_shape_matches_forward_for_every_valid_input(options):
    net = tiny(**options).eval()
    smallest, step = net.valid_input_shapes()
    for axis in range(net.dims):
        valid = []
        for shape in _sweep(net, axis):
            x = torch.zeros(1, 1, *shape)
            try:
                expected = net.output_shape(shape)
            except ValueError as err:
                assert "does not fit this U-Net" in str(err)
                with pytest.raises(ValueError, match="does not fit this U-Net"):
                    net(x)
                continue
            valid.append(shape[axis])
            with torch.no_grad():
                assert tuple(net(x).shape) == (1, 1, *expected)
            context = np.subtract(shape, expected)
            assert tuple(context) == (net.context if net.padding == "valid" else (0,) * net.dims)
        # brute force agrees with the closed form: smallest + n * step
        assert valid == list(range(smallest[axis], smallest[axis] + 2 * step[axis] + 1,
                                   step[axis]))


def test_known_shapes():
    net = UNet(depth=5)  # the original U-Net (Ronneberger et al. 2015)
    assert net.output_shape((572, 572)) == (388, 388)
    assert UNet().valid_input_shapes() == ValidShapes((44, 44), (4, 4))
    aniso = UNet(dims=3, depth=4, downsample=ANISO)
    assert aniso.valid_input_shapes().step == (2, 8, 8)
    assert UNet(padding="same").valid_input_shapes() == ValidShapes((4, 4), (4, 4))


def test_valid_input_shape_rounds_like_brute_force():
    net = UNet(dims=2, depth=3, kernel_size=((5, 3), (3, 3), (3, 3)))
    fits = {}
    for axis in range(2):
        fits[axis] = [s for s in range(1, 200) if _fits(net, axis, s)]
    for size in range(1, 150):
        for axis in range(2):
            near = [net.valid_input_shape()[0], net.valid_input_shape()[1]]
            near[axis] = size
            below = [s for s in fits[axis] if s <= size]
            above = min(s for s in fits[axis] if s >= size)
            assert net.valid_input_shape(near, round="up")[axis] == above
            nearest = net.valid_input_shape(near)[axis]
            best = min(abs(s - size) for s in fits[axis])
            assert abs(nearest - size) == best and (nearest == above or size - nearest < best + 1)
            if below:
                assert net.valid_input_shape(near, round="down")[axis] == max(below)
            else:
                with pytest.raises(ValueError, match="the smallest is"):
                    net.valid_input_shape(near, round="down")


def _fits(net, axis, size):
    shape = list(net.valid_input_shape())
    shape[axis] = size
    try:
        net.output_shape(shape)
    except ValueError:
        return False
    return True


def test_error_messages_help():
    net = UNet()
    with pytest.raises(ValueError, match=r"valid shapes near it are \(100, 100\) and \(104, 104\)"):
        net.output_shape((102, 102))
    with pytest.raises(ValueError, match=r"nearest valid shape is \(44, 100\), the smallest is"):
        net.output_shape((20, 100))
    with pytest.raises(ValueError, match=r"multiples of \(4, 4\).*\(64, 64\) and \(68, 68\)"):
        UNet(padding="same").output_shape((66, 66))
    with pytest.raises(ValueError, match=r"takes \(b, c, y, x\) input, got \(1, 44, 44\)"):
        net(torch.zeros(1, 44, 44))
    with pytest.raises(ValueError, match="takes 1 input channel"):
        net(torch.zeros(1, 3, 44, 44))
    with pytest.raises(TypeError, match="torch.Tensor"):
        net(np.zeros((1, 1, 44, 44)))
    with pytest.raises(ValueError, match="2 spatial sizes"):
        net.output_shape((1, 1, 44, 44))


@pytest.mark.parametrize("bad, match", [
    (dict(dims=4), "dims must be one of"),
    (dict(norm="layer"), "norm must be one of"),
    (dict(depth=0), "depth must be"),
    (dict(kernel_size=(3, 3, 3)), "kernel_size must be"),
    (dict(downsample=((2, 2),)), "downsample must be"),
    (dict(kernel_size=4, padding="same"), "odd kernel sizes"),
    (dict(final_activation="softplus"), "final_activation must be"),
])
def test_bad_options_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        UNet(**bad)


def _measured_field(net, axis):
    """Largest extent of the input voxels whose change moves one output voxel (perturbation)."""
    net = net.double().eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # positive weights: a huge increase moves every dependent output
        for p in net.parameters():
            p.copy_(torch.rand(p.shape, generator=generator, dtype=p.dtype) + 0.1)
    smallest, step = net.valid_input_shapes()
    shape = list(smallest)
    shape[axis] += 2 * step[axis] + net.context[axis] * (net.padding == "same")
    shape[axis] = net.valid_input_shape(shape, round="up")[axis]
    n = shape[axis]
    x = torch.ones(n, 1, *shape, dtype=torch.float64)
    for i in range(n):
        x[i].select(axis + 1, i).add_(1e6)
    with torch.no_grad():
        base = net(torch.ones(1, 1, *shape, dtype=torch.float64))
        moved = (net(x) - base).abs() > 1e-3 * base.abs()  # (inputs, 1, *output)
    others = [d for d in range(2, moved.ndim) if d != axis + 2]
    depends = moved.any(dim=others).squeeze(1) if others else moved.squeeze(1)  # (in, out)
    rows = [torch.nonzero(depends[:, o]).ravel() for o in range(depends.shape[1])]
    return max(int(r.max() - r.min()) + 1 for r in rows if len(r))


@pytest.mark.parametrize("options", [
    dict(dims=2, depth=1), dict(dims=2, depth=2), dict(dims=2, depth=3),
    dict(dims=2, depth=3, kernel_size=((5, 3), (3, 3), (3, 1)), downsample=(3, 2)),
    dict(dims=2, depth=3, padding="same"),
    dict(dims=3, depth=3, downsample=((1, 2, 2), (2, 2, 2)),
         kernel_size=((1, 3, 3), (3, 3, 3), (3, 3, 3))),
])
def test_receptive_field_equals_measured(options):
    net = tiny(**options)
    for axis in range(2):  # z and y; in 2D y and x (x of a 3D net is like its y)
        assert net.receptive_field[axis] == _measured_field(net, axis)
        assert net.context[axis] + 1 <= net.receptive_field[axis]


def test_same_seed_same_weights_and_no_global_rng():
    state = torch.random.get_rng_state()
    first, second = UNet(seed=3).state_dict(), UNet(seed=3).state_dict()
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(first[k], second[k]) for k in first)
    other = UNet(seed=4).state_dict()
    assert not torch.equal(first["encoder.0.0.weight"], other["encoder.0.0.weight"])
    from_generator = UNet(seed=torch.Generator().manual_seed(3)).state_dict()
    assert all(torch.equal(first[k], from_generator[k]) for k in first)


def test_default_2d_net_is_small_and_fast():
    net = UNet(seed=0)
    assert sum(p.numel() for p in net.parameters()) < 500_000
    assert net(torch.rand(1, 1, 64, 64)).shape == (1, 1, 24, 24)
    same = UNet(padding="same", final_activation="sigmoid", seed=0)
    out = same(torch.rand(2, 1, 64, 64))
    assert out.shape == (2, 1, 64, 64) and 0 <= out.min() and out.max() <= 1
    net3d = UNet(1, 3, dims=3, downsample=((1, 2, 2), (2, 2, 2)), base_features=4, seed=0,
                 kernel_size=((1, 3, 3), (3, 3, 3), (3, 3, 3)))
    assert net3d(torch.rand(1, 1, 20, 48, 48)).shape == (1, 3, 4, 8, 8)


def test_gradients_reach_every_parameter():
    net = UNet(dims=2, depth=3, base_features=4, norm="batch", seed=0)
    net(torch.rand(2, 1, 48, 48, generator=torch.Generator().manual_seed(0))).mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("norm", [None, "batch", "instance", "group"])
@pytest.mark.parametrize("dims", [2, 3])
def test_norms_train_and_survive_autocast(norm, dims):
    shape = (48, 48) if dims == 2 else (18, 44, 44)
    anisotropic = dict(downsample=((1, 2, 2), (2, 2, 2)),
                       kernel_size=((1, 3, 3), (3, 3, 3), (3, 3, 3)))
    net = UNet(2, 2, dims=dims, depth=3, base_features=4, norm=norm, seed=0,
               final_activation="softmax", **(anisotropic if dims == 3 else {}))
    x = torch.rand(2, 2, *shape, generator=torch.Generator().manual_seed(0))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(x)
    out.float().sum().backward()
    assert out.shape == (2, 2, *net.output_shape(shape))
    assert torch.isfinite(out).all()
    assert torch.allclose(out.float().sum(1), torch.ones(1), atol=1e-2)


def test_center_crop_matches_slicing():
    rng = np.random.default_rng(0)
    for _ in range(20):
        shape = tuple(rng.integers(1, 7, size=rng.integers(2, 4)))
        target = tuple(int(rng.integers(1, s + 1)) for s in shape)
        x = torch.arange(2 * 3 * int(np.prod(shape))).reshape(2, 3, *shape)
        starts = [(s - t) // 2 for s, t in zip(shape, target)]
        expected = x.numpy()[(slice(None), slice(None),
                              *(slice(a, a + t) for a, t in zip(starts, target)))]
        np.testing.assert_array_equal(center_crop(x, target).numpy(), expected)
    with pytest.raises(ValueError, match="cannot crop"):
        center_crop(torch.zeros(1, 1, 4, 4), (5, 4))
    with pytest.raises(ValueError, match="cannot crop"):
        center_crop(torch.zeros(1, 1, 4, 4), (4,))
    with pytest.raises(TypeError, match="torch.Tensor"):
        center_crop(np.zeros((1, 1, 4, 4)), (2, 2))


def test_summary_lists_the_stages():
    net = UNet(dims=3, depth=3, downsample=((1, 2, 2), (2, 2, 2)),
               kernel_size=((1, 3, 3), (3, 3, 3), (3, 3, 3)))
    text = net.summary((20, 64, 64))
    assert text.splitlines()[0].startswith("UNet 3D, depth 3, 'valid' padding, ")
    assert text.splitlines()[-1].endswith(f"{net.output_shape((20, 64, 64))}")
    assert "max-pool /(1, 2, 2)" in text and "crop skip + concatenate" in text
    assert f"receptive field {net.receptive_field}" in text
    assert "(44, 44)" in UNet().summary()  # the smallest valid input by default
    with pytest.raises(ValueError, match="does not fit"):
        net.summary((21, 64, 64))


@pytest.mark.parametrize("kwargs", [{"in_channels": 0}, {"out_channels": -1},
                                    {"in_channels": 1.5}, {"out_channels": True}])
def test_unet_channels_must_be_positive_ints(kwargs):
    with pytest.raises(ValueError, match="channels must be an int >= 1"):
        UNet(**kwargs)


def test_unet_options_may_be_numpy_ints():
    net = UNet(np.int64(1), np.array(2), dims=np.int64(2), depth=np.array(2),
               base_features=np.int64(4), feature_growth=np.array(2),
               downsample=np.array(2), kernel_size=(np.int64(3), 3), seed=np.int64(0))
    want = UNet(1, 2, dims=2, depth=2, base_features=4, feature_growth=2, downsample=2,
                kernel_size=(3, 3), seed=0)
    assert repr(net) == repr(want) and net.context == want.context
    assert type(net.in_channels) is int and type(net.depth) is int and type(net.dims) is int


@pytest.mark.parametrize("bad, error, match", [
    (dict(base_features=0), ValueError, "base_features must be an int >= 1, got 0"),
    (dict(feature_growth=1.5), ValueError, "feature_growth must be an int >= 1, got 1.5"),
    (dict(depth="3"), TypeError, "depth must be an int >= 1"),
])
def test_unet_sizes_must_be_positive_ints(bad, error, match):
    with pytest.raises(error, match=match):
        UNet(**bad)


# --- anisotropic nets and the arithmetic in nm ---------------------------------------------


def test_anisotropic_factors_for_fly_and_zebrafish():
    fly = anisotropic_factors((8, 8, 8), 3)
    assert fly == LevelFactors(((2, 2, 2), (2, 2, 2)), ((3, 3, 3),) * 3)
    zebrafish = anisotropic_factors((36, 12, 12), 3)
    assert zebrafish.downsample == ((1, 2, 2), (2, 2, 2))
    assert zebrafish.kernel_size == ((1, 3, 3), (3, 3, 3), (3, 3, 3))
    cremi = anisotropic_factors(np.array([40.0, 4.0, 4.0]), 5)  # 40 -> 8 -> 16 -> 32 nm in y, x
    assert cremi.downsample == ((1, 2, 2),) * 3 + ((2, 2, 2),)
    assert cremi.kernel_size == ((1, 3, 3),) * 3 + ((3, 3, 3),) * 2
    assert anisotropic_factors((24, 12, 12), 2).kernel_size[0] == (1, 3, 3)  # twice: coarse
    assert anisotropic_factors((20, 12, 12), 2).kernel_size[0] == (3, 3, 3)
    assert anisotropic_factors((8, 8), 1) == LevelFactors((), ((3, 3),))


def test_anisotropic_factors_make_voxels_near_isotropic_and_keep_them_so():
    rng = np.random.default_rng(0)
    for _ in range(50):
        voxel_size = tuple(float(v) for v in rng.uniform(2, 50, 3))
        factors = anisotropic_factors(voxel_size, 6)
        net = tiny(dims=3, depth=6, downsample=factors.downsample, kernel_size=factors.kernel_size)
        ratios = [max(v) / min(v) for v in net.level_voxel_sizes(voxel_size)]
        for level, (ratio, kernel) in enumerate(zip(ratios, factors.kernel_size)):
            assert (ratio >= 2) == (1 in kernel), (voxel_size, level)
            if level:  # pooling the fine axes only brings the coarse one closer
                assert ratio <= max(ratios[level - 1], 2 - 1e-9), (voxel_size, ratios)


def test_unet3d_builds_the_anisotropic_net():
    net = unet3d((36, 12, 12), base_features=2, seed=0)
    assert net.factors == [(1, 2, 2), (2, 2, 2)] and net.kernels[0] == (1, 3, 3)
    assert net.out_channels == 3 and net.padding == "valid" and net.features[0] == 2
    shape = net.valid_input_shape()
    assert net(torch.zeros(1, 1, *shape)).shape == (1, 3, *net.output_shape(shape))
    same = unet3d((8, 8, 8), depth=2, base_features=2, padding="same", norm="group", seed=0)
    assert same.factors == [(2, 2, 2)] and same.config["norm"] == "group"
    with pytest.raises(TypeError, match="voxel_size is required"):
        unet3d(None)
    with pytest.raises(ValueError, match="voxel_size must have one entry per axis"):
        unet3d((12, 12))


def test_level_voxel_sizes_context_and_receptive_field_in_nm():
    net = tiny(dims=3, depth=3, downsample=((1, 2, 2), (2, 2, 2)),
               kernel_size=((1, 3, 3), (3, 3, 3), (3, 3, 3)))
    voxel_size = (36, 12, 12)
    assert net.level_voxel_sizes(voxel_size) == ((36, 12, 12), (36, 24, 24), (72, 48, 48))
    assert net.context == (16, 40, 40)
    assert net.context_nm(voxel_size) == (576, 480, 480)
    assert net.receptive_field_nm(voxel_size) == tuple(
        r * v for r, v in zip(net.receptive_field, voxel_size))
    text = net.summary(voxel_size=voxel_size)
    assert "in nm: context (576, 480, 480); receptive field (648, 528, 528)" in text
    assert "(36, 24, 24), (72, 48, 48)" in text
    assert "in nm" not in net.summary()
    assert UNet(dims=2, depth=2).receptive_field_nm(4.5) == (18 * 4.5, 18 * 4.5)


@pytest.mark.parametrize("voxel_size, error, match", [
    (None, TypeError, "voxel_size is required"),
    ((8, 8), ValueError, "one entry per axis"),
    ((8, 0, 8), ValueError, "positive"),
])
def test_nm_arithmetic_needs_a_voxel_size(voxel_size, error, match):
    net = tiny(dims=3, depth=2)
    for method in (net.level_voxel_sizes, net.context_nm, net.receptive_field_nm):
        with pytest.raises(error, match=match):
            method(voxel_size)
    if voxel_size is not None:  # summary() without a voxel size gives voxels only
        with pytest.raises(error, match=match):
            net.summary(voxel_size=voxel_size)


@pytest.mark.parametrize("options", CONFIGS)
def test_config_is_json_and_rebuilds_the_same_net(options):
    net = tiny(**options)
    config = json.loads(json.dumps(net.config))
    assert config == net.config
    again = UNet(**config)
    assert repr(again) == repr(net) and again.config == net.config
    assert again.context == net.context and again.valid_input_shapes() == net.valid_input_shapes()


def test_checkpoints_compare_the_unet_config():
    from mbl_seg.checkpoints import _config

    net = tiny(dims=3, depth=2, downsample=(1, 2, 2))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    assert _config(net, opt, "raw")["model_settings"]["downsample"] == [[1, 2, 2]]
