import numpy as np
import pytest

from mbl_seg import io


def test_zarr_roundtrip_keeps_voxel_size_and_offset(tmp_path):
    raw = np.random.default_rng(0).integers(0, 255, (4, 8, 8), dtype=np.uint8)
    io.write_volume(tmp_path / "v.zarr", "a/raw", raw, voxel_size=(40, 4, 4), offset=(80, 0, 4))
    vol = io.read_volume(tmp_path / "v.zarr", "a/raw")
    np.testing.assert_array_equal(vol.data, raw)
    assert vol.voxel_size == (40.0, 4.0, 4.0)
    assert vol.offset == (80.0, 0.0, 4.0)


def test_ome_metadata_and_dimension_names(tmp_path):
    import zarr

    affs = np.zeros((3, 2, 4, 4), np.float32)
    io.write_volume(tmp_path / "v.zarr", "affs", affs, voxel_size=(8, 8, 8))
    arr = zarr.open_group(str(tmp_path / "v.zarr"))["affs"]
    assert arr.metadata.dimension_names == ("c", "z", "y", "x")
    ome = arr.attrs["ome"]["multiscales"][0]
    assert [a["name"] for a in ome["axes"]] == ["c", "z", "y", "x"]
    assert ome["datasets"][0]["coordinateTransformations"][0]["scale"] == [1.0, 8.0, 8.0, 8.0]


def test_existing_array_is_not_overwritten(tmp_path):
    io.write_volume(tmp_path / "v.zarr", "raw", np.ones((2, 2, 2), np.uint8), voxel_size=8)
    with pytest.raises(FileExistsError):
        io.write_volume(tmp_path / "v.zarr", "raw", np.zeros((2, 2, 2), np.uint8), voxel_size=8)
    assert io.read_volume(tmp_path / "v.zarr", "raw").data.min() == 1
    io.write_volume(tmp_path / "v.zarr", "raw", np.zeros((2, 2, 2), np.uint8), voxel_size=8,
                    overwrite=True)
    assert io.read_volume(tmp_path / "v.zarr", "raw").data.max() == 0


@pytest.mark.parametrize("voxel_size", [(8, 8), (0, 8, 8), (-4, 4, 4), "8nm"])
def test_bad_voxel_size(tmp_path, voxel_size):
    with pytest.raises((ValueError, TypeError), match="voxel_size"):
        io.write_volume(tmp_path / "v.zarr", "raw", np.zeros((2, 2, 2), np.uint8),
                        voxel_size=voxel_size)


def test_missing_array_and_missing_voxel_size(tmp_path):
    import zarr

    with pytest.raises(FileNotFoundError):
        io.read_volume(tmp_path / "nothing.zarr", "raw")
    g = zarr.open_group(str(tmp_path / "bare.zarr"), mode="a")
    g.create_array("raw", shape=(2, 2, 2), dtype="uint8")
    with pytest.raises(ValueError, match="voxel_size"):
        io.read_volume(tmp_path / "bare.zarr", "raw")


def _write_cremi(path, labels_dtype=np.uint64):
    import h5py

    raw = np.arange(2 * 6 * 6, dtype=np.uint8).reshape(2, 6, 6)
    labels = np.ones((2, 6, 6), labels_dtype)
    labels[:, :, 3:] = 2
    labels[0, 0, 0] = np.iinfo(labels_dtype).max - 2  # CREMI's "no label"
    with h5py.File(path, "w") as f:
        f["volumes/raw"] = raw
        f["volumes/raw"].attrs["resolution"] = (40.0, 4.0, 4.0)
        f["volumes/labels/neuron_ids"] = labels
        f["volumes/labels/neuron_ids"].attrs["resolution"] = (40.0, 4.0, 4.0)
        f["volumes/labels/neuron_ids"].attrs["offset"] = (0.0, 0.0, 0.0)
    return raw, labels


def test_read_cremi(tmp_path):
    raw, labels = _write_cremi(tmp_path / "sample.hdf")
    r, lab = io.read_cremi(tmp_path / "sample.hdf", background_ids=(2**64 - 3,))
    np.testing.assert_array_equal(r.data, raw)
    assert r.voxel_size == (40.0, 4.0, 4.0)
    assert lab.data.dtype == np.uint64 and lab.data[0, 0, 0] == 0
    assert set(np.unique(lab.data)) == {0, 1, 2}


def test_read_cremi_errors(tmp_path):
    _write_cremi(tmp_path / "sample.hdf")
    with pytest.raises(KeyError, match="volumes/raw"):
        io.read_cremi(tmp_path / "sample.hdf", raw="volumes/image")
    with pytest.raises(FileNotFoundError):
        io.read_cremi(tmp_path / "missing.hdf")


@pytest.mark.parametrize("offset, error, words", [
    ((np.nan, 0, 0), ValueError, "offset entries must be finite nm"),
    ((0, np.inf, 0), ValueError, "offset entries must be finite nm"),
    ((0, 0), ValueError, r"offset must have one entry per axis \(3, order z, y, x\)"),
    ("origin", TypeError, "offset must be a sequence of 3 numbers in nm"),
])
def test_bad_offset(tmp_path, offset, error, words):
    with pytest.raises(error, match=words):
        io.write_volume(tmp_path / "v.zarr", "raw", np.zeros((2, 2, 2), np.uint8),
                        voxel_size=8, offset=offset)
    assert not (tmp_path / "v.zarr").exists()  # nothing written before the check


def test_offset_and_voxel_size_may_be_one_number_or_a_0d_array(tmp_path):
    io.write_volume(tmp_path / "v.zarr", "raw", np.zeros((2, 2, 2), np.uint8),
                    voxel_size=np.array(8.0), offset=np.float32(-16))
    vol = io.read_volume(tmp_path / "v.zarr", "raw")
    assert vol.voxel_size == (8.0, 8.0, 8.0) and vol.offset == (-16.0, -16.0, -16.0)


def test_a_zarr_array_has_the_checksum_of_its_numpy_copy(tmp_path):
    import zarr

    from mbl_seg.io import checksum

    data = np.random.default_rng(0).integers(0, 256, (13, 20, 20), dtype=np.uint8)
    array = zarr.create_array(tmp_path / "a.zarr", shape=data.shape, dtype="uint8",
                              chunks=(4, 8, 8))
    array[...] = data
    assert checksum(array) == checksum(data) != checksum(data[::-1])


def test_read_sections_stacks_a_folder_of_images_in_number_order(tmp_path):
    from skimage.io import imsave

    from mbl_seg.io import read_sections

    rng = np.random.default_rng(0)
    sections = rng.integers(0, 256, (12, 16, 20), dtype=np.uint8)
    for z, section in enumerate(sections):
        suffix = ".png" if z % 2 else ".tif"
        imsave(tmp_path / f"slice_{z}{suffix}", section, check_contrast=False)
    (tmp_path / "notes.txt").write_text("not an image")
    volume = read_sections(tmp_path, voxel_size=(40, 4, 4))
    assert np.array_equal(volume.data, sections)  # slice_2 before slice_10
    assert volume.voxel_size == (40.0, 4.0, 4.0)
    files = [tmp_path / f"slice_{z}{'.png' if z % 2 else '.tif'}" for z in (3, 1)]
    assert np.array_equal(read_sections(files, voxel_size=(40, 4, 4)).data, sections[[3, 1]])


def test_read_sections_explains_what_it_cannot_use(tmp_path):
    from skimage.io import imsave

    from mbl_seg.io import read_sections

    with pytest.raises(TypeError, match="voxel_size"):
        read_sections(tmp_path, voxel_size=None)
    with pytest.raises(FileNotFoundError, match="no .tif, .tiff or .png files"):
        read_sections(tmp_path, voxel_size=(40, 4, 4))
    imsave(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8), check_contrast=False)
    with pytest.raises(ValueError, match="one grey-value section"):
        read_sections(tmp_path, voxel_size=(40, 4, 4))
    (tmp_path / "a.png").unlink()
    imsave(tmp_path / "a.png", np.zeros((8, 8), np.uint8), check_contrast=False)
    imsave(tmp_path / "b.png", np.zeros((8, 9), np.uint8), check_contrast=False)
    with pytest.raises(ValueError, match="must be the same size"):
        read_sections(tmp_path, voxel_size=(40, 4, 4))
