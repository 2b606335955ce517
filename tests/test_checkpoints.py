"""Tests for mbl_seg.checkpoints: a checkpoint is resumed only by the same run (loss included)."""

import functools
import sys

import numpy as np
import pytest
import torch

from mbl_seg import checkpoints as ck
from mbl_seg.train import train


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class Net(torch.nn.Module):
    """A 1x1 convolution that keeps its constructor arguments, as `config`."""

    def __init__(self, features: int = 1, bias: bool = True):
        super().__init__()
        self.config = {"features": features, "bias": bias}
        self.conv = torch.nn.Conv2d(1, 1, 1, bias=bias)

    def forward(self, x):
        return self.conv(x)


def make_batch(rng):
    raw = rng.random((2, 1, 4, 4), dtype=np.float32)
    return {"raw": raw, "target": (raw > 0.5).astype(np.float32)}


def bce(outputs, batch):
    return torch.nn.functional.binary_cross_entropy_with_logits(outputs, batch["target"])


def mse(outputs, batch):
    return torch.nn.functional.mse_loss(outputs, batch["target"])


def weighted(outputs, batch, *, weight=1.0):
    return weight * bce(outputs, batch)


def _part(outputs, batch):  # read by `combined`: changing it changes `combined`
    return bce(outputs, batch)


def combined(outputs, batch):
    return _part(outputs, batch) + 0.1 * mse(outputs, batch)


def run(loss=bce, model=None, **options):
    options = {"iterations": 2, "device": "cpu", "progress": False, **options}
    return train(model or Net(), make_batch, loss, **options)


def refused(path, loss, match, **options):
    """Resuming ``path`` with ``loss`` raises naming the difference; the file is unchanged."""
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match=match) as info:
        run(loss, iterations=4, checkpoint=path, **options)
    assert "resume=False, overwrite=True" in str(info.value)
    assert path.read_bytes() == before


def test_another_loss_function_is_refused_by_name(tmp_path):
    path = tmp_path / "c.pt"
    run(bce, checkpoint=path)
    refused(path, mse, "trained with the loss 'bce', this run uses 'mse'")
    assert run(bce, iterations=3, checkpoint=path).iterations_done == 3  # the same loss resumes


def cell(source: str):
    """Run ``source`` as a notebook cell would (module ``__main__``); return its ``loss``."""
    namespace = {"__name__": "__main__", "bce": bce, "mse": mse}
    exec(source, namespace)
    return namespace["loss"]


def test_a_loss_changed_under_the_same_name_is_refused(tmp_path):
    path = tmp_path / "c.pt"
    run(cell("def loss(outputs, batch):\n    return bce(outputs, batch)\n"), checkpoint=path)
    # the student edits the cell: same name, another computation
    changed = cell("def loss(outputs, batch):\n    return bce(outputs, batch) + 0.5\n")
    refused(path, changed, "the loss 'loss' was changed since")
    # running the cell again, or editing only its comments, keeps the run
    again = cell("def loss(outputs, batch):\n    # the boundary loss\n"
                 "    return bce(outputs, batch)\n")
    assert run(again, iterations=3, checkpoint=path).iterations_done == 3


def test_the_same_computation_under_another_name_resumes(tmp_path):
    # notebook 03 continues notebook 02's run, whose `loss_fn` it writes as a lambda
    path = tmp_path / "c.pt"

    def loss_fn(logits, batch):
        """A docstring and other argument names change nothing."""
        return weighted(logits, batch, weight=0.5)

    run(loss_fn, checkpoint=path)
    refused(path, lambda out, b: weighted(out, b, weight=0.25),
            "trained with the loss '.*loss_fn', this run uses '.*<lambda>'")
    again = run(lambda out, b: weighted(out, b, weight=0.5), iterations=3, checkpoint=path)
    assert again.iterations_done == 3


@pytest.mark.parametrize("other, match", [
    (functools.partial(weighted, weight=2.0), r"'partial\(weighted, weight=2.0\)'"),
    (functools.partial(weighted), r"'partial\(weighted\)'"),
])
def test_partial_arguments_are_part_of_the_loss(tmp_path, other, match):
    path = tmp_path / "c.pt"
    run(functools.partial(weighted, weight=0.5), checkpoint=path)
    refused(path, other, match)
    assert run(functools.partial(weighted, weight=0.5), iterations=3,
               checkpoint=path).iterations_done == 3


def test_closure_values_and_functions_of_the_same_module_are_part_of_the_loss(tmp_path,
                                                                                monkeypatch):
    def scaled(factor):
        return lambda out, batch: factor * bce(out, batch)

    path = tmp_path / "c.pt"
    run(scaled(1.0), checkpoint=path)
    refused(path, scaled(3.0), "the loss '.*<lambda>' was changed since")

    path = tmp_path / "d.pt"
    run(combined, checkpoint=path)
    monkeypatch.setattr(sys.modules[__name__], "_part", lambda out, batch: mse(out, batch))
    refused(path, combined, "the loss 'combined' was changed since")


def test_a_loss_that_uses_the_trained_network_resumes_after_training(tmp_path):
    # its weights change with every step; the loss is the same
    model = Net()

    def regularised(outputs, batch, net=model):
        return bce(outputs, batch) + 1e-3 * net.conv.weight.pow(2).sum()

    path = tmp_path / "c.pt"
    run(regularised, model=model, checkpoint=path)
    assert run(regularised, model=model, iterations=3, checkpoint=path).iterations_done == 3


def test_model_settings_are_compared_when_the_model_keeps_them(tmp_path):
    path = tmp_path / "c.pt"
    run(model=Net(bias=True), checkpoint=path)
    other = Net(bias=True)
    other.config = {"features": 2, "bias": True}  # same layers, other settings
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="model features 1 there, 2 here"):
        run(model=other, iterations=4, checkpoint=path)
    assert path.read_bytes() == before


def test_model_settings_without_a_stable_text_compare_by_type(tmp_path):
    path = tmp_path / "c.pt"
    model = Net()
    model.config = {"features": 1, "seed": torch.Generator()}  # repr holds an address
    run(model=model, checkpoint=path)
    again = Net()
    again.config = {"features": 1, "seed": torch.Generator()}
    assert run(model=again, iterations=3, checkpoint=path).iterations_done == 3


def test_the_seed_is_part_of_the_run(tmp_path):
    path = tmp_path / "c.pt"
    run(checkpoint=path, seed=3)
    refused(path, bce, "seed 3 there, 0 here")


@pytest.mark.parametrize("drop", ["loss", "model_settings"])
def test_checkpoints_of_an_older_mbl_seg_resume_with_the_missing_field_unknown(tmp_path, drop):
    path = tmp_path / "c.pt"
    run(bce, checkpoint=path)
    saved = torch.load(path, weights_only=True)
    del saved["config"][drop]  # as written before the field was recorded
    torch.save(saved, path)
    other = mse if drop == "loss" else bce
    model = Net()
    model.config = {"features": 5, "bias": True} if drop == "model_settings" else model.config
    result = run(other, model=model, iterations=4, checkpoint=path)
    assert result.iterations_done == 4 and result.losses[:2] == saved["losses"]
    assert torch.load(path, weights_only=True)["config"][drop]  # recorded from now on


def test_under_another_python_the_loss_is_compared_by_name(tmp_path):
    path = tmp_path / "c.pt"
    run(bce, checkpoint=path)
    saved = torch.load(path, weights_only=True)
    saved["config"]["loss"].update(python="2.7", fingerprint="compiled elsewhere")
    torch.save(saved, path)
    refused(path, mse, "trained with the loss 'bce', this run uses 'mse'")
    assert run(bce, iterations=3, checkpoint=path).iterations_done == 3


def test_identity_names_and_fingerprints():
    same = ck._identity(bce)
    assert same == ck._identity(bce) and same["name"] == "bce"
    assert same["fingerprint"] != ck._identity(mse)["fingerprint"]
    assert ck._identity(functools.partial(weighted, weight=2))["name"] == (
        "partial(weighted, weight=2)")

    class Loss:
        def __init__(self, weight):
            self.weight = torch.tensor([weight])

        def __call__(self, outputs, batch):
            return self.weight * bce(outputs, batch)

    assert ck._identity(Loss(1.0))["name"].endswith("<locals>.Loss()")
    assert ck._identity(Loss(1.0))["fingerprint"] == ck._identity(Loss(1.0))["fingerprint"]
    assert ck._identity(Loss(1.0))["fingerprint"] != ck._identity(Loss(2.0))["fingerprint"]
    recursive = lambda out, batch: recursive(out, batch)  # noqa: E731 - a cycle ends
    assert ck._identity(recursive)["name"] == (
        "test_identity_names_and_fingerprints.<locals>.<lambda>")
