"""The U-Net self-checks pass right answers and name the mistake in typical wrong ones."""

import pytest
import torch

from mbl_seg.checks.models import check_center_crop, check_unet_output_size
from mbl_seg.models import UNet, center_crop

# --- center_crop: one right and several typical wrong implementations ------------------------


def crop_right(x, shape):
    slices = [slice(None), slice(None)]
    for size, target in zip(x.shape[2:], shape):
        start = (size - target) // 2
        slices.append(slice(start, start + target))
    return x[tuple(slices)]


def crop_right_narrow(x, shape):
    for axis, target in enumerate(shape, start=2):
        x = x.narrow(axis, (x.shape[axis] - target) // 2, target)
    return x.clone()


def _window(x, starts, shape):
    return x[(slice(None), slice(None), *(slice(a, a + t) for a, t in zip(starts, shape)))]


def crop_corner(x, shape):
    return _window(x, [0] * len(shape), shape)


def crop_end(x, shape):
    return _window(x, [s - t for s, t in zip(x.shape[2:], shape)], shape)


def crop_off_by_one(x, shape):
    return _window(x, [(s - t) // 2 + 1 for s, t in zip(x.shape[2:], shape)], shape)


def crop_channels_too(x, shape):
    slices = [slice(None)]
    for size, target in zip(x.shape[1:], shape):
        slices.append(slice((size - target) // 2, (size - target) // 2 + target))
    return x[tuple(slices)]


def crop_swapped(x, shape):
    return crop_right(x, tuple(shape)[::-1]) if len(shape) == 2 else crop_right(x, shape)


def crop_one_too_many(x, shape):
    slices = [slice(None), slice(None)]
    for size, target in zip(x.shape[2:], shape):
        start = (size - target) // 2
        slices.append(slice(start, start + target + 1))
    return x[tuple(slices)]


def crop_2d_only(x, shape):
    h, w = shape[0], shape[1]
    a, b = (x.shape[2] - h) // 2, (x.shape[3] - w) // 2
    return x[:, :, a:a + h, b:b + w]


def crop_2d_only_crash(x, shape):
    h, w = shape
    a, b = (x.shape[2] - h) // 2, (x.shape[3] - w) // 2
    return x[:, :, a:a + h, b:b + w]


def crop_numpy(x, shape):
    return crop_right(x, shape).numpy()


def crop_todo(x, shape):
    raise NotImplementedError("TODO: crop the centre")


def test_center_crop_check_passes_right_answers(capsys):
    for fn in (crop_right, crop_right_narrow, center_crop):
        result = check_center_crop(fn)
        assert result.passed and result
    out = capsys.readouterr().out
    assert out.count("✅ center_crop: correct — your crops match on all 5 test tensors") == 3


@pytest.mark.parametrize("fn, hint", [
    (crop_corner, "cropped from the corner"),
    (crop_end, "kept the last voxels"),
    (crop_off_by_one, "off by one voxel from the centre"),
    (crop_channels_too, "cropped the batch or channel axis"),
    (crop_swapped, "axes swapped"),
    (crop_one_too_many, "`start:start + target`"),
    (crop_2d_only, "works on 2D input but not on 3D input"),
    (crop_2d_only_crash, "works on 2D input but fails on 3D input"),
    (crop_numpy, "return a torch.Tensor"),
    (lambda x, shape: None, "forget the `return`"),
    (lambda x, shape: x.flip(-1)[..., :shape[0], :shape[1]], "values are not the centre"),
    (crop_todo, "not implemented yet — fill in the TODO"),
    (lambda x, shape: x.nonexistent, "AttributeError"),
])
def test_center_crop_check_names_the_mistake(fn, hint, capsys):
    result = check_center_crop(fn)
    assert not result.passed
    assert hint in result.message
    assert capsys.readouterr().out == f"❌ center_crop: {result.message}\n"


def test_center_crop_check_is_deterministic_and_protects_inputs():
    def mutating(x, shape):
        x.zero_()
        return crop_right(x, shape)

    assert not check_center_crop(mutating, verbose=False)  # it cropped zeros...
    assert check_center_crop(crop_right, verbose=False)  # ...but spoiled only its own copy
    first = check_center_crop(crop_corner, verbose=False)
    assert first == check_center_crop(crop_corner, verbose=False)
    assert "cropping x of shape (2, 5, 8, 10) to (4, 2)" in first.message


# --- unet_output_size -------------------------------------------------------------------------


def size_right(input_size, depth, kernel_size=3, downsample=2):
    size = input_size
    for _ in range(depth - 1):
        size -= 2 * (kernel_size - 1)
        if size < 1 or size % downsample:
            raise ValueError("does not fit")
        size //= downsample
    size -= 2 * (kernel_size - 1)
    for _ in range(depth - 1):
        size = size * downsample - 2 * (kernel_size - 1)
    if size < 1:
        raise ValueError("too small")
    return size


def size_from_unet(input_size, depth, kernel_size, downsample):
    net = UNet(dims=2, depth=depth, kernel_size=kernel_size, downsample=downsample, seed=0)
    return net.output_shape((input_size, input_size))[0]


def _variant(*, convs=2, up=True, bottom=True, loss=None, extra_pool=0, check=True,
             true_div=False):
    def size_fn(input_size, depth, kernel_size=3, downsample=2):
        step = convs * ((kernel_size - 1) if loss is None else loss(kernel_size))
        size = input_size
        for _ in range(depth - 1 + extra_pool):
            size -= step
            if check and (size < 1 or size % downsample):
                raise ValueError("does not fit")
            size = size / downsample if true_div else size // downsample
        size -= step if bottom else 0
        for _ in range(depth - 1 + extra_pool):
            size = size * downsample - (step if up else 0)
        if check and size < 1:
            raise ValueError("too small")
        return size
    return size_fn


def test_unet_output_size_check_passes_right_answers():
    for fn in (size_right, size_from_unet, lambda *a: float(size_right(*a)),
               lambda *a: torch.tensor(size_right(*a))):
        result = check_unet_output_size(fn, verbose=False)
        assert result.passed, result.message
    assert str(result) == "✅ unet_output_size: correct — your sizes match on all 8 test cases"


@pytest.mark.parametrize("fn, hint", [
    (_variant(check=False), "positive multiple of `downsample`"),
    (_variant(check=False, true_div=True), "positive multiple of `downsample`"),
    (_variant(up=False), "forgot the convolutions on the way up"),
    (_variant(up=False, check=False), "forgot the convolutions on the way up"),
    (_variant(convs=1), "you counted one per level"),
    (_variant(bottom=False), "forgot the two convolutions of the bottom level"),
    (_variant(loss=lambda k: 0), "'same'-padding arithmetic"),
    (lambda input_size, depth, kernel_size, downsample: input_size, "you returned the input size"),
    (_variant(loss=lambda k: 2), "kernel size 3 only"),
    (_variant(loss=lambda k: k), "not kernel_size"),
    (_variant(extra_pool=1), "depth - 1 poolings"),
    (_variant(extra_pool=1, check=False), "depth - 1 poolings"),
    (lambda *args: 7, "go level by level"),
    (lambda *args: None, "forget the `return`"),
    (lambda *args: (388, 388), "should return one number"),
    (lambda *args: 1 / 0, "ZeroDivisionError"),
])
def test_unet_output_size_check_names_the_mistake(fn, hint, capsys):
    result = check_unet_output_size(fn)
    assert not result.passed
    assert hint in result.message
    assert capsys.readouterr().out == f"❌ unet_output_size: {result.message}\n"


def test_unet_output_size_messages_show_the_case():
    message = check_unet_output_size(_variant(check=False), verbose=False).message
    assert message.startswith("for input_size=101, depth=3, kernel_size=3, downsample=2 you "
                              "returned 60, expected a ValueError (it does not fit)")
    message = check_unet_output_size(_variant(convs=1), verbose=False).message
    assert "input_size=572, depth=5" in message and "raised ValueError, expected 388" in message

    def todo(input_size, depth, kernel_size=3, downsample=2):
        raise NotImplementedError
    assert "not implemented yet" in check_unet_output_size(todo, verbose=False).message
