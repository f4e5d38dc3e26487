"""Compute points that contradict their series: found on synthetic series, re-measured and marked
in a real sweep, skipped (and named) by the calibration fit."""

import json

import numpy as np
import pytest
import yaml

from raxlab.measure.consistency import Step, find_inconsistent, pair_excess

BATCHES = [1, 2, 4, 8, 16, 32]


def series(*ms, rel_iqr=0.05):
    return [Step(b, t / 1e3, rel_iqr) for b, t in zip(BATCHES, ms)]


def flagged(*ms, **kw):
    return [f.batch for f in find_inconsistent(series(*ms, **kw))]


def test_issue_20_point_between_its_neighbours_is_found():
    (f,) = find_inconsistent(series(12.5, 600, 42.5, 85))
    assert f.batch == 2 and f.excess > 10
    assert "batch 2 took 600 ms" in f.reason and "per-sample time" in f.reason


@pytest.mark.parametrize("ms,bad", [
    ((600, 25, 42.5, 85), [1]),  # the first point: more work cannot be faster
    ((12.5, 22, 42.5, 300), [8]),  # the last point: per-sample time jumps 3.5x
    ((12.5, 1, 42.5, 85), [2]),  # too fast is found as well
    ((12.5, 600, 700, 85), [2, 4]),  # two slow points in a row: the faster explanation is kept
    ((10, 500), [2]),  # two points: the slower one (other work only adds time)
])
def test_outliers_anywhere_in_the_series(ms, bad):
    assert flagged(*ms) == bad


@pytest.mark.parametrize("ms", [
    (12.5, 22, 42.5, 85),  # linear in batch
    (10, 9, 16, 30, 60, 130),  # noise below the tolerance, per-sample growth of a cache effect
    (10, 10.5, 11, 11.2),  # latency-bound (a GPU at small batches)
    (0.886 * 16, 0.962 * 32),  # the small CNN past batch 16 on the CI host (+8.6 % per sample)
])
def test_clean_series_are_untouched(ms):
    assert flagged(*ms) == []


def test_noisy_points_widen_the_bounds_but_only_so_far():
    lo, hi = Step(1, 0.010, 0.0), Step(2, 0.008, 0.0)  # 20 % faster at twice the work: within 25 %
    assert pair_excess(lo, hi)[1] is None
    assert pair_excess(Step(1, 0.010), Step(2, 0.007))[1] is not None
    assert pair_excess(Step(1, 0.010, 0.2), Step(2, 0.006, 0.2))[1] is None  # IQR 20 % each: tolerance 80 %
    # a point with a huge spread cannot excuse a 24x jump (tolerance capped at 100 %)
    assert flagged(12.5, 600, 42.5, 85, rel_iqr=5.0) == [2]


# -- a real sweep: batch 2's first measurement is disturbed once, for real ---------------------
SLOW_ONCE = '''
import os
import time
import torch

class SlowOnce(torch.nn.Module):
    """The first process that runs batch 2 claims the marker file and sleeps in every step, as
    when another job holds the cores; later processes (the re-measure) run at full speed."""
    def __init__(self, marker):
        super().__init__()
        self.marker, self.slow = marker, None
        # 0.3M weights: the optimizer step (the same at every batch) dominates, so the series is
        # nearly flat, and a step of milliseconds is far below the 0.5 s disturbance
        self.lin = torch.nn.Sequential(torch.nn.Linear(64, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512),
                                       torch.nn.ReLU(), torch.nn.Linear(512, 4))
    def forward(self, x):
        if x.device.type != "meta" and x.shape[0] == 2 and self.slow is None:
            try:
                os.rename(self.marker, self.marker + f".claimed-{os.getpid()}")
                self.slow = True
            except FileNotFoundError:
                self.slow = False
        if self.slow:
            time.sleep(0.3)
        return self.lin(x)

def make(marker):
    torch.set_num_threads(1)  # two threads on two busy cores stretch small steps unevenly
    return SlowOnce(marker)
'''


def test_disturbed_point_is_remeasured_and_marked(tmp_path, capsys):
    from raxlab.cli.main import main
    from raxlab.store import Store

    (tmp_path / "marker").write_text("slow")
    spec = _spec(tmp_path, str(tmp_path / "marker"))
    db = tmp_path / "c.db"
    code = main(["bench", "compute", str(spec), "--modes", "train", "--batch-sizes", "1,2", "--point-seconds",
                 "0.2", "--no-gemm-probe", "--json", "--store", str(db)])
    out = capsys.readouterr()
    assert code == 0, out.err
    rows = json.loads(out.out)["points"]
    first, *again = [r for r in rows if r["batch"] == 2]
    assert first["status"] == "inconsistent" and first["median_s"] > 0.3, rows
    assert "inconsistent with the other batch sizes: disturbed: re-measured at" in first["note"]
    assert any(r["status"] == "ok" and r["median_s"] < 0.3 for r in again), rows
    # A busy host may disturb another point too, which is then re-measured alike: what must
    # hold is that the measurements left ok agree with each other.
    final = {r["batch"]: r for r in rows if r["status"] == "ok"}
    assert find_inconsistent([Step(b, r["median_s"], r["rel_iqr"]) for b, r in final.items()]) == []
    stored = {p["id"]: p for p in Store(str(db)).get_run("latest")["points"]}
    remeasure = next(r for r in again if r["remeasure_of"] is not None)
    assert stored[remeasure["remeasure_of"]]["status"] == "inconsistent"  # the disturbed run, in the store
    assert stored[remeasure["remeasure_of"]]["samples"]  # with its raw samples


def _spec(tmp_path, marker: str):
    (tmp_path / "slowonce.py").write_text(SLOW_ONCE)
    np.save(tmp_path / "x.npy", np.random.rand(16, 64).astype(np.float32))
    spec = tmp_path / "slow.yaml"
    spec.write_text(yaml.safe_dump({"name": "slow-once", "model": "slowonce:make", "data": "x.npy",
                                    "model_args": {"marker": marker}, "precisions": ["fp32"], "trust_code": True}))
    return spec


def test_the_fit_skips_inconsistent_points_and_says_so(tmp_path):
    from raxlab.predict.calibrate_run import calibrate_compute_run
    from raxlab.store import Store
    from raxlab.workload import load_workload
    from raxlab.workload.card import build_card

    store = Store(str(tmp_path / "s.db"))
    run = store.new_run("compute", workload="slow-once")
    card = build_card(load_workload(str(_spec(tmp_path, str(tmp_path / "none"))), trust_code=True))
    store.put_artifact(run, "card", card.to_dict())
    store.put_artifact(run, "peaks", {"measured": {"fp32": 1e11}})
    times = {1: 0.0125, 2: 0.6, 4: 0.0425, 8: 0.085}
    ids = {}
    for b, t in times.items():
        ids[b] = store.add_point(run, "compute", f"train/fp32/b{b}", "ok", samples=[t] * 5,
                                 params={"mode": "train", "precision": "fp32", "batch": b},
                                 result={"summary": {"median": t}})
    store.add_point(run, "compute", "train/fp32/b2", "ok", samples=[0.023] * 5,
                    params={"mode": "train", "precision": "fp32", "batch": 2, "remeasure_of": ids[2]},
                    result={"summary": {"median": 0.023}})
    store.mark_point(ids[2], "inconsistent", "inconsistent with the other batch sizes: disturbed")
    cal = calibrate_compute_run(store, run)
    row2 = next(r for r in cal["rows"] if r["batch"] == 2)
    assert row2["measured_s"] == pytest.approx(0.023)  # the re-measure, not the 600 ms run
    assert any(f"train/fp32/b2 (point {ids[2]})" in n and "inconsistent" in n for n in cal["notes"]), cal["notes"]
