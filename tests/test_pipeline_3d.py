"""Tests for the 3D training data pipeline: sources, augmentations, targets, loader, resume."""

import pickle
import subprocess
import sys

import numpy as np
import pytest

from mbl_seg.pipeline import (
    STAGES, Affinities, Elastic, Intensity, MirrorTranspose, MissingSections, Pipeline, Sample,
    ShiftedSections, Source, StageTimes, displacement_field,
)

VS = (40.0, 8.0, 8.0)  # nm (z, y, x): serial sections


def _blocks(shape=(8, 32, 32), block=(2, 8, 8), seed=0) -> np.ndarray:
    """Labels: boxes of ``block`` voxels with random ids 1..50."""
    rng = np.random.default_rng(seed)
    grid = rng.integers(1, 51, size=[-(-n // b) for n, b in zip(shape, block)])
    for axis, b in enumerate(block):
        grid = np.repeat(grid, b, axis=axis)
    return grid[tuple(slice(0, n) for n in shape)].astype(np.uint64)


def _lut(labels: np.ndarray) -> np.ndarray:
    """Raw that encodes the labels: a grey value per id (float32 in [0, 1])."""
    return ((labels * 37 % 251) / 255.0).astype(np.float32)


def _sample(raw, labels, voxel_size=VS, known=None) -> Sample:
    known = np.ones(labels.shape, bool) if known is None else known
    return Sample(raw.astype(np.float32), labels.astype(np.uint64), known, tuple(voxel_size))


def _coordinate_sample(shape, axis: int, voxel_size=VS) -> Sample:
    """raw = the coordinate along ``axis`` scaled to [0, 1], labels = that coordinate + 1."""
    coord = np.indices(shape)[axis]
    return _sample(coord / (shape[axis] - 1), coord + 1, voxel_size)


# --- augmentations keep raw and labels aligned ----------------------------------------------


def test_elastic_with_zero_displacement_is_the_identity():
    labels = _blocks()
    sample = _sample(_lut(labels) + np.float32(0.001), labels)
    out = Elastic(sigma=0)(sample, np.random.default_rng(0))
    np.testing.assert_array_equal(out.raw, sample.raw)
    np.testing.assert_array_equal(out.labels, sample.labels)
    assert out.known.all() and Elastic(sigma=0).margin(VS) == (0, 0, 0)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_elastic_moves_raw_and_labels_together(axis):
    # raw is the coordinate (linear interpolation of it is exact: the sampled position),
    # labels the coordinate + 1 taken from the nearest voxel: they differ by <= 1/2 voxel
    elastic = Elastic(spacing=64, sigma=(40, 16, 16))
    margin = elastic.margin(VS)
    shape = (6 + 2 * margin[0], 24 + 2 * margin[1], 24 + 2 * margin[2])
    sample = _coordinate_sample(shape, axis)
    moved = 0
    for seed in range(4):
        out = elastic(sample, np.random.default_rng(seed))
        assert out.shape == (6, 24, 24)
        position = out.raw * (shape[axis] - 1)
        nearest = out.labels.astype(float) - 1
        assert np.abs(position - nearest).max() <= 0.5 + 1e-4
        undeformed = np.indices(out.shape)[axis] + margin[axis]
        moved = max(moved, np.abs(position - undeformed).max())
    assert moved > 0.2  # it did deform, by up to 3 sigma
    assert moved <= margin[axis] + 1e-4


def test_elastic_keeps_block_labels_and_their_grey_values_together():
    labels = _blocks((12, 48, 48), (3, 12, 12))
    out = Elastic(spacing=80, sigma=(0, 16, 16))(_sample(_lut(labels), labels),
                                                 np.random.default_rng(3))
    agree = np.isclose(out.raw, _lut(out.labels), atol=1e-5)
    assert agree.mean() > 0.75  # only voxels next to a block edge mix grey values
    shifted = np.roll(out.labels, 3, axis=2)  # the check would see labels off by 3 voxels
    assert np.isclose(out.raw, _lut(shifted), atol=1e-5).mean() < agree.mean() - 0.1


def test_elastic_is_smooth_in_nm_whatever_the_voxel_size():
    # the same 256 nm at 8 nm and at 4 nm per voxel: the same field in nm where voxels coincide
    coarse = displacement_field((3, 33, 33), voxel_size=(40, 8, 8), spacing=64,
                                sigma=(0, 12, 12), rng=np.random.default_rng(5))
    fine = displacement_field((3, 65, 65), voxel_size=(40, 4, 4), spacing=64,
                              sigma=(0, 12, 12), rng=np.random.default_rng(5))
    np.testing.assert_allclose(coarse[1:] * 8, fine[1:, :, ::2, ::2] * 4, atol=1e-4)
    assert not coarse[0].any()  # sigma 0 along z: sections stay sections
    assert np.abs(np.diff(fine[1], axis=2)).max() * 4 < 12  # nm between neighbours: smooth


def test_elastic_by_default_bends_serial_sections_in_plane_only():
    assert Elastic().sigma_for((36, 12, 12)) == (0.0, 16.0, 16.0)
    assert Elastic().sigma_for((8, 8, 8)) == (16.0, 16.0, 16.0)
    sample = _coordinate_sample((5, 30, 30), 0, voxel_size=(36, 12, 12))
    out = Elastic()(sample, np.random.default_rng(0))
    np.testing.assert_array_equal(out.labels[:, 0, 0], np.arange(1, 6))  # no section blended
    np.testing.assert_allclose(out.raw * 4, np.indices(out.shape)[0], atol=1e-6)


def test_mirror_transpose_keeps_alignment_and_only_exchanges_alike_axes():
    labels = _blocks((4, 4, 4), (1, 2, 1))
    z_planes = set()
    for seed in range(24):
        out = MirrorTranspose()(_sample(_lut(labels), labels), np.random.default_rng(seed))
        np.testing.assert_array_equal(out.raw, _lut(out.labels))
        z_planes.add(tuple(sorted(np.unique(out.labels[0]).tolist())))
    # 40 nm z is never exchanged with 8 nm y/x: the first plane is one of the two z ends
    ends = {tuple(sorted(np.unique(labels[i]).tolist())) for i in (0, -1)}
    assert z_planes <= ends
    iso = _coordinate_sample((4, 4, 4), 0, voxel_size=(8, 8, 8))
    swapped = [MirrorTranspose(mirror=False)(iso, np.random.default_rng(s)) for s in range(24)]
    assert any(np.ptp(s.raw[0]) > 0 for s in swapped)  # isotropic: z goes elsewhere too


def test_shifted_sections_move_raw_labels_and_mask_together_and_pad_unknown():
    labels = _blocks((6, 16, 16), (1, 4, 4))
    out = ShiftedSections(probability=0.5, max_shift=32)(_sample(_lut(labels), labels, VS),
                                                          np.random.default_rng(2))
    np.testing.assert_array_equal(out.raw[out.known], _lut(out.labels)[out.known])
    assert not out.known.all() and (out.labels[~out.known] == 0).all()
    moved = [z for z in range(6) if not np.array_equal(out.labels[z], labels[z])]
    assert moved and all(not out.known[z].all() for z in moved)


def test_missing_sections_blank_raw_and_keep_the_ground_truth():
    labels = _blocks((20, 8, 8), (1, 4, 4))
    sample = _sample(_lut(labels), labels)
    out = MissingSections(probability=0.3, value=0.5)(sample, np.random.default_rng(0))
    blank = [z for z in range(20) if (out.raw[z] == 0.5).all()]
    assert 0 < len(blank) < 20
    np.testing.assert_array_equal(out.labels, labels)
    assert out.known.all()


def test_intensity_changes_only_raw():
    labels = _blocks()
    sample = _sample(_lut(labels), labels)
    out = Intensity()(sample, np.random.default_rng(0))
    assert out.raw.dtype == np.float32 and not np.array_equal(out.raw, sample.raw)
    assert out.labels is sample.labels and out.known is sample.known


# --- the pipeline ---------------------------------------------------------------------------


def _source(shape=(12, 48, 48), **options) -> Source:
    labels = _blocks(shape, (2, 8, 8))
    return Source((_lut(labels) * 255).astype(np.uint8), labels, voxel_size=VS, **options)


def test_a_sample_has_aligned_raw_labels_targets_and_masks():
    pipe = Pipeline(_source(), patch_shape=(4, 16, 16),
                    augment=[Elastic(spacing=80, sigma=(0, 12, 12)), MirrorTranspose(),
                             ShiftedSections(probability=0.3, max_shift=24)])
    for index in range(4):
        sample = pipe.sample(index, seed=3)
        assert {k: v.shape for k, v in sample.items()} == {
            "raw": (1, 4, 16, 16), "labels": (1, 4, 16, 16), "mask": (1, 4, 16, 16),
            "affs": (3, 4, 16, 16), "affs_mask": (3, 4, 16, 16)}
        raw, labels, known = sample["raw"][0], sample["labels"][0], sample["mask"][0] > 0
        agree = np.isclose(raw, np.round(_lut(labels) * 255) / 255, atol=1e-5)
        assert agree[known].mean() > 0.6  # 8-voxel blocks: a quarter of voxels at an edge
        same_x = (labels[:, :, 1:] == labels[:, :, :-1]) & (labels[:, :, 1:] > 0)
        np.testing.assert_array_equal(sample["affs"][2][:, :, 1:], same_x)
        assert (sample["affs_mask"][:, ~known] == 0).all()


def test_the_same_sample_from_the_same_seed_and_index_only():
    pipe = Pipeline(_source(), patch_shape=(4, 16, 16),
                    augment=[Elastic(spacing=80, sigma=(0, 12, 12)), MirrorTranspose(),
                             Intensity()])
    a, b, c = pipe.sample(7, seed=1), pipe.sample(7, seed=1), pipe.sample(8, seed=1)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["raw"], c["raw"])


def test_rejection_sampling_honours_the_minimum_labelled_fraction():
    labels = _blocks((8, 32, 64), (2, 8, 8))
    labels[:, :, 16:] = 0  # a quarter of the volume is labelled
    source = Source(np.zeros(labels.shape, np.uint8), labels, voxel_size=VS)

    def fractions(**options):
        pipe = Pipeline(source, patch_shape=(4, 8, 8), targets=Affinities(), **options)
        return [float((pipe.sample(i)["labels"] > 0).mean()) for i in range(40)]

    assert min(fractions(min_labelled=0.9, max_tries=100)) >= 0.9
    assert min(fractions(min_labelled=0.0)) < 0.9  # without it, mostly-empty patches come
    # an impossible fraction: bounded tries, then the best patch found
    best = fractions(min_labelled=1.0, max_tries=3)
    assert len(best) == 40


def test_the_mask_is_zero_where_the_labels_are_unknown():
    labels = _blocks((8, 32, 32), (2, 8, 8))
    mask = np.ones(labels.shape, bool)
    mask[:, :, :16] = False  # not annotated
    source = Source(_lut(labels), labels, voxel_size=VS, mask=mask)
    sample = source.read((-2, 0, 8), (8, 16, 16))  # two sections before the volume
    assert not sample.known[:2].any() and (sample.labels[:2] == 0).all()
    assert not sample.known[:, :, :8].any() and sample.known[2:, :, 8:].all()
    pipe = Pipeline(source, patch_shape=(4, 16, 16), min_labelled=0.0,
                    augment=[ShiftedSections(probability=1.0, max_shift=40)])
    out = pipe.sample(0)
    assert out["mask"].min() == 0 and out["affs_mask"].min() == 0
    unknown = out["mask"][0] == 0
    assert (out["affs_mask"][:, unknown] == 0).all()
    assert (out["affs_mask"][0, 0] == 0).all()  # z edges leaving the patch
    background = Affinities(zero_is_unknown=True)
    zero = _sample(_lut(labels), np.where(labels > 25, labels, 0))
    assert (background(zero)["affs_mask"][:, zero.labels == 0] == 0).all()
    assert Affinities()(zero)["affs_mask"][:, 1:, 1:, 1:].all()


def test_transforms_targets_and_pipelines_pickle():
    steps = [Elastic(spacing=(80, 64, 64), sigma=(0, 8, 8)), MirrorTranspose(mirror=False),
             Intensity(gamma=(1, 1)), MissingSections(0.2), ShiftedSections(0.1, 16),
             Affinities([(-1, 0, 0), (0, -2, 0)], zero_is_unknown=True)]
    for step in steps:
        assert pickle.loads(pickle.dumps(step)) == step
    pipe = Pipeline(_source(), patch_shape=(4, 16, 16), augment=steps[:5], targets=steps[5])
    again = pickle.loads(pickle.dumps(pipe))
    a, b = pipe.sample(2, seed=4), again.sample(2, seed=4)
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_sources_read_zarr_and_cremi_hdf5_with_their_voxel_size(tmp_path):
    import h5py

    from mbl_seg import io

    labels = _blocks((6, 20, 20), (2, 5, 5))
    raw = (_lut(labels) * 255).astype(np.uint8)
    path = tmp_path / "vol.zarr"
    io.write_volume(path, "raw", raw, voxel_size=VS, offset=(400, 80, 80))
    io.write_volume(path, "labels", labels[1:, 2:, 2:], voxel_size=VS, offset=(440, 96, 96))
    io.write_volume(path, "mask", np.ones((5, 18, 18), np.uint8), voxel_size=VS,
                    offset=(440, 96, 96))
    source = Source.from_zarr(path, raw="raw", labels="labels", mask="mask")
    assert source.voxel_size == VS and source.labels_start == (1, 2, 2)
    assert source.labelled_box == ((1, 2, 2), (6, 20, 20))
    sample = source.read((1, 2, 2), (4, 8, 8))
    np.testing.assert_array_equal(sample.labels, labels[1:5, 2:10, 2:10])
    np.testing.assert_array_equal(sample.raw, raw[1:5, 2:10, 2:10] / np.float32(255))
    assert Source.from_zarr(path, raw="raw", labels="labels").read((0, 0, 0), (2, 4, 4)) \
        .known.sum() == 1 * 2 * 2  # labels start one section and two voxels in

    h5 = tmp_path / "sample_A.hdf"
    with h5py.File(h5, "w") as f:
        f["volumes/raw"] = raw
        f["volumes/raw"].attrs["resolution"] = VS
        f["volumes/labels/neuron_ids"] = labels
        f["volumes/labels/neuron_ids"].attrs["resolution"] = VS
    cremi = Source.from_cremi(h5)
    assert cremi.voxel_size == VS
    np.testing.assert_array_equal(cremi.read((0, 0, 0), (6, 20, 20)).labels, labels)
    assert Pipeline(cremi, patch_shape=(2, 8, 8)).sample(0)["raw"].shape == (1, 2, 8, 8)


def test_a_course_dataset_is_a_source():
    from mbl_seg.data import CourseDataset

    labels = _blocks()
    dataset = CourseDataset("toy", (_lut(labels) * 255).astype(np.uint8), labels,
                            np.zeros(labels.shape, bool), VS, (0.0, 0.0, 0.0))
    pipe = Pipeline(dataset, patch_shape=(4, 16, 16))
    assert pipe.voxel_size == VS and pipe.sources[0].name == "toy"


@pytest.mark.parametrize("make, error, match", [
    (lambda: Pipeline(_source(), patch_shape=(4, 64, 16)), ValueError, "does not fit"),
    (lambda: Pipeline(_source(), patch_shape=(4, 16)), ValueError, "patch_shape"),
    (lambda: Pipeline(_source(), patch_shape=(4, 16, 16), augment=[MirrorTranspose(),
                                                                   Elastic()]),
     ValueError, "put it first"),
    (lambda: Pipeline([_source(), Source(np.zeros((4, 32, 32), np.uint8),
                                         np.ones((4, 32, 32), np.uint64), voxel_size=8)],
                      patch_shape=(2, 8, 8)), ValueError, "same voxel size"),
    (lambda: Pipeline(_source(), patch_shape=(4, 16, 16), min_labelled=2), ValueError,
     "fraction"),
    (lambda: Pipeline(_source(), patch_shape=(4, 16, 16), augment=[lambda s: s, 3]),
     TypeError, "callables"),
    (lambda: Source(np.zeros((8, 8), np.uint8), np.ones((8, 8), np.uint64), voxel_size=8),
     ValueError, "raw must be a non-empty"),
    (lambda: Source(np.zeros((2, 8, 8)), np.ones((2, 8, 8), np.float32), voxel_size=8),
     TypeError, "labels must be integer ids"),
    (lambda: Source(np.zeros((2, 8, 8), np.uint8), np.ones((2, 8, 8), np.uint64)),
     TypeError, "voxel_size"),
    (lambda: Source(np.zeros((2, 8, 8), np.uint8), np.ones((2, 8, 8), np.uint64),
                    voxel_size=8, labels_offset=(0, 4, 0)), ValueError, "voxel grid"),
    (lambda: Elastic(sigma=-1), ValueError, "sigma must be >= 0"),
    (lambda: Elastic(spacing=0), ValueError, "spacing"),
    (lambda: Intensity(gamma=(2, 1)), ValueError, "low <= high"),
    (lambda: MissingSections(probability=1.5), ValueError, r"\[0, 1\]"),
    (lambda: ShiftedSections(max_shift=0), ValueError, "max_shift"),
    (lambda: Affinities([(0, 0)]), ValueError, "3 ints"),
])
def test_bad_inputs_raise_clear_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_stage_times_add_up_per_batch_and_print_as_a_table():
    times = StageTimes()
    pipe = Pipeline(_source(), patch_shape=(4, 16, 16),
                    augment=[Elastic(spacing=80, sigma=(0, 8, 8)), Intensity()])
    for index in range(3):
        ms = np.zeros(len(STAGES))
        pipe.sample(index, times=ms)
        times.add(ms)
    means = times.mean_ms()
    assert times.batches == 3 and all(means[s] > 0 for s in ("sampling", "elastic",
                                                                 "intensity", "targets"))
    assert means["mirror/transpose"] == 0
    assert "elastic" in str(times) and "total" in times.table()


def test_importing_the_pipeline_does_not_import_torch():
    code = ("import sys, mbl_seg.pipeline as p\n"
            "assert callable(p.batch_maker) and callable(p.augment)\n"
            "print('torch' in sys.modules)\n"
            "p.BatchSource\nprint('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", "True"]


# --- the DataLoader side (torch) ------------------------------------------------------------


@pytest.fixture
def torch_one_thread():
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


def _pipeline() -> Pipeline:
    return Pipeline(_source(), patch_shape=(4, 16, 16),
                    augment=[Elastic(spacing=80, sigma=(0, 8, 8)), MirrorTranspose(),
                             Intensity(), MissingSections(0.1)])


def test_the_same_seed_gives_the_same_batches_with_0_and_2_workers(torch_one_thread):
    from mbl_seg.pipeline import BatchSource, make_loader

    runs = [list(make_loader(_pipeline(), seed=5, batch_size=2, start=1, stop=4,
                             num_workers=workers, pin_memory=False)) for workers in (0, 2)]
    packed = list(BatchSource(_pipeline(), batch_size=2, num_workers=2).batches(5, 1, 4))
    for a, b, c in zip(*runs, packed):
        assert set(a) == set(b) == set(c) | {"stage_ms"}
        for key in c:
            assert a[key].dtype == b[key].dtype == c[key].dtype
            assert torch_one_thread.equal(a[key], b[key]) and torch_one_thread.equal(a[key], c[key])
    assert runs[0][0]["labels"].dtype == torch_one_thread.int64
    assert len(runs[0]) == 3 and tuple(runs[0][0]["raw"].shape) == (2, 1, 4, 16, 16)
    # batch i of a run starting at 0 is batch i of a run starting at 1
    whole = list(make_loader(_pipeline(), seed=5, batch_size=2, stop=2, num_workers=0))
    assert torch_one_thread.equal(whole[1]["raw"], runs[0][0]["raw"])


def test_pack_unpack_gives_what_collate_gives(torch_one_thread):
    from mbl_seg.pipeline import collate, pack, unpack

    pipe = _pipeline()
    samples = [pipe.sample(i) for i in range(2)]
    samples[1]["labels"][0, 0, 0, 0] = 2**40  # does not fit int32: travels as int64
    plain, packed = collate(samples), pack(samples)
    assert packed[0]["affs"].dtype == torch_one_thread.uint8
    assert packed[0]["labels"].dtype == torch_one_thread.int64
    for key, value in unpack(packed).items():
        assert value.dtype == plain[key].dtype and torch_one_thread.equal(value, plain[key])


def test_training_on_the_pipeline_resumes_exactly(tmp_path, torch_one_thread):
    torch = torch_one_thread
    from mbl_seg.pipeline import BatchSource
    from mbl_seg.train import train

    def model():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return torch.nn.Sequential(torch.nn.Conv3d(1, 4, 3, padding=1), torch.nn.ReLU(),
                                       torch.nn.Conv3d(4, 3, 1))

    options = {"device": "cpu", "progress": False, "seed": 3,
               "optimizer": lambda p: torch.optim.Adam(p, lr=1e-2)}
    source = BatchSource(_pipeline(), batch_size=2, num_workers=2)
    whole = train(model(), source, _affinity_loss, iterations=4, **options)
    train(model(), BatchSource(_pipeline(), batch_size=2, num_workers=0), _affinity_loss,
          iterations=2, checkpoint=tmp_path, **options)
    resumed = train(model(), source, _affinity_loss, iterations=4, checkpoint=tmp_path,
                    **options)
    assert resumed.losses == whole.losses and len(whole.losses) == 4
    for a, b in zip(whole.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)
    assert source.profile.batches == 2 and source.profile.mean_ms()["elastic"] > 0
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["config"]["batches"]
    assert saved["batch_size"] == 2 and saved["patch_shape"] == [4, 16, 16]
    assert saved["augment"][0] == {"name": "Elastic", "spacing": [80.0, 80.0, 80.0],
                                   "sigma": [0.0, 8.0, 8.0]}
    assert saved["targets"][0]["offsets"] == [[-1, 0, 0], [0, -1, 0], [0, 0, -1]]
    other = BatchSource(Pipeline(_source(), patch_shape=(4, 8, 8)), batch_size=2,
                        num_workers=0)
    with pytest.raises(FileExistsError, match="patch_shape"):
        train(model(), other, _affinity_loss, iterations=6, checkpoint=tmp_path, **options)


def _affinity_loss(logits, batch):
    import torch

    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, batch["affs"],
                                                                reduction="none")
    return (loss * batch["affs_mask"]).sum() / batch["affs_mask"].sum()


def test_show_batch_draws_tensors_and_numpy(torch_one_thread):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mbl_seg.pipeline import BatchSource
    from mbl_seg.viz import show_batch

    batch = next(BatchSource(_pipeline(), batch_size=2, num_workers=0).batches(0, 0, 1))
    fig = show_batch(batch, voxel_size=VS, index=1)
    assert len(fig.axes) == 3 * 5  # 3 sections x raw, labels, affs, mask, affs_mask
    plt.close(fig)
    fig = show_batch(_pipeline().sample(0), voxel_size=VS, z=2)
    assert len(fig.axes) == 5
    plt.close(fig)
    with pytest.raises(ValueError, match="outside"):
        show_batch(batch, voxel_size=VS, z=9)


def test_stopping_a_run_stops_the_loader_workers(torch_one_thread):
    import multiprocessing
    import threading

    from mbl_seg.pipeline import BatchSource
    from mbl_seg.train import train

    def interrupted(logits, batch, calls=[]):  # noqa: B006 - counts the calls of this test
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the notebook's stop button
        return _affinity_loss(logits, batch)

    net = torch_one_thread.nn.Conv3d(1, 3, 1)
    for prefetch in (0, 2):
        interrupted.__defaults__[0].clear()
        with pytest.raises(KeyboardInterrupt):
            train(net, BatchSource(_pipeline(), num_workers=2), interrupted, iterations=50,
                  device="cpu", progress=False, prefetch=prefetch)
        assert not multiprocessing.active_children()
        assert not [t for t in threading.enumerate() if t.name == "mbl_seg-batches"]


# --- LSD targets -------------------------------------------------------------------------------


def test_lsd_step_gives_the_descriptors_of_the_sample_and_masks_cut_windows():
    from mbl_seg.pipeline import LSDs
    from mbl_seg.targets import lsds

    labels = _blocks((8, 32, 32), block=(4, 8, 8))
    known = np.ones(labels.shape, bool)
    known[:, :, :3] = False  # padded by an augmentation
    sample = _sample(_lut(labels), labels, voxel_size=(20.0, 8.0, 8.0), known=known)
    step = LSDs(sigma=16.0, downsample=1)
    out = step(sample)
    np.testing.assert_array_equal(out["lsds"], lsds(labels, sigma=16.0,
                                                    voxel_size=(20.0, 8.0, 8.0)))
    mask = out["lsds_mask"][0]
    assert out["lsds_mask"].shape == (1, 8, 32, 32) and out["lsds_mask"].dtype == np.float32
    # 2 sigma = 32 nm: 1 section in z, 4 voxels in y and x from any unknown voxel or edge
    expected = np.zeros(labels.shape, bool)
    expected[1:-1, 4:-4, 3 + 4:-4] = True
    np.testing.assert_array_equal(mask.astype(bool), expected)
    assert pickle.loads(pickle.dumps(step)) == step  # DataLoader workers can take it


def test_lsd_and_affinity_targets_together_in_a_pipeline():
    from mbl_seg.pipeline import LSDs

    labels = _blocks((12, 48, 48), block=(3, 12, 12))
    pipe = Pipeline(Source(_lut(labels), labels, voxel_size=VS), patch_shape=(8, 32, 32),
                    augment=[MirrorTranspose()], targets=[Affinities(), LSDs(sigma=40.0)])
    sample = pipe.sample(0, seed=1)
    assert sample["affs"].shape == (3, 8, 32, 32) and sample["lsds"].shape == (10, 8, 32, 32)
    assert 0 <= sample["lsds"].min() and sample["lsds"].max() <= 1
    assert pipe.config["targets"][1]["sigma"] == 40.0


@pytest.mark.parametrize("kwargs", [dict(sigma=0), dict(downsample=1.5), dict(reach=-1),
                                    dict(key="")])
def test_lsd_step_refuses_bad_settings(kwargs):
    from mbl_seg.pipeline import LSDs

    with pytest.raises((TypeError, ValueError)):
        LSDs(**kwargs)


def test_mirrored_z_adds_mirror_images_beyond_both_ends_and_keeps_the_world_grid():
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 255, (5, 6, 7), dtype=np.uint8)
    labels = rng.integers(1, 4, (5, 6, 7)).astype(np.uint64)
    mask = rng.random((5, 6, 7)) < 0.8
    source = Source(raw, labels, voxel_size=(40, 8, 8), offset=(400, 0, 8), mask=mask)
    out = source.mirrored_z(3)
    assert out.raw.shape == out.labels.shape == out.mask.shape == (11, 6, 7)
    for array, original in ((out.raw, raw), (out.labels, labels), (out.mask, mask)):
        np.testing.assert_array_equal(array[3:8], original)
        np.testing.assert_array_equal(array[:3], original[2::-1])  # 2 1 0 | 0 1 2 3 4
        np.testing.assert_array_equal(array[8:], original[:1:-1])  # 4 3 2
    assert out.offset == (280.0, 0.0, 8.0)  # the first original section stays at z = 400 nm
    assert source.mirrored_z(0).raw.shape == raw.shape
    partial = Source(raw, labels[1:], voxel_size=(40, 8, 8), labels_offset=(40, 0, 0))
    with pytest.raises(ValueError, match="labels covering raw exactly"):
        partial.mirrored_z(2)
    with pytest.raises(ValueError, match=">= 0"):
        source.mirrored_z(-1)
