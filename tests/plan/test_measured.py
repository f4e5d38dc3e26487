"""Measured data in the plan: a fabric fit, a compute calibration and a fabric A/B from stored
runs (hand-made here in the shapes `rax bench comm`, `rax bench compute` and `rax abtest` store)."""

import pytest

from raxlab.plan.measured import load_measured
from raxlab.store import Store

FABRICS = ("tcp-25", "roce-400", "ib-ndr")
SMALL = dict(targets={"deadline_days": 6}, accelerators=["h100-sxm"], fabrics=FABRICS)


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "rax.db")


def _comm_run(store, *, across_nodes=True, beta_GBps=60.0, alpha_us=200.0, ranks=16):
    params = {"torchrun_args": ["--nnodes", "2", "--nproc-per-node", "8"] if across_nodes else None, "emulate": None}
    run = store.new_run("bench.comm", params=params)
    fit = {"collective": "all_reduce", "transport": "nccl-socket", "ranks": ranks, "dtype": "float32",
           "alpha_us": alpha_us, "beta_GBps": beta_GBps}
    store.put_artifact(run, "comm_fit", [fit, {**fit, "collective": "all_gather", "beta_GBps": 1.0}])
    store.put_artifact(run, "comm_transport", {"0": {"kind": "tcp"}})
    store.finish_run(run)
    return run


def test_a_fabric_fit_across_nodes_replaces_the_prior_for_that_fabric(store, catalog, make):
    run = _comm_run(store)  # 60 GB/s busbw over 8 rails of 25 Gb/s TCP = 2.4 x line rate: impossible
    bad = load_measured(store, [run], catalog, "megatron-1.7b", fabric="tcp-25", rails=8)
    assert not bad.fabric_fits and "exceeds" in bad.notes[0]
    run = _comm_run(store, beta_GBps=15.0)  # 15 GB/s over 8 x 25 Gb/s = 60 % of line rate
    m = load_measured(store, [run], catalog, "megatron-1.7b", fabric="tcp-25", rails=8)
    fit = m.fabric_fits["tcp-25"]
    assert fit.efficiency == pytest.approx(0.6) and fit.alpha_step_s == pytest.approx(200e-6 / 30)
    plan = make("megatron-1.7b", measured=m, **SMALL)
    rows = {r["fabric"]: r for r in plan["verdicts"]["network"]["rows"]}
    assert rows["tcp-25"]["comm_basis"] == "measured" and rows["ib-ndr"]["comm_basis"] == "prior"
    assert plan["measured"]["fabric_fits"]["tcp-25"]["label"] == "measured"
    assert any("tcp-25: measured" in a for a in plan["assumptions"])


def test_loopback_and_unnamed_fabric_measurements_are_not_applied_and_say_why(store, catalog):
    local = _comm_run(store, across_nodes=False, beta_GBps=5.0)
    m = load_measured(store, [local], catalog, "x", fabric="tcp-25")
    assert not m.fabric_fits and "loopback" in m.notes[0]
    remote = _comm_run(store, beta_GBps=5.0)
    m = load_measured(store, [remote], catalog, "x")
    assert not m.fabric_fits and "--measured-fabric" in m.notes[0] and "tcp" in m.notes[0]


def _abtest(store, arms, nodes=2, comparison=None):
    run = store.new_run("abtest", workload="megatron-1.7b")
    store.put_artifact(run, "abtest", {"workload": "megatron-1.7b", "accelerator": "h100-sxm", "nodes": nodes,
                                       "arms": arms, **({"comparison": comparison} if comparison else {})})
    store.finish_run(run)
    return run


def test_a_measured_ab_overrides_the_projected_network_verdict(store, catalog, make):
    projected = make("megatron-1.7b", **SMALL)
    assert projected["recommendation"]["fabric"] == "tcp-25" and projected["recommendation"]["nodes"] == 2
    step = projected["recommendation"]["step_time_s"]
    # Measured on the customer's 2 nodes: TCP 30 % slower than InfiniBand (not a tie).
    run = _abtest(store, [{"fabric": "tcp-25", "rails": 8, "median_s": 1.3 * step, "n": 20},
                          {"fabric": "ib-ndr", "rails": 8, "median_s": step, "n": 20}],
                  comparison={"ratio_median": 1.3, "ci": [1.25, 1.35], "p_value": 1e-6, "tie": False})
    plan = make("megatron-1.7b", measured=load_measured(store, [run], catalog, "megatron-1.7b"), **SMALL)
    net = plan["verdicts"]["network"]
    assert net["basis"] == "measured" and net["recommended_fabric"] == "ib-ndr"
    assert plan["recommendation"]["fabric"] == "ib-ndr"
    assert net["sentence"].startswith("Measured on your 2 x h100-sxm nodes") and "faster" in net["sentence"]
    assert all(a["label"] == "measured" for a in net["measured"]["arms"])


def test_a_measured_tie_buys_the_cheaper_fabric_and_other_node_counts_are_shown_only(store, catalog, make):
    projected = make("megatron-1.7b", **SMALL)
    step = projected["recommendation"]["step_time_s"]
    arms = [{"fabric": "tcp-25", "rails": 8, "median_s": 1.01 * step}, {"fabric": "ib-ndr", "rails": 8, "median_s": step}]
    tie = _abtest(store, arms, comparison={"ratio_median": 1.01, "ci": [0.98, 1.04], "tie": True})
    net = make("megatron-1.7b", measured=load_measured(store, [tie], catalog, "megatron-1.7b"), **SMALL)["verdicts"]["network"]
    assert net["basis"] == "measured" and net["recommended_fabric"] == "tcp-25" and "a tie" in net["sentence"]
    other = _abtest(store, arms, nodes=4)
    net = make("megatron-1.7b", measured=load_measured(store, [other], catalog, "megatron-1.7b"), **SMALL)["verdicts"]["network"]
    assert net["basis"] == "projected" and not net["measured"]["applies"] and "not the recommended" in net["measured"]["note"]


def test_a_compute_calibration_on_a_catalogue_gpu_replaces_its_priors(store, catalog, cards, make):
    from raxlab.predict import calibrate, priors

    spec, card = cards("megatron-1.7b")
    acc = catalog.accelerator("h100-sxm")
    peaks = {d: acc.peak_flops(d) for d in acc.dtypes}
    run = store.new_run("compute", workload="megatron-1.7b")
    store.put_artifact(run, "card", card.to_dict())
    store.put_artifact(run, "peaks", {"catalog_entry": "h100-sxm", "measured": {}})
    slow = dict(mm={"bf16": 0.35}, attn=0.2, conv=0.35, bw=0.6, overhead=0.01)  # well below the priors
    for b in (1, 2, 4, 8):
        pts = calibrate.points_from_compute_results([{"point": {"mode": "train", "precision": "bf16", "batch": b},
                                                      "summary": {"median": 1.0}}], card)
        t = calibrate.model_time(pts[0], peaks, acc.mem_bw_Bps, **slow)
        store.add_point(run, "compute", f"train/bf16/b{b}", "ok",
                        params={"precision": "bf16", "batch": b, "mode": "train", "device": "cuda:0"},
                        result={"summary": {"median": t}})
    store.finish_run(run)
    m = load_measured(store, [run], catalog, "megatron-1.7b")
    cal = m.calibrations["h100-sxm"]
    prior, _ = priors.efficiency_prior("h100-sxm", peaks=peaks)
    assert cal.eff.matmul["bf16"] < prior.matmul["bf16"]  # pulled toward the (slow) measurements
    assert max(abs(r) for r in cal.residuals) < 0.1 and "calibrated on 4 measured points" in cal.eff.source
    base = make("megatron-1.7b", **SMALL)["recommendation"]
    rec = make("megatron-1.7b", measured=m, **SMALL)["recommendation"]
    assert rec["compute_basis"] == "calibrated" and base["compute_basis"] == "prior"
    assert rec["mfu"] < base["mfu"]


def test_an_emulated_or_cpu_ab_is_shown_but_not_applied(store, catalog):
    run = store.new_run("abtest", workload="megatron-1.7b")
    arms = [{"name": "fast", "fabric": None, "rails": None, "median_s": 1.0, "n": 7},
            {"name": "slow", "fabric": None, "rails": None, "median_s": 1.4, "n": 7}]
    store.put_artifact(run, "abtest", {"workload": "megatron-1.7b", "accelerator": None, "nodes": 1,
                                       "emulated": True, "verdict": "slow is slower", "arms": arms})
    store.finish_run(run)
    m = load_measured(store, [run], catalog, "megatron-1.7b")
    assert not m.abtests and "emulated links" in m.notes[0] and "not applied" in m.notes[0]
