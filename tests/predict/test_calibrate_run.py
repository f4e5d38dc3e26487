"""`rax calibrate` on stored runs: a compute sweep and a comm sweep written to a real store."""

import json

import pytest

from raxlab.cli.main import main
from raxlab.errors import RaxError
from raxlab.predict.calibrate_run import calibrate_compute_run
from raxlab.predict.commfit import calibrate_comm_run, comm_fit_from_run
from raxlab.store import Store

GEMM = 50e9  # FLOP/s measured by the run's GEMM probe
CARD = {"flops_by_class": {"matmul": 1.2e9, "attention": 1.5e8, "conv": 0, "other": 0},
        "bytes_by_class": {"matmul": 3e7, "attention": 6e7, "conv": 0, "norm": 3e7, "other": 2e7},
        "bytes_fixed_by_class": {"matmul": 2e7, "attention": 5e5, "conv": 0, "norm": 2e4, "other": 7e5},
        "trace": {"dtype": "float32"}}


def _step(b):  # a machine at 60 % of its GEMM peak for matmul, 30 % for attention, 5 ms per step
    return b * CARD["flops_by_class"]["matmul"] / (0.6 * GEMM) + b * 1.5e8 / (0.3 * GEMM) + 5e-3


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "rax.db")


@pytest.fixture
def compute_run(store):
    rid = store.new_run("compute", workload="tiny-lm")
    store.put_artifact(rid, "card", CARD)
    store.put_artifact(rid, "peaks", {"measured": {"fp32": GEMM}})
    for b in (1, 2, 4, 8, 16):
        t = _step(b)
        store.add_point(rid, "compute", f"train/fp32/b{b}", "ok",
                        params={"mode": "train", "precision": "fp32", "batch": b},
                        result={"summary": {"median": t, "noisy": False}}, samples=[0.95 * t, t, t, 1.1 * t, 3 * t])
    store.finish_run(rid)
    return rid


def test_fit_on_two_batch_sizes_predicts_the_others(store, compute_run):
    res = calibrate_compute_run(store, compute_run)
    assert [r["batch"] for r in res["rows"] if r["role"] == "fit"] == [1, 16]
    assert res["held_out"]["n"] == 3 and res["held_out"]["median_abs"] < 0.05
    assert res["fitted"]["matmul"]["fp32"] == pytest.approx(0.6, rel=0.3)


def test_calibration_is_stored_and_points_untouched(store, compute_run):
    before = store.points(compute_run)
    calibrate_compute_run(store, compute_run, fit_on=[1, 2])
    assert store.artifact(compute_run, "calibration")["fit_on"] == ["fp32/b1", "fp32/b2"]
    assert store.points(compute_run) == before


def test_repeats_pool_their_samples(store, compute_run):
    again = store.new_run("compute", workload="tiny-lm")
    for p in store.points(compute_run):
        store.add_point(again, "compute", p["name"], "ok", params=p["params"], result=p["result"],
                        samples=[2 * x for x in p["samples"]])  # a repeat under twice the interference
    store.finish_run(again)
    one = calibrate_compute_run(store, compute_run, stat="min", save=False)
    both = calibrate_compute_run(store, [compute_run, again], stat="min")
    assert [r["measured_s"] for r in both["rows"]] == [r["measured_s"] for r in one["rows"]]
    assert store.artifact(again, "calibration")["runs"] == [compute_run, again]
    other = store.new_run("compute", workload="small-cnn")
    store.finish_run(other)
    with pytest.raises(RaxError, match="not a repeat"):
        calibrate_compute_run(store, [compute_run, other])


def test_split_must_leave_points_on_both_sides(store, compute_run):
    with pytest.raises(RaxError, match="--holdout"):
        calibrate_compute_run(store, compute_run, holdout=[1, 2, 4, 8, 16])


def _comm_run(store, alpha=200e-6, busbw=0.1e9, ranks=2):
    rid = store.new_run("bench.comm", params={"emulate": "1gbit"})
    factor = 2 * (ranks - 1) / ranks
    for i in range(4, 25, 2):
        size = 2**i
        t = alpha + size * factor / busbw
        store.add_point(rid, "comm", f"all_reduce {size} float32", "ok",
                        result={"collective": "all_reduce", "transport": "gloo", "ranks": ranks, "dtype": "float32",
                                "size_bytes": size, "time_us": t * 1e6, "busbw_factor": factor})
    store.put_artifact(rid, "comm_fit", [{"collective": "all_reduce", "transport": "gloo", "ranks": ranks,
                                          "dtype": "float32", "alpha_us": alpha * 1e6, "beta_GBps": busbw / 1e9}])
    store.finish_run(rid)
    return rid


def test_comm_fit_from_run_gives_per_step_alpha(store):
    fit = comm_fit_from_run(store, _comm_run(store, ranks=4))
    assert fit.alpha_s == pytest.approx(200e-6 / 6)  # 2(p-1) ring steps
    assert fit.busbw_Bps == pytest.approx(0.1e9) and "emulated 1gbit" in fit.source


def test_comm_fit_from_run_names_the_choices(store):
    rid = _comm_run(store)
    with pytest.raises(RaxError, match="transport=gloo"):
        comm_fit_from_run(store, rid, transport="nccl-ib")
    with pytest.raises(RaxError, match="not a comm run"):
        comm_fit_from_run(store, _comm_run_kind(store))


def _comm_run_kind(store):
    rid = store.new_run("compute")
    store.finish_run(rid)
    return rid


def test_comm_backtest_predicts_held_out_sizes(store):
    res = calibrate_comm_run(store, _comm_run(store))
    assert res["held_out"]["n"] == 5 and res["held_out"]["max_abs"] < 0.05


def test_cli_calibrate_json(store, compute_run, capsys):
    assert main(["calibrate", compute_run, "--holdout", "4,8,16", "--json", "--store", str(store.path)]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {r["batch"] for r in d["rows"] if r["role"] == "held-out"} == {4, 8, 16}
    assert main(["calibrate", compute_run, "--stat", "min", "--store", str(store.path)]) == 0
    assert "median |error|" in capsys.readouterr().out


def test_predict_with_a_measured_fabric(store, capsys):
    rid = _comm_run(store, busbw=1e9)
    base = ["predict", "llama3-8b", "--gpu", "h100-sxm", "--gpus", "64", "--fabric", "ib-ndr",
            "--dp", "64", "--global-batch", "64", "--micro-batch", "1", "--seq-len", "4096", "--zero", "1", "--json",
            "--store", str(store.path)]
    assert main(base) == 0
    prior = json.loads(capsys.readouterr().out)
    assert main(base + ["--comm-run", rid]) == 0
    measured = json.loads(capsys.readouterr().out)
    assert measured["step_time_s"] > prior["step_time_s"]  # 1 GB/s per GPU instead of an NDR rail
    assert any(f"run {rid}" in a for a in measured["assumptions"])
