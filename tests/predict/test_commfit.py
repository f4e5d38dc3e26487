"""A measured all-to-all fit: fitted apart from the all-reduce, and used by the projection's
expert-parallel dispatch/combine instead of its prior (`rax predict --comm-run`)."""

import json

import numpy as np
import pytest

from raxlab.cli.main import main
from raxlab.fits import busbw_factor, fit_rows
from raxlab.predict import moe
from raxlab.predict.collectives import group_time
from raxlab.predict.commfit import comm_fit_from_run, has_fit
from raxlab.predict.hardware import hw_consts
from raxlab.predict.layout import Layout, as_arrays
from raxlab.predict.shape import MoEShape, TransformerShape
from raxlab.store import Store

RANKS = 4
CURVES = {"all_reduce": (200e-6, 1.0e9), "all_to_all": (900e-6, 0.05e9)}  # alpha (s), busbw (B/s)
MIXTRAL = TransformerShape(hidden=4096, layers=32, heads=32, kv_heads=8, ffn=14336, vocab=32000, seq=4096,
                           gated_mlp=True, tied_embeddings=False,
                           moe=MoEShape(experts=8, top_k=2, expert_ffn=14336, moe_layers=32))


def _rows():
    rows = []
    for coll, (alpha, busbw) in CURVES.items():
        factor = busbw_factor(coll, RANKS)
        for i in range(3, 25):
            s = 2**i
            rows.append({"collective": coll, "transport": "gloo", "ranks": RANKS, "dtype": "fp32", "size_bytes": s,
                         "time_us": (alpha + s * factor / busbw) * 1e6, "busbw_factor": factor, "correct": True})
    return rows


@pytest.fixture
def run(tmp_path):
    db = Store(tmp_path / "rax.db")
    rid = db.new_run("bench.comm", params={"emulate": "1gbit"})
    db.put_artifact(rid, "comm_fit", fit_rows(_rows()))
    db.finish_run(rid)
    return db, rid


def test_all_to_all_is_fitted_apart_from_the_all_reduce(run):
    db, rid = run
    fits = {f["collective"]: f for f in db.get_run(rid)["artifacts"]["comm_fit"]}
    for coll, (alpha, busbw) in CURVES.items():
        assert fits[coll]["alpha_us"] == pytest.approx(alpha * 1e6, rel=1e-3)
        assert fits[coll]["beta_GBps"] == pytest.approx(busbw / 1e9, rel=0.02)  # the peak over the sweep
    assert has_fit(db, rid, "all_to_all") and not has_fit(db, rid, "all_to_all", transport="nccl-ib")


def test_projection_reproduces_the_measured_all_to_all_at_its_rank_count(run, h100_ib):
    import dataclasses

    db, rid = run
    fit = comm_fit_from_run(db, rid, "all_to_all")
    stored = next(f for f in db.get_run(rid)["artifacts"]["comm_fit"] if f["collective"] == "all_to_all")
    assert fit.alpha_s == pytest.approx(stored["alpha_us"] * 1e-6 / (RANKS - 1)) and "all_to_all" in fit.source
    hc = hw_consts(dataclasses.replace(h100_ib, measured_a2a=fit), "bf16")
    size = 2**22  # the fit's own t(S) = alpha + S (p-1)/p / beta, plus NCCL's launch cost
    want = stored["alpha_us"] * 1e-6 + size * busbw_factor("all_to_all", RANKS) / (stored["beta_GBps"] * 1e9) + hc.base
    assert float(group_time("all_to_all", size, RANKS, 1, hc)) == pytest.approx(want)  # one rank per node
    prior = hw_consts(h100_ib, "bf16")
    assert float(group_time("all_to_all", size, RANKS, 1, prior)) < want / 10  # an NDR rail, not 0.05 GB/s
    assert float(group_time("all_to_all", size, 8, 8, hc)) == float(group_time("all_to_all", size, 8, 8, prior))
    assert float(group_time("all_reduce", size, RANKS, 1, hc)) == float(group_time("all_reduce", size, RANKS, 1, prior))


def test_ep_dispatch_across_nodes_follows_the_measured_fit(run, h100_ib):
    import dataclasses

    db, rid = run
    la = as_arrays(Layout(dp=16, ep=16, global_batch=16))
    fast = hw_consts(h100_ib, "bf16")
    slow = hw_consts(dataclasses.replace(h100_ib, measured_a2a=comm_fit_from_run(db, rid, "all_to_all")), "bf16")
    assert float(moe.a2a_time(MIXTRAL, la, slow, 1.0)) > 10 * float(moe.a2a_time(MIXTRAL, la, fast, 1.0))
    assert np.isfinite(float(moe.a2a_time(MIXTRAL, la, slow, 1.0)))


def test_predict_comm_run_uses_the_all_to_all_fit(run, capsys):
    db, rid = run
    base = ["predict", "mixtral-8x7b", "--gpu", "h100-sxm", "--fabric", "ib-ndr", "--gpus", "64", "--pp", "4",
            "--ep", "8", "--gpus-per-node", "2", "--json", "--store", str(db.path)]
    assert main(base) in (0, 4)
    prior = json.loads(capsys.readouterr().out)
    assert main([*base, "--comm-run", rid]) in (0, 4)
    measured = json.loads(capsys.readouterr().out)
    a2a = "ep_dispatch_combine_all_to_all"
    assert measured["terms"]["communication"][a2a] > 10 * prior["terms"]["communication"][a2a]
    assert any("all-to-all" in a and f"run {rid}" in a for a in measured["assumptions"])
