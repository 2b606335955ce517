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
