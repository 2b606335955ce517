import numpy as np
import pytest
import torch
from scipy import ndimage

from mbl_seg.io import open_volume, write_volume
from mbl_seg.models import UNet, unet3d
from mbl_seg.predict import Block, _block_shape, _mirror, predict, predict_blocks, scan_blocks


class _ValidConv(torch.nn.Module):
    """A 5x5 valid convolution that says what a UNet says: padding and context."""

    padding, dims, in_channels, context = "valid", 2, 1, (4, 4)

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 5, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.arange(25.0).reshape(1, 1, 5, 5) / 100)

    def forward(self, x):
        return self.conv(x)


def test_valid_prediction_is_aligned_with_the_input():
    rng = np.random.default_rng(0)
    image = rng.random((20, 30)).astype(np.float32)
    net = _ValidConv()
    got = predict(net, image, activation=None, device="cpu")
    weights = net.conv.weight.detach().numpy()[0, 0]
    want = ndimage.correlate(image, weights, mode="mirror")  # mirror == numpy "reflect"
    assert got.shape == (1, 20, 30)
    np.testing.assert_allclose(got[0], want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_unet_predictions_have_the_input_shape_for_sections_and_volumes(padding):
    net2d = UNet(dims=2, depth=2, base_features=4, padding=padding, out_channels=2, seed=0)
    stack = np.random.default_rng(1).integers(0, 255, (3, 37, 45)).astype(np.uint8)
    out = predict(net2d, stack, sections=True, device="cpu")
    assert out.shape == (2, 3, 37, 45) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1
    single = predict(net2d, stack[1], device="cpu")
    np.testing.assert_allclose(single, out[:, 1], atol=1e-6)
    net3d = UNet(dims=3, depth=2, base_features=2, padding=padding, downsample=(1, 2, 2),
                 seed=0)
    assert predict(net3d, stack, device="cpu").shape == (1, 3, 37, 45)


def test_wrong_input_shape_is_explained():
    net = UNet(dims=2, depth=2, base_features=4, seed=0)
    with pytest.raises(ValueError, match="sections"):
        predict(net, np.zeros((2, 3, 16, 16), np.uint8), sections=True)
    with pytest.raises(ValueError, match="2D"):
        predict(net, np.zeros((3, 16, 16), np.uint8))


def test_mixed_precision_needs_cuda():
    net = UNet(dims=2, depth=2, base_features=4, seed=0)
    with pytest.raises(ValueError, match="CUDA"):
        predict(net, np.zeros((16, 16), np.uint8), device="cpu", amp=True)


@pytest.mark.parametrize("raw, words", [
    (np.full((16, 16), np.nan, np.float32), "nan"),
    (np.random.default_rng(0).random((16, 16), np.float32) * 255,
     r"raw must be uint8 \(0-255\) or float normalised to \[0, 1\]"),
    (np.zeros((0, 16), np.uint8), r"raw is empty \(shape \(0, 16\)\)"),
    (np.zeros((16, 0), np.float32), r"raw is empty \(shape \(16, 0\)\)"),
])
def test_raw_that_cannot_be_right_is_refused(raw, words):
    with pytest.raises(ValueError, match=words):
        predict(_ValidConv(), raw, device="cpu")


@pytest.mark.parametrize("batch_size, error", [(0, ValueError), (-2, ValueError),
                                               (1.5, ValueError), ("4", TypeError)])
def test_batch_size_must_be_a_positive_int(batch_size, error):
    with pytest.raises(error, match="batch_size must be an int >= 1"):
        predict(_ValidConv(), np.zeros((3, 16, 16), np.uint8), sections=True, device="cpu",
                batch_size=batch_size)


def test_batch_size_may_be_a_0d_array():
    stack = np.random.default_rng(2).integers(0, 255, (3, 16, 16)).astype(np.uint8)
    want = predict(_ValidConv(), stack, sections=True, device="cpu", batch_size=2)
    got = predict(_ValidConv(), stack, sections=True, device="cpu", batch_size=np.array(2))
    np.testing.assert_array_equal(got, want)


# --- scan_blocks: the block arithmetic --------------------------------------------------------


def test_scan_blocks_crops_the_last_block():
    blocks = scan_blocks((10,), (4,), (2,))
    assert [b.write for b in blocks] == [(slice(0, 4),), (slice(4, 8),), (slice(8, 10),)]
    assert [b.read for b in blocks] == [(slice(0, 6),), (slice(4, 10),), (slice(8, 12),)]
    assert isinstance(blocks[0], Block)
    two = scan_blocks((3, 5), 3, (0, 4))  # one int for every axis; C order, x fastest
    assert [b.write for b in two] == [(slice(0, 3), slice(0, 3)), (slice(0, 3), slice(3, 5))]
    assert two[1].read == (slice(0, 3), slice(3, 9))
    assert len(scan_blocks((4, 4), (8, 8), 0)) == 1  # a block larger than the volume


def test_scan_blocks_cover_every_voxel_once_and_read_inside_the_padded_volume():
    rng = np.random.default_rng(0)
    for _ in range(100):
        ndim = int(rng.integers(1, 4))
        shape = tuple(int(v) for v in rng.integers(1, 12, ndim))
        block = tuple(int(v) for v in rng.integers(1, 6, ndim))
        context = tuple(int(v) for v in rng.integers(0, 5, ndim))
        count = np.zeros(shape, int)
        padded = np.zeros(tuple(s + c for s, c in zip(shape, context)), bool)
        for read, write in scan_blocks(shape, block, context):
            count[write] += 1
            assert padded[read].shape == tuple(w.stop - w.start + c
                                               for w, c in zip(write, context))
            # in volume coordinates, the read is the write with context // 2 more before it
            # and the rest after it
            for r, w, c in zip(read, write, context):
                assert (r.start - c // 2, r.stop - c // 2) == (w.start - c // 2,
                                                               w.stop + c - c // 2)
            assert all(0 <= r.start < r.stop <= n for r, n in zip(read, padded.shape))
            assert all(w.stop - w.start <= b for w, b in zip(write, block))
        assert (count == 1).all(), (shape, block, context)


@pytest.mark.parametrize("args, error, match", [
    (((0, 4), 2, 0), ValueError, "volume_shape must be an int >= 1"),
    (("44", 2, 0), TypeError, "volume_shape must be a sequence of ints"),
    (((4, 4), (2, 0), 0), ValueError, "output_block must be an int >= 1"),
    (((4, 4), (2, 2, 2), 0), ValueError, "output_block must have one entry per axis"),
    (((4, 4), 2, -1), ValueError, "context must be an int >= 0"),
    (((4, 4), 2, 1.5), ValueError, "context must be an int >= 0"),
])
def test_scan_blocks_refuses_what_is_no_shape(args, error, match):
    with pytest.raises(error, match=match):
        scan_blocks(*args)


@pytest.mark.parametrize("size, pad", [(s, p) for s in range(1, 6) for p in (0, 1, 3, 12)])
def test_mirror_indices_match_numpy_pad(size, pad):
    positions = np.arange(-pad, size + pad)
    for mode in ("reflect", "symmetric"):
        if mode == "reflect" and size == 1 and pad:
            continue  # numpy cannot reflect one voxel; predict uses "symmetric" there
        want = np.pad(np.arange(size), pad, mode=mode)
        np.testing.assert_array_equal(_mirror(positions, size, mode), want)


# --- predict_blocks: scanning equals one pass --------------------------------------------------

ANISOTROPIC = dict(dims=3, depth=3, downsample=((1, 2, 2), (2, 2, 2)),
                   kernel_size=((1, 3, 3), (3, 3, 3), (3, 3, 3)))


def _inputs_seen(net):
    """The input shapes of every forward pass of ``net`` (a hook appends to the list)."""
    shapes = []
    net.register_forward_pre_hook(lambda module, args: shapes.append(tuple(args[0].shape)))
    return shapes


@pytest.mark.parametrize("options, shape, block", [
    (dict(ANISOTROPIC, padding="valid"), (13, 45, 51), (4, 16, 16)),  # not a multiple of blocks
    (dict(dims=2, depth=4, padding="valid"), (70, 83), (16, 32)),  # outputs not on the step
    (dict(dims=2, depth=3, padding="same"), (90, 77), (8, 12)),
    (dict(ANISOTROPIC, padding="same"), (30, 40, 78), (6, 40, 24)),
])
def test_scanning_equals_one_pass(options, shape, block):
    net = UNet(1, 2, base_features=3, seed=0, **options)
    raw = np.random.default_rng(3).integers(0, 256, shape, dtype=np.uint8)
    want = predict(net, raw, device="cpu")
    passes = _inputs_seen(net)
    predict(net, raw, device="cpu")
    whole = passes.pop()[2:]
    got = predict_blocks(net, raw, block_shape=block, device="cpu", progress=False,
                         batch_size=3)
    assert got.shape == want.shape == (2, *shape) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-5)
    # really block by block: passes of one input shape, smaller than the padded volume on
    # every axis with several blocks
    blocks = [-(-s // b) for s, b in zip(shape, block)]
    assert sum(p[0] for p in passes) == np.prod(blocks) and len({p[2:] for p in passes}) == 1
    assert all(w < n for w, n, b in zip(passes[0][2:], whole, blocks) if b > 1)


def test_a_volume_smaller_than_one_block_is_one_pass():
    net = UNet(dims=3, depth=2, base_features=2, downsample=(1, 2, 2), seed=0)
    raw = np.random.default_rng(4).random((3, 9, 11), np.float32)
    passes = _inputs_seen(net)
    got = predict_blocks(net, raw, device="cpu", progress=False)  # default block
    assert len(passes) == 1
    np.testing.assert_allclose(got, predict(net, raw, device="cpu"), atol=1e-6)


def test_default_blocks_are_equal_and_on_the_pooling_step():
    fly = unet3d((8, 8, 8), seed=0)  # step (4, 4, 4)
    assert _block_shape(fly, None, (48, 256, 256)) == (24, 128, 128)  # not 32 + 16 in z
    assert _block_shape(fly, None, (5, 300, 70)) == (8, 100, 72)
    zebrafish = unet3d((36, 12, 12), seed=0)  # step (2, 4, 4)
    assert _block_shape(zebrafish, None, (100, 1000, 1000)) == (26, 128, 128)
    assert _block_shape(zebrafish, (64, 64, 64), (10, 40, 100)) == (10, 40, 64)


def test_several_input_channels_and_no_activation():
    net = UNet(2, 3, dims=2, depth=2, base_features=2, seed=0)
    raw = np.random.default_rng(5).random((2, 40, 37), np.float32)
    got = predict_blocks(net, raw, block_shape=(8, 10), activation=None, device="cpu",
                         progress=False)
    want = predict(net, raw, activation=None, device="cpu")
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert got.min() < 0  # logits


def test_zarr_in_zarr_out_equals_numpy(tmp_path):
    raw = np.random.default_rng(6).integers(0, 256, (10, 40, 44), dtype=np.uint8)
    write_volume(tmp_path / "in.zarr", "raw", raw, voxel_size=(36, 12, 12),
                 offset=(360, 0, 24), chunks=(4, 16, 16))
    volume = open_volume(tmp_path / "in.zarr", "raw")
    net = unet3d(volume.voxel_size, depth=2, base_features=2, seed=0)
    want = predict_blocks(net, raw, block_shape=(4, 16, 16), device="cpu", progress=False)
    out = predict_blocks(net, volume, block_shape=(4, 16, 16), out=tmp_path / "out.zarr",
                         device="cpu", progress=False)
    assert out.shape == (3, 10, 40, 44) and out.dtype == np.float32
    assert out.chunks == (3, 4, 16, 16)
    np.testing.assert_array_equal(out[...], want)
    np.testing.assert_allclose(want, predict(net, raw, device="cpu"), atol=1e-5)
    saved = open_volume(tmp_path / "out.zarr", "affs")
    assert saved.voxel_size == (36, 12, 12) and saved.offset == (360, 0, 24)
    assert saved.data.attrs["axes"] == ["z", "y", "x"]
    assert saved.data.metadata.dimension_names == ("c", "z", "y", "x")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        predict_blocks(net, volume, out=tmp_path / "out.zarr", device="cpu", progress=False)
    again = predict_blocks(net, raw, out=str(tmp_path / "out.zarr"), voxel_size=(40, 4, 4),
                           overwrite=True, device="cpu", progress=False)
    attrs = dict(again.attrs)
    assert attrs["voxel_size"] == [40, 4, 4] and attrs["offset"] == [0, 0, 0]
    np.testing.assert_allclose(again[...], want, atol=1e-6)


def test_progress_bar_counts_blocks(capsys):
    net = UNet(dims=2, depth=2, base_features=2, seed=0)
    predict_blocks(net, np.zeros((16, 24), np.uint8), block_shape=(8, 8), device="cpu")
    err = capsys.readouterr().err
    assert "predict blocks" in err and "6/6" in err


class _Silent(torch.nn.Module):
    """A module that says nothing about how far it looks."""

    dims, in_channels = 2, 1

    def forward(self, x):
        return x


@pytest.mark.parametrize("call, error, match", [
    (dict(block_shape=(1, 1, 1)), ValueError, r"multiple of its pooling step \(1, 2, 2\)"),
    (dict(block_shape=(4, 7, 8)), ValueError, r"\(4, 7, 8\) does not fit .* e.g. \(4, 8, 8\)"),
    (dict(block_shape=(4, 8)), ValueError, "block_shape must have one entry per axis"),
    (dict(raw=np.zeros((16, 16), np.uint8)), ValueError, r"raw must be \(z, y, x\)"),
    (dict(raw=np.zeros((2, 4, 16, 16), np.uint8)), ValueError, "got shape"),
    (dict(raw=[[[0]]]), TypeError, "raw must be a numpy array, a zarr array"),
    (dict(raw=np.zeros((4, 16, 16), np.int32)), TypeError, "uint8"),
    (dict(raw=np.zeros((4, 0, 16), np.uint8)), ValueError, "raw is empty"),
    (dict(raw=np.full((4, 16, 16), 3.0)), ValueError, "normalised"),
    (dict(out="x.zarr"), TypeError, "voxel_size is required"),
    (dict(out=3, voxel_size=8), TypeError, "out must be None or a zarr group path"),
    (dict(out="x.zarr", voxel_size=8, offset=(0, 8)), ValueError, "offset must have one entry"),
    (dict(batch_size=0), ValueError, "batch_size must be an int >= 1"),
    (dict(amp=True), ValueError, "CUDA"),
])
def test_predict_blocks_explains_bad_input(call, error, match, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    net = UNet(dims=3, depth=2, base_features=2, downsample=(1, 2, 2), seed=0)
    raw = call.pop("raw", np.zeros((4, 16, 16), np.uint8))
    with pytest.raises(error, match=match):
        predict_blocks(net, raw, device="cpu", progress=False, **call)
    assert not (tmp_path / "x.zarr").exists()  # refused before anything was written


def test_a_model_that_does_not_tell_its_reach_is_refused():
    with pytest.raises(TypeError, match="needs to know how far a model looks"):
        predict_blocks(_Silent(), np.zeros((8, 8), np.uint8), device="cpu", progress=False)


def test_a_valid_module_without_pooling_scans_like_predict():
    image = np.random.default_rng(7).random((23, 31)).astype(np.float32)
    got = predict_blocks(_ValidConv(), image, block_shape=(5, 7), activation=None,
                         device="cpu", progress=False)
    np.testing.assert_allclose(got, predict(_ValidConv(), image, activation=None, device="cpu"),
                               atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_scanning_on_the_gpu_with_mixed_precision_matches_the_cpu():
    net = unet3d((36, 12, 12), base_features=4, seed=0)
    raw = np.random.default_rng(8).integers(0, 256, (20, 70, 66), dtype=np.uint8)
    cpu = predict_blocks(net, raw, block_shape=(4, 16, 16), device="cpu", progress=False)
    full = predict_blocks(net, raw, block_shape=(4, 16, 16), device="cuda", amp=False,
                          progress=False)
    half = predict_blocks(net, raw, block_shape=(4, 16, 16), device="cuda", progress=False,
                          batch_size=4)
    np.testing.assert_allclose(full, cpu, atol=1e-4)
    np.testing.assert_allclose(half, cpu, atol=1e-2)
