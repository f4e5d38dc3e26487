import json

import pytest

from raxlab.cli.main import main
from raxlab.measure.io import starvation, worker_counts
from raxlab.store import Store


@pytest.mark.parametrize("workload", ["small-cnn", "tiny-lm"])
def test_loader_throughput_at_0_and_1_workers(capsys, workload):
    assert main(["bench", "io", workload, "--seconds", "0.5", "--max-workers", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [p["workers"] for p in data["points"]] == [0, 1]
    assert all(p["status"] == "ok" and p["samples_per_s"] > 0 for p in data["points"]), data["points"]
    run = Store().get_run(data["run_id"])
    res = run["points"][0]["result"]
    assert res["mbytes_per_s"] == pytest.approx(res["samples_per_s"] * res["bytes_per_sample"] / 1e6)
    assert run["points"][0]["samples"]  # raw per-batch times kept
    assert run["artifacts"]["io_summary"]["best_samples_per_s"] == data["best_samples_per_s"]


def test_starvation_verdicts():
    assert starvation(100.0, 50.0)["verdict"] == "keeps up"
    slow = starvation(40.0, 50.0)
    assert slow["verdict"] == "starves" and slow["headroom"] == pytest.approx(0.8)
    assert "25%" in slow["sentence"]  # the step waits 1/0.8 - 1 = 25 % longer
    assert starvation(None, 50.0)["verdict"] == "N/A"


def test_worker_counts():
    assert worker_counts(0) == [0]
    assert worker_counts(2) == [0, 1, 2]
    assert worker_counts(6) == [0, 1, 2, 4, 6]


def test_bad_batch_is_one_line(capsys):
    assert main(["bench", "io", "small-cnn", "--micro-batch", "0"]) == 2
    assert "--micro-batch" in capsys.readouterr().err
