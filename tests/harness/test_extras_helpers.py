"""extras/_harness: the metrics channel writes what the host parser reads; prints when run directly."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest

from harness.judging.metrics import parse_metrics
from harness.judging.scorers import load_artifact
from tests.harness.conftest import REPO


@pytest.fixture
def helpers(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "extras"))
    metrics = importlib.reload(importlib.import_module("_harness.metrics"))  # fresh "reported once" state
    common = importlib.import_module("_harness.common")
    return metrics, common


def test_under_the_harness_lines_round_trip_through_the_host_parser(helpers, tmp_path, monkeypatch):
    metrics, _ = helpers
    monkeypatch.setenv("HARNESS_OUT", str(tmp_path))
    metrics.report("accuracy", np.float32(0.75))
    metrics.report("converged", True)
    metrics.series("loss", np.array([2.0, 1.0]))
    metrics.artifact("preds", np.arange(4))
    metrics.write_json("probe.json", {"w": np.float64(0.5)})
    parsed = parse_metrics(tmp_path)
    assert parsed.scalars == {"accuracy": 0.75, "converged": True}
    assert parsed.series == {"loss": [2.0, 1.0]} and parsed.problems() == []
    assert load_artifact(tmp_path, "preds").tolist() == [0, 1, 2, 3]  # exact name, no ".npy" appended
    assert json.loads((tmp_path / "probe.json").read_text()) == {"w": 0.5}


def test_outside_the_harness_metrics_are_printed(helpers, capsys, monkeypatch):
    metrics, _ = helpers
    monkeypatch.delenv("HARNESS_OUT", raising=False)
    metrics.report("accuracy", 0.5)
    metrics.series("loss", [1.0, 0.25])
    assert metrics.artifact("p.npy", np.zeros(2)) is None
    printed = capsys.readouterr().out.splitlines()
    assert printed[:2] == ["[metric] accuracy = 0.5", "[metric] loss = [1, 0.25]"]


def test_misuse_raises_a_clear_error(helpers, tmp_path, monkeypatch):
    metrics, _ = helpers
    monkeypatch.setenv("HARNESS_OUT", str(tmp_path))
    metrics.report("a", 1)
    with pytest.raises(ValueError, match="metric 'a' was already reported"):
        metrics.report("a", 2)
    with pytest.raises(ValueError, match="plain name"):
        metrics.artifact("../escape.npy", np.zeros(1))
    with pytest.raises(TypeError, match="metric value must be a number, bool or string, got list"):
        metrics.report("b", [1])


def test_common_args_seed_and_to_numpy(helpers, monkeypatch):
    _, common = helpers
    monkeypatch.setenv("HARNESS_SEED", "7")
    monkeypatch.setenv("HARNESS_PROFILE", "quick")
    args = common.parse_args(argv=[])
    assert (args.seed, args.quick) == (7, True)
    common.seed_everything(3)
    first = np.random.rand()
    common.seed_everything(3)
    assert np.random.rand() == first

    class FakeTensor:
        def __init__(self, data):
            self.data = data

    assert common.to_numpy(FakeTensor(FakeTensor(np.ones(2)))).tolist() == [1.0, 1.0]
    assert common.to_numpy([1, 2]).tolist() == [1, 2]


def test_gates_say_what_they_tried_when_a_value_is_not_finite(helpers, tmp_path, monkeypatch):
    metrics, _ = helpers
    gates = importlib.reload(importlib.import_module("_harness.gates"))
    monkeypatch.setenv("HARNESS_OUT", str(tmp_path))

    class Param:  # a parameter whose gradient never arrived
        data = np.ones(3, np.float32)
        grad = None

    gates.report_loss_trend([0.7, 0.6, float("nan"), float("nan")])
    gates.report_first_layer_grad("fc1.weight", Param())
    parsed = parse_metrics(tmp_path)
    assert parsed.metric_problems["loss_ratio"] == (
        "metric loss_ratio is inf (not a finite number): the loss became nan at step 3 of 4 (training "
        "diverged: a learning rate too large, or a log of 0 in the loss?)")
    assert parsed.scalars["first_layer_grad_norm"] == 0.0
    assert parsed.notes["first_layer_grad_norm"].startswith(
        "`fc1.weight.grad` is None after `loss.backward()`: is `requires_grad` set on the parameters")
