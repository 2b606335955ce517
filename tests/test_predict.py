import numpy as np
import pytest
import torch
from scipy import ndimage

from mbl_seg.models import UNet
from mbl_seg.predict import predict


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
