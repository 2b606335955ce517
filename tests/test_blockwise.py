"""The block-wise pipeline on daisy: the same result as one process, resumable, private."""

import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from mbl_seg import blockwise, evaluate
from mbl_seg.agglomeration import agglomerate
from mbl_seg.data.synthetic import synthetic_volume
from mbl_seg.rag import region_graph

SHAPE, BLOCK = (24, 128, 128), (12, 64, 64)  # 8 blocks
SETTINGS = {"block_shape": BLOCK, "threshold": 0.55, "min_size": 100, "progress": False}


@pytest.fixture(scope="module")
def volume():
    return synthetic_volume(SHAPE, "fly", seed=9)


@pytest.fixture(scope="module")
def finished(volume, tmp_path_factory):
    """One uninterrupted run with two worker processes, and the single-process pipeline."""
    directory = tmp_path_factory.mktemp("blockwise") / "run"
    run = blockwise.run(volume.raw, directory, voxel_size=volume.voxel_size, workers=2,
                        **SETTINGS)
    reference = blockwise.single_process(volume.raw, voxel_size=volume.voxel_size,
                                         threshold=0.55, min_size=100, device="cpu")
    return run, reference


def _same_partition(a, b) -> bool:
    table = evaluate.contingency_table(a, b)
    return (len(np.unique(table.gt_ids)) == len(table.gt_ids)
            and len(np.unique(table.seg_ids)) == len(table.seg_ids))


def test_predictions_equal_one_pass_over_the_volume(finished):
    run, reference = finished
    np.testing.assert_allclose(run.array("affs")[...], reference["affs"], atol=1e-5)


def test_fragment_ids_are_unique_to_their_block(finished):
    run, _ = finished
    frags = run.array("fragments")[...]
    grid = blockwise.BlockGrid(SHAPE, BLOCK)
    seen = set()
    for b in range(len(grid)):
        ids = np.unique(frags[grid.slices(b)])
        assert ids.min() > b * grid.id_stride and ids.max() <= (b + 1) * grid.id_stride
        assert not seen & set(ids.tolist())
        seen |= set(ids.tolist())


def test_the_stored_graph_equals_the_graph_of_the_whole_volume(finished):
    """Edges across block faces included: every contact counted exactly once."""
    run, _ = finished
    stored = run.db.region_graph()
    whole = region_graph(run.array("affs")[...], run.array("fragments")[...], bins=None)
    assert stored.edges.tolist() == whole.edges.tolist()
    assert stored.contacts.tolist() == whole.contacts.tolist()
    np.testing.assert_allclose(stored.affinity_sum, whole.affinity_sum, rtol=1e-9)
    assert stored.sizes == whole.sizes


def test_segmentation_is_notebook_07s_agglomeration_of_the_same_fragments(finished):
    run, _ = finished
    affs, frags = run.array("affs")[...], run.array("fragments")[...]
    expected = next(agglomerate(affs, frags, thresholds=[0.55]))
    assert _same_partition(run.segmentation(), expected)


def test_difference_to_the_single_process_pipeline_is_small_and_at_block_faces(finished, volume):
    """Fragments are made per block, so they differ near block faces; after agglomeration
    the two segmentations are close, and equally good against the ground truth."""
    run, reference = finished
    seg = run.segmentation()
    between = evaluate.voi(seg, reference["segmentation"])
    assert between.split + between.merge < 0.35, between
    ours = evaluate.voi(volume.labels, seg)
    theirs = evaluate.voi(volume.labels, reference["segmentation"])
    assert abs((ours.split + ours.merge) - (theirs.split + theirs.merge)) < 0.25, (ours, theirs)


def test_block_log_says_who_did_what(finished):
    run, _ = finished
    rows = {t.task: t for t in blockwise.throughput(run.blocks())}
    assert list(rows) == ["predict", "fragments", "edges", "agglomerate", "relabel"]
    for task in ("predict", "fragments", "edges", "relabel"):
        assert rows[task].blocks == 8 and rows[task].voxels == int(np.prod(SHAPE))
        assert rows[task].voxels_per_s > 0
    assert len(rows["predict"].per_worker) == 2  # two worker processes shared the blocks


def test_a_second_call_skips_every_finished_block(finished, volume):
    run, _ = finished
    again = blockwise.run(volume.raw, run.directory, voxel_size=volume.voxel_size, workers=2,
                          **SETTINGS)
    assert again.blocks() == []
    assert np.array_equal(again.segmentation(), run.segmentation())


def test_a_new_threshold_redoes_only_agglomeration_and_relabelling(finished, volume):
    run, _ = finished
    other = blockwise.run(volume.raw, run.directory, voxel_size=volume.voxel_size, workers=1,
                          **{**SETTINGS, "threshold": 0.3})
    assert {r.task for r in other.blocks()} == {"agglomerate", "relabel"}
    expected = next(agglomerate(run.array("affs")[...], run.array("fragments")[...],
                                thresholds=[0.3]))
    assert _same_partition(other.segmentation(), expected)
    assert np.array_equal(run.segmentation(), run.array(run.segmentation_name)[...])  # kept


def test_other_settings_in_the_same_directory_are_refused(finished, volume):
    run, _ = finished
    with pytest.raises(ValueError, match="other settings.*min_size"):
        blockwise.run(volume.raw, run.directory, voxel_size=volume.voxel_size,
                      **{**SETTINGS, "min_size": 50})


_SCRIPT = """
import sys
from mbl_seg import blockwise
from mbl_seg.data.synthetic import synthetic_volume
vol = synthetic_volume({shape}, "fly", seed=9)
blockwise.run(vol.raw, sys.argv[1], voxel_size=vol.voxel_size, workers=2, **{settings})
"""


def _non_loopback_address():
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.123", 9))  # no packet is sent: this only picks a route
            address = s.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


def _listening_addresses(port: int) -> list[str]:
    addresses = []
    with open("/proc/net/tcp") as table:
        lines = table.read().splitlines()[1:]
    for line in lines:
        local, state = line.split()[1], line.split()[3]
        host, p = local.split(":")
        if state == "0A" and int(p, 16) == port:
            addresses.append(socket.inet_ntoa(bytes.fromhex(host)[::-1]))
    return addresses


def _daisy_port(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            env = environ.read().split(b"\0")
    except OSError:
        return None
    for item in env:
        if item.startswith(b"DAISY_CONTEXT="):
            for kv in item.decode().split("=", 1)[1].split(":"):
                if kv.startswith("port="):
                    return int(kv[5:])
    return None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")
def test_killed_half_way_a_run_resumes_redoing_only_unfinished_blocks(finished, volume,
                                                                        tmp_path):
    """Kill the whole run (server and workers) after a few blocks, start it again: the result
    equals the uninterrupted run, and only blocks not finished the first time are done again.
    While it runs, the daisy server listens on 127.0.0.1 only."""
    run, _ = finished
    directory = tmp_path / "run"
    script = _SCRIPT.format(shape=SHAPE, settings=SETTINGS)
    process = subprocess.Popen([sys.executable, "-c", script, str(directory)],
                               start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    listening, refused = None, None
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            time.sleep(0.2)
            if not (directory / "run.sqlite").exists():
                continue
            log = blockwise.RunLog(directory / "run.sqlite").block_log()
            if listening is None and log:
                port = _daisy_port(log[0].pid)
                if port:
                    listening = _listening_addresses(port)
                    address = _non_loopback_address()
                    if address:
                        with socket.socket() as s:
                            s.settimeout(2)
                            refused = s.connect_ex((address, port)) != 0
            if sum(r.task == "fragments" for r in log) >= 2:
                break
        else:
            pytest.fail("the first run did not get to its fragments in 4 minutes")
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert listening == ["127.0.0.1"], f"daisy listens on {listening}"
    if refused is not None:
        assert refused, "the daisy server was reachable on a non-loopback address"

    first = {(r.task, r.block) for r in blockwise.RunLog(directory / "run.sqlite").block_log()}
    assert ("relabel_" not in str(first)) and len(first) < 8 * 4 + 1
    resumed = blockwise.run(volume.raw, directory, voxel_size=volume.voxel_size, workers=2,
                            **SETTINGS)
    second = {(r.task, r.block) for r in resumed.blocks()}
    everything = {(t, b) for t in ("predict", "fragments", "edges", "relabel") for b in range(8)}
    everything.add(("agglomerate", 0))
    assert first | second == everything  # nothing is missing
    # done twice: at most the blocks in flight when the run was killed (finished but not yet
    # reported to the server), one per worker of each running task
    assert len(first & second) <= 4, sorted(first & second)
    assert len(second) < len(everything)
    assert np.array_equal(resumed.array("affs")[...], run.array("affs")[...])
    assert np.array_equal(resumed.array("fragments")[...], run.array("fragments")[...])
    assert np.array_equal(resumed.segmentation(), run.segmentation())


@pytest.mark.parametrize("change,error,words", [
    ({"block_shape": (10, 64, 64)}, ValueError, "multiple"),
    ({"block_shape": (12, 64)}, ValueError, "3 ints"),
    ({"workers": 0}, ValueError, "workers"),
    ({"stages": "predict"}, ValueError, "stages"),
    ({"scoring": "max"}, ValueError, "scoring"),
    ({"network": "02_boundaries2d_fly"}, ValueError, "3D network"),
])
def test_bad_settings_are_explained(volume, tmp_path, change, error, words):
    with pytest.raises(error, match=words):
        blockwise.run(volume.raw, tmp_path / "run", voxel_size=volume.voxel_size,
                      **{**SETTINGS, **change})


def test_bad_raw_and_voxel_size_are_explained(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        blockwise.run(np.zeros((8, 8, 8), np.float32), tmp_path, voxel_size=(8, 8, 8))
    with pytest.raises(TypeError, match="numpy"):
        blockwise.run([[0]], tmp_path, voxel_size=(8, 8, 8))
    with pytest.raises((TypeError, ValueError), match="voxel_size"):
        blockwise.run(np.zeros((8, 8, 8), np.uint8), tmp_path, voxel_size=None)
