"""The U-Net of the course: one configurable network for 2D and (anisotropic) 3D data.

Tensors are ``(b, c, y, x)`` or ``(b, c, z, y, x)``. With ``padding="valid"`` every
convolution shrinks the image and only some input sizes fit; the shape arithmetic
(``output_shape``, ``valid_input_shape``, ``context``, ``receptive_field``) is plain
Python that mirrors the forward pass step by step. For anisotropic EM,
``anisotropic_factors`` chooses the pooling and kernels per level from the voxel
size, and the net tells its levels' voxel sizes and its context in nm.

Used in: notebooks/02_deep_boundaries, notebooks/03_affinities, notebooks/04_malis,
notebooks/05_3d_unet, notebooks/06_lsds, notebooks/07_agglomeration, notebooks/08_scaling_up
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from ._validate import as_number, as_voxel_size

__all__ = ["UNet", "ValidShapes", "LevelFactors", "anisotropic_factors", "unet3d", "center_crop"]

_ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "gelu": nn.GELU}
_FINAL = {None: nn.Identity, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
          "softmax": lambda: nn.Softmax(dim=1)}
_NORMS = (None, "batch", "instance", "group")
_CHOICES = {"dims": (2, 3), "padding": ("valid", "same"), "norm": _NORMS,
            "activation": tuple(_ACTIVATIONS), "final_activation": tuple(_FINAL)}
_COARSE = 2  # an axis with voxels this many times the finest one is "coarse" (z of ssSEM)


class ValidShapes(NamedTuple):
    """Valid input sizes per axis are ``smallest + n * step`` for n = 0, 1, 2, ..."""

    smallest: tuple[int, ...]
    step: tuple[int, ...]


class LevelFactors(NamedTuple):
    """Pooling factors (``depth - 1``) and kernel sizes (``depth``) per level, z first."""

    downsample: tuple[tuple[int, ...], ...]
    kernel_size: tuple[tuple[int, ...], ...]


def center_crop(x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Crop the spatial axes of ``x`` to ``shape`` around the centre (for valid skip connections).

    Parameters
    ----------
    x : (b, c, y, x) or (b, c, z, y, x) torch.Tensor
    shape : sequence of int
        Target spatial shape, one entry per spatial axis (z, y, x order).

    Returns
    -------
    (b, c, *shape) torch.Tensor
        A view of ``x``; an odd size difference cuts the extra voxel at the end.

    Examples
    --------
    >>> center_crop(torch.arange(6).reshape(1, 1, 1, 6), (1, 2)).tolist()
    [[[[2, 3]]]]

    Used in: notebooks/02_deep_boundaries
    """
    if not isinstance(x, torch.Tensor) or x.ndim < 3:
        raise TypeError(f"x must be a (b, c, *spatial) torch.Tensor, got {type(x).__name__} "
                        f"of shape {tuple(getattr(x, 'shape', ()))}")
    shape = tuple(int(s) for s in shape)
    have = tuple(x.shape[2:])
    if len(shape) != len(have) or any(not 1 <= t <= s for t, s in zip(shape, have)):
        raise ValueError(f"cannot crop spatial shape {have} to {shape}: need one size per "
                         "spatial axis, each between 1 and the current size")
    starts = [(s - t) // 2 for s, t in zip(have, shape)]
    return x[(slice(None), slice(None), *(slice(a, a + t) for a, t in zip(starts, shape)))]


def anisotropic_factors(voxel_size: Sequence[float], depth: int) -> LevelFactors:
    """Pooling factors and kernel sizes per level for voxels of ``voxel_size`` nm.

    The rule, level by level: an axis whose voxels are at least twice as large
    as those of the finest axis is *coarse* (z of serial-section EM). A coarse
    axis gets kernel 1, because a 3-voxel kernel would mix sections far apart,
    and is not pooled; every other axis gets kernel 3 and is pooled by 2. As
    pooling y and x alone doubles their voxel size, z stops being coarse after
    a few levels; from then on every axis is pooled and convolved alike and the
    voxels stay near-isotropic. Isotropic voxels get (2, 2, 2) and 3 everywhere.

    Parameters
    ----------
    voxel_size : sequence of float
        nm per voxel of the input, (z, y, x) (or (y, x)).
    depth : int
        Number of levels of the U-Net.

    Returns
    -------
    LevelFactors
        ``downsample`` and ``kernel_size`` to pass to :class:`UNet`.

    Examples
    --------
    >>> anisotropic_factors((36, 12, 12), 3)  # zebrafish: 36 -> 36 -> 72 nm in z
    LevelFactors(downsample=((1, 2, 2), (2, 2, 2)), kernel_size=((1, 3, 3), (3, 3, 3), (3, 3, 3)))
    >>> anisotropic_factors((8, 8, 8), 3).downsample  # fly: isotropic from the start
    ((2, 2, 2), (2, 2, 2))

    Used in: notebooks/05_3d_unet
    """
    depth = as_number(depth, "depth", integer=True, positive=True)
    listed = hasattr(voxel_size, "__len__") and not isinstance(voxel_size, (str, bytes))
    size = list(as_voxel_size(voxel_size, len(voxel_size) if listed else 3))
    if len(size) not in (2, 3):
        raise ValueError(f"voxel_size must be (z, y, x) or (y, x) in nm, got {voxel_size!r}")
    downsample, kernels = [], []
    for level in range(depth):
        coarse = [s >= _COARSE * min(size) for s in size]
        kernels.append(tuple(1 if c else 3 for c in coarse))
        if level < depth - 1:
            downsample.append(tuple(1 if c else 2 for c in coarse))
            size = [s * f for s, f in zip(size, downsample[-1])]
    return LevelFactors(tuple(downsample), tuple(kernels))


def unet3d(voxel_size: Sequence[float], *, depth: int = 3, base_features: int = 12,
           out_channels: int = 3, padding: str = "valid",
           seed: int | torch.Generator | None = None, **options) -> UNet:
    """A 3D :class:`UNet` with pooling and kernels chosen by :func:`anisotropic_factors`.

    ``options`` go to :class:`UNet` as they are (``in_channels``, ``norm``, ...).
    The default three output channels are the affinities of the z, y and x neighbours.

    >>> net = unet3d((36, 12, 12), seed=0)
    >>> net.factors, net.kernels[0]
    ([(1, 2, 2), (2, 2, 2)], (1, 3, 3))

    Used in: notebooks/05_3d_unet
    """
    factors = anisotropic_factors(as_voxel_size(voxel_size, 3), depth)
    return UNet(dims=3, depth=depth, base_features=base_features, out_channels=out_channels,
                downsample=factors.downsample, kernel_size=factors.kernel_size,
                padding=padding, seed=seed, **options)


def _per_level(value, count: int, dims: int, name: str) -> list[tuple[int, ...]]:
    """``value`` as ``count`` per-axis tuples: an int, one per-axis tuple, or one per level."""
    def one(v) -> bool:  # a single number, also a numpy one
        return not isinstance(v, (Sequence, torch.Tensor)) and getattr(v, "ndim", 0) == 0

    try:
        flat = one(value) or all(one(v) for v in value)
        given = [value] * count if flat else value
        levels = [(v,) * dims if one(v) else tuple(v) for v in given]
        levels = [tuple(as_number(v, name, integer=True, positive=True) for v in level)
                  for level in levels]
    except (TypeError, ValueError):
        levels = []
    if len(levels) != count or any(len(v) != dims for v in levels):
        raise ValueError(f"{name} must be an int, a tuple of {dims} ints, or {count} such "
                         f"entries (one per level), all >= 1; got {value!r}")
    return levels


def _short(values: Sequence[float]) -> tuple[int | float, ...]:
    """(8.0, 4.5) -> (8, 4.5): whole nm printed without ".0"."""
    return tuple(int(v) if float(v).is_integer() else v for v in values)


def _norm(kind: str | None, features: int, dims: int) -> nn.Module:
    if kind == "batch":
        return (nn.BatchNorm2d, nn.BatchNorm3d)[dims - 2](features)
    if kind == "instance":
        return (nn.InstanceNorm2d, nn.InstanceNorm3d)[dims - 2](features, affine=True)
    if kind == "group":  # the largest group count <= 8 that divides the features
        return nn.GroupNorm(max(g for g in range(1, 9) if features % g == 0), features)
    return nn.Identity()


def _conv_block(n_in: int, n_out: int, kernel: tuple[int, ...], *, dims: int, padding: str,
                norm: str | None, activation: str) -> nn.Sequential:
    """Two (convolution, normalisation, activation) steps."""
    conv = (nn.Conv2d, nn.Conv3d)[dims - 2]
    layers = []
    for features in (n_in, n_out):
        pad = tuple(k // 2 for k in kernel) if padding == "same" else 0
        layers += [conv(features, n_out, kernel, padding=pad, bias=norm is None),
                   _norm(norm, n_out, dims), _ACTIVATIONS[activation]()]
    return nn.Sequential(*layers)


class UNet(nn.Module):
    """A U-Net for 2D ``(b, c, y, x)`` or 3D ``(b, c, z, y, x)`` input.

    Each of the ``depth`` levels has two convolutions; max-pooling goes down a
    level, a transposed convolution with kernel = stride = factor goes up (each
    fine voxel comes from one coarse voxel: no overlap, no checkerboard); the
    encoder features are centre-cropped (valid mode) and concatenated with the
    upsampled ones. A final 1x1 convolution gives ``out_channels``.

    Parameters
    ----------
    in_channels, out_channels : int
    dims : {2, 3}
    depth : int
        Number of resolution levels, the bottom one included.
    base_features, feature_growth : int
        Level ``l`` has ``base_features * feature_growth**l`` features.
    downsample : int, tuple of int, or sequence of ``depth - 1`` of them
        Pooling factors, e.g. ``((1, 2, 2), (1, 2, 2), (2, 2, 2))`` for
        anisotropic data (z first).
    kernel_size : int, tuple of int, or sequence of ``depth`` of them
        E.g. ``((1, 3, 3), (3, 3, 3), (3, 3, 3))``; odd sizes for "same".
    padding : {"valid", "same"}
    norm : {None, "batch", "instance", "group"}
    activation : {"relu", "leaky_relu", "elu", "gelu"}
    final_activation : {None, "sigmoid", "tanh", "softmax"}
    seed : int or torch.Generator, optional
        Initialise the weights from this seed/generator (None: a fresh seed);
        the global torch RNG is never touched.

    Attributes
    ----------
    config : dict
        The constructor arguments but the seed, as plain JSON values:
        ``UNet(**net.config)`` builds the same architecture, and
        :mod:`mbl_seg.checkpoints` compares it when resuming a run.

    Examples
    --------
    >>> net = UNet(dims=2, depth=3, seed=0)
    >>> net.output_shape((92, 92)), net.context
    ((52, 52), (40, 40))
    >>> net(torch.zeros(1, 1, 92, 92)).shape
    torch.Size([1, 1, 52, 52])

    Used in: notebooks/02_deep_boundaries, notebooks/05_3d_unet
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, *, dims: int = 2,
                 depth: int = 3, base_features: int = 16, feature_growth: int = 2,
                 downsample: int | Sequence = 2, kernel_size: int | Sequence = 3,
                 padding: str = "valid", norm: str | None = None,
                 activation: str = "relu", final_activation: str | None = None,
                 seed: int | torch.Generator | None = None):
        super().__init__()
        dims = dims if isinstance(dims, str) else as_number(dims, "dims", integer=True)
        options = dict(dims=dims, padding=padding, norm=norm, activation=activation,
                       final_activation=final_activation)
        for name, value in options.items():
            if value not in _CHOICES[name]:
                raise ValueError(f"{name} must be one of {_CHOICES[name]}, got {value!r}")
        in_channels, out_channels, depth, base_features, feature_growth = (
            as_number(value, name, integer=True, positive=True) for name, value in (
                ("in_channels", in_channels), ("out_channels", out_channels), ("depth", depth),
                ("base_features", base_features), ("feature_growth", feature_growth)))
        self.in_channels, self.out_channels, self.dims, self.depth, self.padding = (
            in_channels, out_channels, dims, depth, padding)
        self.features = [base_features * feature_growth**level for level in range(depth)]
        self.factors = _per_level(downsample, depth - 1, dims, "downsample")
        self.kernels = _per_level(kernel_size, depth, dims, "kernel_size")
        if padding == "same" and any(k % 2 == 0 for kernel in self.kernels for k in kernel):
            raise ValueError(f"padding='same' needs odd kernel sizes, got {self.kernels}")
        # the constructor arguments as plain JSON (all but the seed): UNet(**net.config) is the
        # same architecture, and checkpoints of another one are told apart by them
        self.config = dict(in_channels=in_channels, out_channels=out_channels, depth=depth,
                           base_features=base_features, feature_growth=feature_growth,
                           downsample=[list(f) for f in self.factors],
                           kernel_size=[list(k) for k in self.kernels], **options)
        # torch layers initialise themselves from the global RNG: restore it afterwards
        with torch.random.fork_rng(devices=[]):
            block = dict(dims=dims, padding=padding, norm=norm, activation=activation)
            n_in = [in_channels] + self.features[:-1]
            self.encoder = nn.ModuleList(_conv_block(i, f, k, **block)
                                         for i, f, k in zip(n_in, self.features, self.kernels))
            pool = (nn.MaxPool2d, nn.MaxPool3d)[dims - 2]
            self.pools = nn.ModuleList(pool(f, stride=f) for f in self.factors)
            transposed = (nn.ConvTranspose2d, nn.ConvTranspose3d)[dims - 2]
            self.ups = nn.ModuleList(transposed(n, f, factor, stride=factor) for n, f, factor
                                     in zip(self.features[1:], self.features, self.factors))
            self.decoder = nn.ModuleList(_conv_block(2 * f, f, k, **block)
                                         for f, k in zip(self.features[:-1], self.kernels))
            self.head = (nn.Conv2d, nn.Conv3d)[dims - 2](self.features[0], out_channels, 1)
            self.final = _FINAL[final_activation]()
        self._init_weights(seed)

    @torch.no_grad()
    def _init_weights(self, seed) -> None:
        """He-normal convolutions, zero biases, from a local generator."""
        generator = seed if isinstance(seed, torch.Generator) else torch.Generator()
        if not isinstance(seed, torch.Generator):
            generator.seed() if seed is None else generator.manual_seed(int(seed))
        for module in self.modules():
            if isinstance(module, nn.modules.conv._ConvNd):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu", generator=generator)
                if module.bias is not None:
                    module.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(b, in_channels, *spatial) -> (b, out_channels, *output_shape(spatial))."""
        self._check_input(x)
        skips = []
        for level, block in enumerate(self.encoder):
            x = block(x)
            if level < self.depth - 1:
                skips.append(x)
                x = self.pools[level](x)
        for level in reversed(range(self.depth - 1)):
            x = self.ups[level](x)
            skip = center_crop(skips[level], x.shape[2:])
            # under autocast the two paths may differ in dtype (e.g. after a norm in float32)
            x = self.decoder[level](torch.cat([skip.to(x.dtype), x], dim=1))
        return self.final(self.head(x))

    def _check_input(self, x) -> None:
        names = "(b, c, y, x)" if self.dims == 2 else "(b, c, z, y, x)"
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"input must be a torch.Tensor {names}, got {type(x).__name__}")
        if x.ndim != self.dims + 2:
            raise ValueError(f"a {self.dims}D U-Net takes {names} input, got {tuple(x.shape)}")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"this U-Net takes {self.in_channels} input channel(s), got "
                             f"{x.shape[1]} (input shape {tuple(x.shape)})")
        self.output_shape(tuple(x.shape[2:]))

    # --- shape arithmetic, in plain Python ------------------------------------------------

    def _loss(self, level: int, *, valid: bool | None = None) -> tuple[int, ...]:
        """Voxels the two convolutions of a level remove per axis (0 with 'same' padding)."""
        valid = self.padding == "valid" if valid is None else valid
        return tuple(2 * (k - 1) * valid for k in self.kernels[level])

    def _trace(self, shape: tuple[int, ...]) -> list[tuple[str, int, tuple[int, ...]]]:
        """(stage, features, spatial shape) through the net; ValueError if it does not fit."""
        rows = [("input", self.in_channels, shape)]

        def convs(level, shape):
            shape = tuple(s - d for s, d in zip(shape, self._loss(level)))
            if min(shape) < 1:
                raise ValueError(f"level {level} convolutions leave {shape}")
            kernel = "x".join(map(str, self.kernels[level]))
            rows.append((f"level {level}: 2 convs {kernel}", self.features[level], shape))
            return shape

        for level in range(self.depth - 1):
            shape = convs(level, shape)
            factor = self.factors[level]
            if any(s % f for s, f in zip(shape, factor)):
                raise ValueError(f"{shape} cannot be max-pooled by {factor}")
            shape = tuple(s // f for s, f in zip(shape, factor))
            rows.append((f"max-pool /{factor}", self.features[level], shape))
        shape = convs(self.depth - 1, shape)
        for level in reversed(range(self.depth - 1)):
            shape = tuple(s * f for s, f in zip(shape, self.factors[level]))
            rows.append((f"upsample x{self.factors[level]}", self.features[level], shape))
            rows.append(("crop skip + concatenate", 2 * self.features[level], shape))
            shape = convs(level, shape)
        rows.append(("1x1 conv (output)", self.out_channels, shape))
        return rows

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        """Spatial output shape for a spatial input shape; ValueError if it does not fit.

        >>> UNet(dims=3, downsample=(1, 2, 2), padding="same").output_shape((5, 64, 64))
        (5, 64, 64)
        """
        shape = tuple(int(s) for s in input_shape)
        if len(shape) != self.dims:
            raise ValueError(f"input_shape must be the {self.dims} spatial sizes, got {shape}")
        try:
            return self._trace(shape)[-1][2]
        except ValueError as err:
            reason = str(err)
        if self.padding == "same":
            reason += f"; 'same' padding needs multiples of {self.valid_input_shapes().step}"
        down = self.valid_input_shape(near=shape, round="down", _strict=False)
        up = self.valid_input_shape(near=shape, round="up")
        near = (f"valid shapes near it are {down} and {up}" if down else
                f"the nearest valid shape is {up}, the smallest is {self.valid_input_shape()}")
        raise ValueError(f"input spatial shape {shape} does not fit this U-Net ({reason}): {near}")

    def valid_input_shapes(self) -> ValidShapes:
        """The smallest valid input and the step between valid inputs, per axis.

        Worked backwards from a one-voxel output: undo the decoder (rounding up),
        the bottom convolutions, then the encoder. The step is the product of the
        downsampling factors.

        >>> UNet(dims=2, depth=3).valid_input_shapes()
        ValidShapes(smallest=(44, 44), step=(4, 4))
        """
        smallest = tuple(self._smallest(axis) for axis in range(self.dims))
        step = tuple(math.prod(f[axis] for f in self.factors) for axis in range(self.dims))
        return ValidShapes(smallest, step)

    def _smallest(self, axis: int, *, valid: bool | None = None) -> int:
        need = 1  # one output voxel; walk the net backwards
        for level in range(self.depth - 1):
            loss = self._loss(level, valid=valid)[axis]
            need = math.ceil((need + loss) / self.factors[level][axis])
        need += self._loss(self.depth - 1, valid=valid)[axis]
        for level in reversed(range(self.depth - 1)):
            need = need * self.factors[level][axis] + self._loss(level, valid=valid)[axis]
        return need

    def valid_input_shape(self, near: Sequence[int] | None = None, *, round: str = "nearest",
                          _strict: bool = True) -> tuple[int, ...] | None:
        """The valid input shape nearest to ``near`` (the smallest if None).

        ``round`` is "nearest" (ties go up), "down" (largest valid <= near) or
        "up" (smallest valid >= near).

        >>> UNet(dims=2, depth=3).valid_input_shape(near=(101, 129))
        (100, 128)
        """
        smallest, step = self.valid_input_shapes()
        if near is None:
            return smallest
        if round not in ("nearest", "down", "up") or len(near) != self.dims:
            raise ValueError(f"need {self.dims} sizes and round in nearest/down/up, got "
                             f"near={near!r}, round={round!r}")
        shape = []
        for size, low, stride in zip(near, smallest, step):
            down = low + (size - low) // stride * stride  # largest valid <= size, if >= low
            up = max(low, down if down == size else down + stride)
            if round == "up" or (round == "nearest" and (down < low or up - size <= size - down)):
                shape.append(up)
            elif down >= low:
                shape.append(down)
            elif not _strict:
                return None
            else:
                raise ValueError(f"no valid shape <= {tuple(near)}: the smallest is {smallest}")
        return tuple(shape)

    @property
    def context(self) -> tuple[int, ...]:
        """Input minus output size per axis with valid padding (the same for every input).

        A convolution with kernel ``k`` at a level removes ``k - 1`` voxels of
        that level, i.e. ``k - 1`` times the downsampling factors above it in
        input voxels; levels above the bottom convolve on the way down and up.
        An output tile ``s`` needs the input tile ``s + context``; with 'same'
        padding, outputs within ``context // 2`` of the border see zero padding.
        """
        context = [0] * self.dims
        for axis in range(self.dims):
            scale = 1  # input voxels per voxel of the level
            for level in range(self.depth):
                bottom = level == self.depth - 1
                context[axis] += (1 if bottom else 2) * self._loss(level, valid=True)[axis] * scale
                scale *= 1 if bottom else self.factors[level][axis]
        return tuple(context)

    @property
    def receptive_field(self) -> tuple[int, ...]:
        """Largest extent (voxels, per axis) of the inputs that one output voxel depends on.

        Follows, per axis, the interval of input voxels behind every voxel of
        every stage (convolution: union of ``kernel`` neighbours; pooling: union of
        the pooled voxels; upsampling: the coarse voxel; concatenation: union with
        the cropped skip). It is at least ``context + 1``, and more by less than
        the total downsampling factor, because an upsampled voxel sees its whole
        coarse voxel. With 'same' padding: the same, away from the border.
        """
        return tuple(self._field(axis) for axis in range(self.dims))

    def _field(self, axis: int) -> int:
        kernels = [k[axis] for k in self.kernels]
        factors = [f[axis] for f in self.factors]

        def conv(fields, k):  # fields grow with the index: union of k = first start, last end
            for _ in range(2):
                fields = [(fields[i][0], fields[i + k - 1][1]) for i in range(len(fields) - k + 1)]
            return fields

        # Valid arithmetic even for 'same' nets: away from the border, fields are the same.
        size = self._smallest(axis, valid=True) + 2 * math.prod(factors)
        fields, skips = [(i, i) for i in range(size)], []
        for level, k in enumerate(kernels[:-1]):
            skips.append(conv(fields, k))
            f = factors[level]
            fields = [(skips[-1][f * i][0], skips[-1][f * i + f - 1][1])
                      for i in range(len(skips[-1]) // f)]
        fields = conv(fields, kernels[-1])
        for level in reversed(range(self.depth - 1)):
            fields = [fields[u // factors[level]] for u in range(len(fields) * factors[level])]
            skip = skips[level][(len(skips[level]) - len(fields)) // 2:]
            fields = conv([(min(a[0], b[0]), max(a[1], b[1])) for a, b in zip(fields, skip)],
                          kernels[level])
        return max(hi - lo + 1 for lo, hi in fields)

    # --- the same in nm ---------------------------------------------------------------------

    def level_voxel_sizes(self, voxel_size: Sequence[float]) -> tuple[tuple[float, ...], ...]:
        """Voxel size (nm, z, y, x) on each level: the input's times the pooling above it.

        >>> unet3d((36, 12, 12), seed=0).level_voxel_sizes((36, 12, 12))
        ((36.0, 12.0, 12.0), (36.0, 24.0, 24.0), (72.0, 48.0, 48.0))
        """
        sizes = [as_voxel_size(voxel_size, self.dims)]
        for factor in self.factors:
            sizes.append(tuple(s * f for s, f in zip(sizes[-1], factor)))
        return tuple(sizes)

    def context_nm(self, voxel_size: Sequence[float]) -> tuple[float, ...]:
        """:attr:`context` in nm (z, y, x): how much input beyond the output a pass needs.

        >>> UNet(dims=3, depth=2, seed=0).context_nm((8, 8, 8))
        (128.0, 128.0, 128.0)
        """
        voxel_size = as_voxel_size(voxel_size, self.dims)
        return tuple(float(c * v) for c, v in zip(self.context, voxel_size))

    def receptive_field_nm(self, voxel_size: Sequence[float]) -> tuple[float, ...]:
        """:attr:`receptive_field` in nm (z, y, x): what one output voxel can see.

        >>> UNet(dims=3, depth=2, seed=0).receptive_field_nm((8, 8, 8))
        (144.0, 144.0, 144.0)
        """
        voxel_size = as_voxel_size(voxel_size, self.dims)
        return tuple(float(r * v) for r, v in zip(self.receptive_field, voxel_size))

    def summary(self, input_shape: Sequence[int] | None = None, *,
                voxel_size: Sequence[float] | None = None) -> str:
        """A table of the stages with features and spatial shapes (default: smallest input).

        With ``voxel_size`` (nm), the context, receptive field and the voxel
        size of every level are also given in nm.
        """
        shape = tuple(input_shape) if input_shape is not None else self.valid_input_shape()
        self.output_shape(shape)  # a helpful error first if it does not fit
        n_params = sum(p.numel() for p in self.parameters())
        smallest, step = self.valid_input_shapes()
        lines = [f"UNet {self.dims}D, depth {self.depth}, '{self.padding}' padding, "
                 f"{n_params:,} parameters",
                 f"valid inputs: {smallest} + n * {step}; context {self.context}; "
                 f"receptive field {self.receptive_field}"]
        if voxel_size is not None:
            levels = ", ".join(str(_short(v)) for v in self.level_voxel_sizes(voxel_size))
            lines.append(f"in nm: context {_short(self.context_nm(voxel_size))}; receptive "
                         f"field {_short(self.receptive_field_nm(voxel_size))}; voxel size "
                         f"per level {levels}")
        lines.append(f"{'stage':<34}{'features':>8}  shape")
        lines += [f"{stage:<34}{features:>8}  {s}" for stage, features, s in self._trace(shape)]
        return "\n".join(lines)
