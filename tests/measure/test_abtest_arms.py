"""A/B arms and reports without root: parsing, prices, the planner's view, a local A/A run."""

import json

import pytest

from raxlab.catalog import load_catalog
from raxlab.cli.main import main
from raxlab.errors import RaxError
from raxlab.measure.ab_stats import PAYS
from raxlab.measure.abtest import AbOptions
from raxlab.measure.abtest_arms import RepResult, mapping, parse_arm, parse_arms, price_arms
from raxlab.measure.abtest_report import analyse, planner_summary
from raxlab.store import Store


def test_arm_specs():
    a = parse_arm("slow=gloo+emulate:1gbit")
    assert (a.name, a.transport, a.emulate, a.rate_bps, a.tcp) == ("slow", "gloo", "1gbit", 1e9, True)
    b = parse_arm("ib=nccl-ib")
    assert (b.transport, b.emulate, b.tcp) == ("nccl-ib", None, False)
    assert parse_arm("fast=emulate:4gbit", default="gloo").transport == "gloo"


@pytest.mark.parametrize("bad,match", [
    ("fast", "use NAME=SPEC"), ("=gloo", "use NAME=SPEC"), ("x=tcp", "bad part 'tcp'"),
    ("x=emulate:1gbps", "bad link rate"), ("x=gloo+nccl", "bad part 'nccl'"),
])
def test_bad_arm_specs(bad, match):
    with pytest.raises(RaxError, match=match):
        parse_arm(bad)


def test_arm_sets():
    with pytest.raises(RaxError, match="at least two"):
        parse_arms(["a=gloo"])
    with pytest.raises(RaxError, match="must differ"):
        parse_arms(["a=gloo", "a=emulate:1gbit"])
    with pytest.raises(RaxError, match="compare devices, not networks"):
        parse_arms(["a=gloo", "b=nccl-ib"])
    with pytest.raises(RaxError, match="mix of emulated"):
        parse_arms(["a=gloo", "b=emulate:1gbit"])
    arms = parse_arms(["a=emulate:1gbit", "b=emulate:4gbit"])
    with pytest.raises(RaxError, match="no arm named 'c'"):
        mapping(["c=tcp-10"], arms, "--arm-fabric")


def test_catalogue_and_declared_prices():
    arms = parse_arms(["ib=nccl-ib", "tcp=nccl-socket", "mine=nccl"])  # parsing needs no GPU
    notes = price_arms(arms, {"ib": "ib-ndr", "tcp": "tcp-100"}, {"mine": "$12,000"}, servers=2,
                       node_price_usd=100_000)
    ib, tcp, mine = arms
    # by hand from the catalogue: 2 NICs + 1 switch + 2 short cables, plus 2 declared nodes
    assert ib.price_usd == 2 * 2500 + 50_000 + 2 * 200 + 200_000
    assert tcp.price_usd == 2 * 700 + 15_000 + 2 * 60 + 200_000
    assert "catalogue" in ib.price_basis and "--node-price" in ib.price_basis and ib.fabric == "ib-ndr"
    assert mine.price_usd == 12_000 and mine.price_basis.startswith("declared") and notes == []
    with pytest.raises(RaxError, match="unknown fabric"):
        price_arms(parse_arms(["a=gloo", "b=gloo"]), {"a": "ib-ndrr"}, {}, servers=2, node_price_usd=None)


def test_analysis_costs_and_the_planner_reads_the_summary(tmp_path):
    arms = parse_arms(["ib=nccl-ib", "tcp=nccl-socket"])
    price_arms(arms, {"ib": "ib-ndr", "tcp": "tcp-100"}, {}, servers=2, node_price_usd=None)
    results = [RepResult(name, k, [t * (1 + 0.01 * k)] * 3, [0.5] * 3)
               for k in range(6) for name, t in (("ib", 1.0), ("tcp", 1.5))]
    a = analyse(results, arms, AbOptions(reps=6), 2, 4, None, complete=True, notes=[])
    assert a["verdict"]["verdict"] == PAYS and a["verdict"]["recommended"] == "ib"
    assert a["cost_basis"] == "price" and a["cost_order"] == ["tcp", "ib"]
    tcp = a["arms"]["tcp"]
    assert tcp["exposed_comm_share"] == pytest.approx(1 - 0.5 / tcp["median_s"])
    assert tcp["usd_per_million"] == pytest.approx(tcp["price_usd"] / (8 / tcp["median_s"] * 3 * 365.25 * 86400) * 1e6)
    assert "projected" in tcp["cost_label"] and "ib" in a["cost_note"]
    fp = {"gpus": [{"name": "NVIDIA H100 80GB HBM3"}]}
    summary = planner_summary(a, arms, "tiny-lm", 2, "bf16", fp)
    assert summary["accelerator"] == "h100-sxm" and summary["comparison"]["tie"] is False
    st = Store(str(tmp_path / "p.db"))
    rid = st.new_run("abtest", workload="tiny-lm")
    st.put_artifact(rid, "abtest", summary)
    st.finish_run(rid)
    from raxlab.plan.measured import load_measured

    m = load_measured(st, [rid], load_catalog(), "tiny-lm")
    assert [x["fabric"] for x in m.abtests[0]["arms"]] == ["ib-ndr", "tcp-100"]


def test_partial_analysis_has_no_verdict():
    arms = parse_arms(["a=gloo", "b=gloo"])
    a = analyse([RepResult("a", 0, [1.0])], arms, AbOptions(), 2, 4, None, complete=False, notes=[])
    assert a["verdict"] is None and a["arms"]["b"]["reps"] == 0 and "no verdict" in a["notes"][-1]


def test_local_a_a_run_through_the_cli_is_never_a_difference(tmp_path, capsys):
    """The same set-up twice: the verdict may be a proven tie or inconclusive (4 rounds on a busy
    machine), never a difference; rounds alternate their order; busyness and looks are stored."""
    db = str(tmp_path / "aa.db")
    rc = main(["abtest", "small-cnn", "--arm", "a=gloo", "--arm", "b=gloo", "--reps", "4", "--steps", "1",
               "--rep-warmup", "0", "--warmup", "1", "--micro-batch", "4", "--arm-price", "a=1000", "--arm-price",
               "b=2000", "--json", "--store", db])
    out = json.loads(capsys.readouterr().out)
    v = out["analysis"]["verdict"]
    assert rc == 0 and v["decision"] in ("tie", "inconclusive"), v["comparisons"]
    c = v["comparisons"][0]
    assert c["n_pairs"] == 4 and (v["recommended"] == "a" if v["decision"] == "tie" else c["more_pairs"] is not None)
    assert v["looks"] == [4] and v["final"] and out["analysis"]["plan"]["n_max"] == 4
    assert all(a["usd_per_million"] > 0 and a["cost_label"].startswith("projected")
               for a in out["analysis"]["arms"].values()) and out["analysis"]["cost_basis"] == "price"
    assert main(["runs", "show", out["run_id"], "--json", "--store", db]) == 0
    shown = json.loads(capsys.readouterr().out)
    names = [p["name"] for p in shown["points"]][2:]
    rounds = [[n.split()[0] for n in names[i:i + 2]] for i in range(0, 8, 2)]
    assert [n.split()[-1] for n in names] == ["0", "0", "1", "1", "2", "2", "3", "3"]
    assert rounds[1] == rounds[0][::-1] and rounds[3] == rounds[2][::-1]  # each block of two rounds: both orders
    assert set(shown["artifacts"]) == {"abtest", "abtest_analysis", "abtest_setup", "abtest_transport",
                                       "abtest_looks", "busyness"}
    assert shown["artifacts"]["busyness"]["samples"] > 0 and shown["artifacts"]["busyness"]["cores"] >= 1
    assert shown["params"]["arms"][0]["env"]["GLOO_SOCKET_IFNAME"] == "lo"
