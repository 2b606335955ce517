"""Tests for mbl_seg.train: the loop, exact resume, checkpoint safety, validation, the loss plot."""

import copy
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from mbl_seg import train as tr
from mbl_seg import viz
from mbl_seg.viz._training import _running_mean


@pytest.fixture(autouse=True)
def _one_thread_and_no_figures_left():
    # Tiny convolutions are fastest on one thread, and CI cores are often shared.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    plt.close("all")


class TinyNet(torch.nn.Module):
    """Two 3x3 convolutions with dropout between them (to test reseeding), on (b, 1, y, x)."""

    def __init__(self, features: int = 4, activation=torch.nn.ReLU):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Conv2d(1, features, 3, padding=1), activation(),
            torch.nn.Dropout(0.25), torch.nn.Conv2d(features, 1, 3, padding=1))
        self.modes = []  # self.training at every forward: shows when train / eval is set

    def forward(self, x):
        self.modes.append(self.training)
        return self.layers(x)


def make_model(features: int = 4, activation=torch.nn.ReLU) -> TinyNet:
    # Local fork so that the tests do not seed torch globally either.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return TinyNet(features, activation)


def make_batch(rng: np.random.Generator) -> dict:
    """A learnable toy problem: 16x16 noise, target = pixels brighter than 0.5."""
    raw = rng.random((2, 1, 16, 16), dtype=np.float32)
    return {"raw": raw, "target": (raw > 0.5).astype(np.float32)}


def bce(outputs, batch):
    return torch.nn.functional.binary_cross_entropy_with_logits(outputs, batch["target"])


def run(model=None, **options):
    options = {"iterations": 6, "device": "cpu", "progress": False,
               "optimizer": lambda p: torch.optim.Adam(p, lr=1e-2), **options}
    return tr.train(make_model() if model is None else model, make_batch, bce, **options)


def weights(model) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_same_weights(a: dict, b: dict):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


# --- training --------------------------------------------------------------------------------


def test_loss_decreases_on_a_learnable_problem():
    result = run(iterations=80)
    losses = np.array(result.losses)
    assert losses.shape == (80,) and np.isfinite(losses).all()
    assert losses[-10:].mean() < 0.7 * losses[:10].mean()
    assert result.iterations_done == 80 and result.checkpoint is None and result.seconds > 0


def test_acceptance_resume_equals_uninterrupted_run(tmp_path):
    start = make_model()
    validate = lambda m: {"mean": float(m(torch.ones(1, 1, 4, 4)).mean())}  # noqa: E731
    whole = run(copy.deepcopy(start), iterations=20, validate=validate, validate_every=5)

    path = tmp_path / "run.pt"
    first = run(copy.deepcopy(start), iterations=10, checkpoint=path, validate=validate,
                validate_every=5)
    assert first.iterations_done == 10 and path.is_file()
    resumed = run(make_model(features=4, activation=torch.nn.ReLU), iterations=20,
                  checkpoint=path, validate=validate, validate_every=5)

    assert resumed.losses == whole.losses  # exact, not approximate
    assert resumed.validation == whole.validation
    assert [i for i, _ in resumed.validation] == [5, 10, 15, 20]
    assert_same_weights(weights(resumed.model), weights(whole.model))
    assert torch.load(path, weights_only=True)["iteration"] == 20


def test_dropout_is_reseeded_per_iteration_so_seeds_matter():
    start = make_model()
    a = run(copy.deepcopy(start), seed=3)
    b = run(copy.deepcopy(start), seed=3)
    c = run(copy.deepcopy(start), seed=4)
    assert a.losses == b.losses
    assert a.losses != c.losses


def test_batch_i_is_drawn_from_seed_and_iteration():
    seen = []

    def recording(rng):
        seen.append(rng.integers(1 << 30))
        return make_batch(rng)

    tr.train(make_model(), recording, bce, iterations=4, seed=7, device="cpu", progress=False)
    assert seen == [np.random.default_rng([7, i]).integers(1 << 30) for i in range(4)]


def test_callers_random_state_and_deterministic_flag_are_restored():
    torch.use_deterministic_algorithms(False)
    state = torch.get_rng_state()
    inside = []
    run(validate=lambda m: inside.append(torch.are_deterministic_algorithms_enabled()) or 0.0)
    assert inside and all(inside)
    assert not torch.are_deterministic_algorithms_enabled()
    assert torch.equal(torch.get_rng_state(), state)


def test_batches_become_tensors_of_fixed_dtypes():
    seen = {}

    def batch_of_many_dtypes(rng):
        return {"raw": rng.random((1, 1, 4, 4)),  # float64 -> float32
                "labels": np.ones((1, 1, 4, 4), np.uint64),  # -> int64
                "mask": np.ones((1, 1, 4, 4), bool)[..., ::-1]}  # negative strides are fine

    def loss(outputs, batch):
        seen.update({k: v.dtype for k, v in batch.items()})
        return outputs.mean()

    tr.train(make_model(), batch_of_many_dtypes, loss, iterations=1, device="cpu", progress=False)
    assert seen == {"raw": torch.float32, "labels": torch.int64, "mask": torch.bool}


def test_model_comes_back_in_eval_mode():
    result = run(iterations=2)
    assert not result.model.training
    assert result.model.modes == [True, True]


# --- checkpoints -----------------------------------------------------------------------------


def test_checkpoint_holds_the_whole_run(tmp_path):
    result = run(iterations=np.int64(4), seed=np.int64(5), checkpoint=tmp_path, save_every=2)
    assert result.checkpoint == tmp_path / tr.CHECKPOINT_NAME
    saved = torch.load(result.checkpoint, weights_only=True)
    assert saved["iteration"] == 4 and saved["seed"] == 5 and saved["losses"] == result.losses
    assert saved["config"]["model_class"] == "TinyNet"
    assert {"model", "optimizer", "scaler", "validation"} <= saved.keys()
    assert os.listdir(tmp_path) == [tr.CHECKPOINT_NAME]  # no temporary file left


def test_save_every_and_no_temporary_files(tmp_path, monkeypatch):
    saved_at = []
    real_save = tr._save
    monkeypatch.setattr(tr, "_save", lambda path, *a, **k: (
        saved_at.append(a[3].iteration), real_save(path, *a, **k)))
    run(iterations=7, checkpoint=tmp_path / "c.pt", save_every=3)
    assert saved_at == [3, 6, 7]
    assert os.listdir(tmp_path) == ["c.pt"]


def test_a_failed_save_leaves_the_old_checkpoint_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    run(iterations=2, checkpoint=path)
    before = path.read_bytes()

    def broken_save(obj, file):
        file.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        run(iterations=4, checkpoint=path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.pt"]


@pytest.mark.parametrize("other, match", [
    ({"model": lambda: make_model(features=3)}, "layers.0.weight"),
    ({"model": lambda: make_model(activation=torch.nn.Tanh)}, "layers differ"),
    ({"seed": 1}, "seed 0 there, 1 here"),
    ({"optimizer": lambda p: torch.optim.SGD(p, lr=0.1)}, "optimizer Adam there, SGD here"),
    # a student who changes the learning rate must not get the old run back
    ({"optimizer": lambda p: torch.optim.Adam(p, lr=1e-3)}, "lr 0.01 there, 0.001 here"),
    ({"optimizer": lambda p: torch.optim.Adam(p, lr=1e-2, weight_decay=1e-4)},
     "weight_decay 0 there, 0.0001 here"),
])
def test_a_checkpoint_of_another_run_raises_and_is_left_alone(tmp_path, other, match):
    path = tmp_path / "c.pt"
    run(iterations=2, checkpoint=path)
    before = path.read_bytes()
    options = {k: v for k, v in other.items() if k != "model"}
    model = other["model"]() if "model" in other else make_model()
    with pytest.raises(FileExistsError, match=match) as info:
        run(model, iterations=4, checkpoint=path, **options)
    assert "resume=False, overwrite=True" in str(info.value)
    assert path.read_bytes() == before


def test_resume_false_needs_overwrite_and_overwrite_replaces(tmp_path):
    path = tmp_path / "c.pt"
    run(iterations=2, checkpoint=path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        run(iterations=3, checkpoint=path, resume=False)
    assert path.read_bytes() == before
    with pytest.raises(ValueError, match="contradict"):
        run(iterations=3, checkpoint=path, overwrite=True)
    fresh = run(make_model(features=3), iterations=3, checkpoint=path, resume=False,
                overwrite=True, seed=9)
    saved = torch.load(path, weights_only=True)
    assert saved["iteration"] == 3 and saved["seed"] == 9 and saved["losses"] == fresh.losses
    assert saved["model"]["layers.0.weight"].shape[0] == 3


def test_an_unreadable_file_or_foreign_checkpoint_is_not_overwritten(tmp_path):
    path = tmp_path / "c.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a checkpoint torch can read"):
        run(checkpoint=path)
    assert path.read_bytes() == b"not a checkpoint"
    torch.save(make_model().state_dict(), path)  # weights only: not a run to resume
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="not a checkpoint of mbl_seg.train"):
        run(checkpoint=path)
    assert path.read_bytes() == before


def test_a_finished_checkpoint_is_loaded_without_training(tmp_path, capsys):
    path = tmp_path / "c.pt"
    done = run(iterations=5, checkpoint=path)
    capsys.readouterr()
    calls = []
    result = tr.train(make_model(), lambda rng: calls.append(1), bce, iterations=3, device="cpu",
                      checkpoint=path, optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    assert calls == [] and result.iterations_done == 5 and result.losses == done.losses
    assert_same_weights(weights(result.model), weights(done.model))
    assert "loaded" in capsys.readouterr().out


def test_load_checkpoint_restores_weights_and_optimizer(tmp_path):
    done = run(iterations=3, checkpoint=tmp_path)
    model = make_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    info = tr.load_checkpoint(tmp_path, model, opt)
    assert_same_weights(weights(model), weights(done.model))
    assert not model.training and info["iteration"] == 3 and opt.state_dict()["state"]
    with pytest.raises(ValueError, match="does not fit this model"):
        tr.load_checkpoint(tmp_path, make_model(features=2))
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        tr.load_checkpoint(tmp_path / "missing.pt", model)


def test_load_checkpoint_takes_a_bare_state_dict(tmp_path):
    source = make_model(features=2)
    torch.save(source.state_dict(), tmp_path / "weights.pth")
    target = make_model()  # 4 features: must not fit
    with pytest.raises(ValueError, match="layers.0.weight is"):
        tr.load_checkpoint(tmp_path / "weights.pth", target)
    target = TinyNet(2)
    tr.load_checkpoint(tmp_path / "weights.pth", target)
    assert_same_weights(weights(target), weights(source))


# --- validation and progress -----------------------------------------------------------------


def test_validate_runs_at_the_right_iterations_in_eval_mode():
    calls = []

    def validate(model):
        calls.append((model.training, torch.is_grad_enabled()))
        return 0.5

    model = make_model()
    result = run(model, iterations=10, validate=validate, validate_every=3)
    assert [i for i, _ in result.validation] == [3, 6, 9, 10]
    assert all(m == {"validation": 0.5} for _, m in result.validation)
    assert calls == [(False, False)] * 4
    assert model.modes == [True] * 10  # back in train mode after each validation


def test_default_validation_is_ten_times_per_run():
    result = run(iterations=20, validate=lambda m: {"a": 1, "b": 2.5})
    assert [i for i, _ in result.validation] == list(range(2, 21, 2))
    assert result.validation[0][1] == {"a": 1.0, "b": 2.5}


def test_progress_false_prints_nothing(tmp_path, capsys):
    run(iterations=3, checkpoint=tmp_path / "c.pt", validate=lambda m: 1.0)
    run(iterations=5, checkpoint=tmp_path / "c.pt", validate=lambda m: 1.0)  # a resume, too
    assert capsys.readouterr() == ("", "")


def test_progress_bar_shows_loss_and_validation(capsys):
    run(iterations=3, progress=True, validate=lambda m: {"voi": 1.25})
    err = capsys.readouterr().err
    assert "training" in err and "loss=" in err and "voi=1.25" in err


# --- the loss plot ---------------------------------------------------------------------------


def test_plot_losses_renders_results_dicts_and_lists(tmp_path):
    result = run(iterations=40, validate=lambda m: {"voi": 1.0, "arand": 0.2})
    ax = viz.plot_losses(result)
    ax.figure.canvas.draw()
    assert ax.get_yscale() == "log" and len(ax.figure.axes) == 2
    assert len(ax.lines) == 2  # raw and running mean (window 40 // 20 = 2)
    assert len(ax.figure.axes[1].lines) == 2  # one line per metric
    run(iterations=3, checkpoint=tmp_path)
    ax = viz.plot_losses(tr.load_checkpoint(tmp_path, make_model()), smooth=0)
    assert len(ax.lines) == 1 and len(ax.figure.axes) == 1
    ax = viz.plot_losses(np.array([0.5, -0.5, 0.1]))
    assert ax.get_yscale() == "linear"  # negative losses: no log scale
    fig, own = plt.subplots()
    assert viz.plot_losses([1.0, 0.5], ax=own) is own


def test_running_mean_matches_a_loop():
    values = np.random.default_rng(0).random(17)
    for window in (1, 3, 17, 40):
        expected = [values[max(0, i + 1 - window): i + 1].mean() for i in range(values.size)]
        np.testing.assert_allclose(_running_mean(values, window), expected)


@pytest.mark.parametrize("args, error, match", [
    (([],), ValueError, "non-empty"),
    (("abc",), TypeError, "plot_losses needs"),
    (({"validation": []},), ValueError, "'losses' entry"),
    (([1.0], {"validation": [(1, "x")]}), TypeError, "validation must be"),
    (([1.0], {"smooth": -1}), ValueError, "smooth must be"),
])
def test_plot_losses_bad_arguments(args, error, match):
    losses, *options = args
    with pytest.raises(error, match=match):
        viz.plot_losses(losses, **(options[0] if options else {}))


# --- bad arguments ---------------------------------------------------------------------------


@pytest.mark.parametrize("options, error, match", [
    ({"iterations": 0}, ValueError, "iterations must be a positive int"),
    ({"iterations": 2.5}, ValueError, "iterations must be a positive int"),
    ({"iterations": True}, ValueError, "iterations must be a positive int"),
    ({"seed": -1}, ValueError, "seed must be an int >= 0"),
    ({"save_every": 0}, ValueError, "save_every must be a positive int"),
    ({"validate_every": -2}, ValueError, "validate_every must be"),
    ({"amp": True}, ValueError, "needs a CUDA device"),
    ({"device": "tpu"}, ValueError, "device must be"),
    ({"checkpoint": 123}, TypeError, "checkpoint must be a file or folder path"),
    ({"validate": "voi"}, TypeError, "validate must be a function"),
    ({"validate": lambda m: "good"}, TypeError, "validate must return a number"),
    ({"optimizer": "adam"}, TypeError, "optimizer must be a factory"),
    ({"optimizer": lambda p: None}, TypeError, "returned NoneType"),
    ({"input_key": "image"}, ValueError, "no 'image' entry"),
    ({"prefetch": -1}, ValueError, "prefetch must be an int >= 0"),
    ({"prefetch": 1.5}, ValueError, "prefetch must be an int >= 0"),
])
def test_bad_options_raise_clear_errors(options, error, match):
    with pytest.raises(error, match=match):
        run(**options)


def test_an_optimizer_instance_is_refused_with_the_factory_hint():
    model = make_model()
    with pytest.raises(TypeError, match="lambda params"):
        run(model, optimizer=torch.optim.Adam(model.parameters()))


@pytest.mark.parametrize("batch_fn, loss_fn, error, match", [
    (lambda rng: [1, 2], bce, TypeError, "must return a dict of arrays"),
    (lambda rng: {"raw": [[1.0]]}, bce, TypeError, "'raw' must be a numeric numpy array"),
    (lambda rng: {"raw": np.array(["a"])}, bce, TypeError, "numeric numpy array"),
    (make_batch, lambda out, b: 0.5, TypeError, "scalar torch tensor"),
    (make_batch, lambda out, b: out, TypeError, "scalar torch tensor"),
    (make_batch, lambda out, b: out.sum() * float("nan"), FloatingPointError, "iteration 1"),
    ("batches", bce, TypeError, "make_batch must be a function"),
])
def test_bad_batches_and_losses_raise_clear_errors(batch_fn, loss_fn, error, match):
    with pytest.raises(error, match=match):
        tr.train(make_model(), batch_fn, loss_fn, iterations=2, device="cpu", progress=False)


def test_model_must_be_a_module_with_parameters():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        tr.train(lambda x: x, make_batch, bce, iterations=1, device="cpu")
    with pytest.raises(ValueError, match="no trainable parameters"):
        tr.train(torch.nn.ReLU(), make_batch, bce, iterations=1, device="cpu")


def test_mixed_precision_path_with_gradient_scaler_resumes(tmp_path, monkeypatch):
    # No GPU in CI: force the AMP branch on CPU (bfloat16 autocast + a CPU GradScaler).
    monkeypatch.setattr(tr, "use_amp", lambda amp, device: True)
    whole = run(iterations=4)
    run(iterations=2, checkpoint=tmp_path)
    assert torch.load(tmp_path / tr.CHECKPOINT_NAME, weights_only=True)["scaler"]["scale"] > 0
    resumed = run(iterations=4, checkpoint=tmp_path)
    assert resumed.losses == whole.losses and np.isfinite(whole.losses).all()


def test_a_checkpoint_of_other_batches_or_data_raises(tmp_path):
    from mbl_seg.pipeline import batch_maker

    rng = np.random.default_rng(0)
    raw = rng.integers(0, 255, (2, 24, 24)).astype(np.uint8)
    labels = rng.integers(1, 3, (2, 24, 24)).astype(np.uint64)

    def batches(raw=raw, **options):
        options = {"patch_shape": (16, 16), "batch_size": 2, "voxel_size": (40, 4, 4), **options}
        return batch_maker(raw, labels, targets={"target": lambda l: l > 1}, **options)

    path = tmp_path / "c.pt"
    options = {"iterations": 2, "device": "cpu", "progress": False, "checkpoint": path}
    tr.train(make_model(), batches(), bce, **options)
    tr.train(make_model(), batches(), bce, **{**options, "iterations": 3})  # same run: resumes
    before = path.read_bytes()
    for other, match in ((batches(batch_size=3), "batch_size 2 there, 3 here"),
                         (batches(patch_shape=(8, 8)), r"patch_shape \[16, 16\] there"),
                         (batches(raw=raw[::-1].copy()), "training data differ")):
        with pytest.raises(FileExistsError, match=match):
            tr.train(make_model(), other, bce, **{**options, "iterations": 4})
        assert path.read_bytes() == before


# --- batches made ahead, losses read back in blocks ------------------------------------------


def _batch_threads() -> list:
    import threading

    return [t for t in threading.enumerate() if t.name == "mbl_seg-batches" and t.is_alive()]


def test_prefetching_gives_the_same_run_as_making_batches_in_line(tmp_path):
    start = make_model()
    validate = lambda m: float(m(torch.ones(1, 1, 4, 4)).mean())  # noqa: E731
    runs = [run(copy.deepcopy(start), iterations=12, prefetch=ahead, validate=validate,
                validate_every=4) for ahead in (0, 1, 2, 5)]
    # and a run stopped after 8 iterations, resumed with another prefetch depth
    run(copy.deepcopy(start), iterations=8, prefetch=0, checkpoint=tmp_path, validate=validate,
        validate_every=4)
    runs.append(run(copy.deepcopy(start), iterations=12, prefetch=3, checkpoint=tmp_path,
                    validate=validate, validate_every=4))
    for other in runs[1:]:
        assert other.losses == runs[0].losses
        assert other.validation == runs[0].validation
        assert_same_weights(weights(other.model), weights(runs[0].model))


def test_batches_are_made_ahead_on_a_background_thread_in_order():
    import threading

    seen = []

    def recording(rng):
        seen.append((threading.current_thread().name, rng.integers(1 << 30)))
        return make_batch(rng)

    for ahead in (0, 2):
        seen.clear()
        tr.train(make_model(), recording, bce, iterations=5, seed=7, device="cpu",
                 progress=False, prefetch=ahead)
        names = {name for name, _ in seen}
        assert names == ({"mbl_seg-batches"} if ahead else {threading.current_thread().name})
        assert [draw for _, draw in seen] == [
            np.random.default_rng([7, i]).integers(1 << 30) for i in range(5)]
    assert not _batch_threads()


@pytest.mark.parametrize("ahead", [0, 2])
def test_an_error_in_make_batch_comes_at_its_iteration_with_its_message(tmp_path, ahead):
    def failing(rng, calls=[]):  # noqa: B006 - counts the calls of this test
        calls.append(1)
        if len(calls) == 4:
            raise ValueError("patch 4 does not fit")
        return make_batch(rng)

    path = tmp_path / "c.pt"
    with pytest.raises(ValueError) as info:
        tr.train(make_model(), failing, bce, iterations=8, device="cpu", progress=False,
                 checkpoint=path, save_every=1, prefetch=ahead)
    assert str(info.value) == "patch 4 does not fit"  # the original error, message untouched
    assert torch.load(path, weights_only=True)["iteration"] == 3  # iterations 1-3 were done
    assert not _batch_threads()


def test_stopping_a_run_stops_the_batch_thread():
    import time

    def interrupted(outputs, batch, calls=[]):  # noqa: B006
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the notebook's stop button
        return bce(outputs, batch)

    def slow(rng):
        time.sleep(0.05)
        return make_batch(rng)

    for batches in (make_batch, slow):  # the thread waits on a full queue / inside make_batch
        started = time.perf_counter()
        with pytest.raises(KeyboardInterrupt):
            tr.train(make_model(), batches, interrupted, iterations=50, device="cpu",
                     progress=False, prefetch=2)
        assert time.perf_counter() - started < 5
        assert not _batch_threads()
        interrupted.__defaults__[0].clear()


def test_data_wait_counts_the_time_the_loop_waits_for_batches():
    import time

    def slow(rng):
        time.sleep(0.02)
        return make_batch(rng)

    inline = tr.train(make_model(), slow, bce, iterations=5, device="cpu", progress=False,
                      prefetch=0)
    assert 5 * 0.02 <= inline.data_wait < inline.seconds
    ahead = run(iterations=5)
    assert 0 <= ahead.data_wait < ahead.seconds


class _Watched(torch.Tensor):
    """A tensor that records every read of its value back to Python."""

    reads = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.__float__):
            cls.reads.append(func.__name__)
        return super().__torch_function__(func, types, args, kwargs or {})


def test_on_a_gpu_losses_are_read_back_every_few_iterations(monkeypatch):
    # No GPU in CI: take the GPU's schedule on CPU, and count the reads of the losses.
    monkeypatch.setattr(tr, "_loss_reads", lambda device: 4)
    _Watched.reads = []
    watched = lambda out, batch: bce(out, batch).as_subclass(_Watched)  # noqa: E731
    start = make_model()
    result = tr.train(copy.deepcopy(start), make_batch, watched, iterations=10, device="cpu",
                      progress=False, optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    assert len(_Watched.reads) == 3  # after iterations 4, 8 and 10: not after each step
    assert result.losses == run(copy.deepcopy(start), iterations=10).losses


def test_a_loss_read_late_still_names_the_iteration_it_went_wrong(monkeypatch):
    monkeypatch.setattr(tr, "_loss_reads", lambda device: 4)

    def nan_at_6(outputs, batch, calls=[]):  # noqa: B006
        calls.append(1)
        loss = bce(outputs, batch)
        return loss * float("nan") if len(calls) == 6 else loss

    with pytest.raises(FloatingPointError, match="iteration 6"):
        tr.train(make_model(), make_batch, nan_at_6, iterations=10, device="cpu",
                 progress=False)


def test_batches_for_a_gpu_are_pinned(monkeypatch):
    pinned = []

    def pin_memory(self):
        pinned.append(self.dtype)
        return self

    monkeypatch.setattr(torch.Tensor, "pin_memory", pin_memory)  # pinning needs CUDA
    batch = tr._host_batch(make_batch, np.random.default_rng(0), "raw", pin=True)
    assert set(batch) == {"raw", "target"} and pinned == [torch.float32, torch.float32]
    tr._host_batch(make_batch, np.random.default_rng(0), "raw", pin=False)
    assert len(pinned) == 2


def test_cudnn_picks_its_fastest_convolutions_unless_deterministic(monkeypatch):
    import contextlib

    monkeypatch.setattr(torch.random, "fork_rng", lambda **kw: contextlib.nullcontext())
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    with tr._reproducible("cuda", deterministic=False):
        assert torch.backends.cudnn.benchmark
    assert not torch.backends.cudnn.benchmark
    with tr._reproducible("cuda", deterministic=True):
        assert not torch.backends.cudnn.benchmark
    with tr._reproducible("cpu", deterministic=False):
        assert not torch.backends.cudnn.benchmark


def test_a_resumed_run_knows_how_long_it_trained_in_all(tmp_path, monkeypatch):
    # a clock that moves 1 s per reading: the seconds come from the runs, not the machine
    now = iter(range(10**6))
    monkeypatch.setattr(tr.time, "perf_counter", lambda: float(next(now)))
    path = tmp_path / "run.pt"
    first = run(make_model(), iterations=4, checkpoint=path, save_every=2)
    saved = torch.load(path, weights_only=True)["seconds"]
    assert first.seconds_total == saved > 0
    resumed = run(make_model(), iterations=8, checkpoint=path, save_every=2)
    assert resumed.seconds_total > saved  # the first call's time and this call's
    assert resumed.seconds_total == pytest.approx(saved + resumed.seconds, abs=2)
    assert torch.load(path, weights_only=True)["seconds"] == resumed.seconds_total
