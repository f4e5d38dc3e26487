"""rax accept on a real `rax plan` file with stored runs: projections, tolerances, verdicts, report."""

import json

import pytest

from raxlab.accept.checks import ddp_checks, fabric_a2a_check, fabric_check, overall
from raxlab.accept.plan import compute_step_s, read_plan
from raxlab.catalog import load_catalog
from raxlab.cli.main import main
from raxlab.errors import RaxError
from raxlab.store import Store


@pytest.fixture(scope="module")
def plan_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("plan") / "plan.json"
    assert main(["plan", "llama3-8b", "--accelerators", "h100-sxm", "--fabrics", "ib-ndr", "--max-nodes", "16",
                 "--out", str(path), "--json"]) in (0, 5)  # 5: the closest plan (16 nodes miss the deadline)
    return str(path)


@pytest.fixture(scope="module")
def target(plan_path):
    return read_plan(plan_path)


def _comm_run(db: Store, ranks: int, busbw: float, transport: str = "nccl-ib", a2a: float | None = None) -> str:
    rid = db.new_run("bench.comm", params={"transport": transport, "ranks": ranks, "torchrun_args": []})
    fit = {"collective": "all_reduce", "dtype": "fp32", "ranks": ranks, "transport": transport, "alpha_us": 30.0,
           "beta_GBps": busbw}
    fits = [fit] + ([{**fit, "collective": "all_to_all", "beta_GBps": a2a}] if a2a is not None else [])
    db.put_artifact(rid, "comm_fit", fits)
    db.finish_run(rid)
    return rid


def _ddp_run(db: Store, t, single: float, nosync: float, sync: float, **change) -> str:
    # the DDP measurement matches the plan's layout (FSDP when the plan shards weights with ZeRO-3)
    params = {"ranks": t.gpus, "batch": t.layout["micro_batch"], "precision": t.precision,
              "fsdp": int(t.layout.get("zero", 0)) >= 3, **change}
    rid = db.new_run("bench.ddp", workload=change.pop("workload", t.workload), params=params)
    db.put_artifact(rid, "ddp_setup", {"batch_per_rank": params["batch"]})
    db.put_artifact(rid, "ddp", {"single_step": {"median": single}, "nosync_step": {"median": nosync},
                                 "step": {"median": sync}})
    db.finish_run(rid)
    return rid


def test_the_plan_says_what_the_cluster_must_show(target):
    cat = load_catalog()
    assert target.nodes > 1 and target.fabric == "ib-ndr" and target.band is not None
    th = {r["collective"]: r for r in target.thresholds}
    assert set(th) == {"all_reduce", "all_to_all"} and th["all_reduce"]["ranks"] == target.gpus
    c = fabric_check(target, None, cat)
    assert c.projected == pytest.approx(th["all_reduce"]["projected_GBps"]) and c.verdict == "not measured"
    assert c.bound == pytest.approx(0.9 * c.projected)  # the plan's threshold: 90 % of its projection at scale
    a2a = fabric_a2a_check(target, None, cat)
    assert a2a.bound == pytest.approx(0.9 * th["all_to_all"]["projected_GBps"]) and a2a.bound < c.bound
    comp = compute_step_s(target)
    terms = target.terms
    assert comp == pytest.approx(terms["compute"] / target.grad_accum + terms["optimizer"] + terms["step_overhead"])
    step = ddp_checks(target, None)[1]
    assert step.bound == pytest.approx(target.projected["step_time_s"] / (1 + target.band.low))
    assert step.bound == pytest.approx(target.projected["step_time_band_s"][1])  # the plan's own slow end
    assert overall([c, step])[0] == "incomplete"


def test_as_projected_passes_and_a_slow_fabric_fails_by_name(tmp_path, target, plan_path, capsys):
    db = Store(str(tmp_path / "a.db"))
    step, comp = target.projected["step_time_s"], compute_step_s(target)
    accum = target.grad_accum
    th = {r["collective"]: r["projected_GBps"] for r in target.thresholds}
    good = _comm_run(db, target.gpus, th["all_reduce"], a2a=th["all_to_all"])
    ddp = _ddp_run(db, target, comp, comp, step - (accum - 1) * comp)
    out = tmp_path / "ok"
    assert main(["accept", plan_path, "--run", good, "--run", ddp, "--store", db.path.as_posix(), "--out-dir", str(out),
                 "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["verdict"] == "pass" and {c["verdict"] for c in res["checks"]} == {"pass", "not measured"}
    assert json.loads((out / "acceptance.json").read_text())["verdict"] == "pass"
    html = (out / "acceptance.html").read_text()
    assert "fabric bus bandwidth" in html and "PASS" in html and "<script" not in html
    slow = _comm_run(db, target.gpus, 0.5 * th["all_reduce"], a2a=th["all_to_all"])
    assert main(["accept", plan_path, "--run", slow, "--run", ddp, "--store", db.path.as_posix(), "--out-dir",
                 str(tmp_path / "bad")]) == 1
    text = capsys.readouterr().out
    assert "FAIL: fabric bus bandwidth" in " ".join(text.split())


def test_an_older_plan_without_thresholds_keeps_the_catalogue_floor(tmp_path, plan_path):
    plan = json.loads(open(plan_path).read())
    del plan["acceptance"]["thresholds"]
    p = tmp_path / "old.json"
    p.write_text(json.dumps(plan))
    t, cat = read_plan(str(p)), load_catalog()
    fab = cat.fabric(t.fabric)
    c = fabric_check(t, None, cat)
    assert c.projected == pytest.approx(t.rails * fab.effective_Bps / 1e9) and fabric_a2a_check(t, None, cat) is None


def test_a_bad_threshold_row_is_a_one_line_error(tmp_path, plan_path):
    plan = json.loads(open(plan_path).read())
    plan["acceptance"]["thresholds"]["rows"][0]["min_GBps"] = -1
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(plan))
    with pytest.raises(RaxError, match="min_GBps must be a finite number > 0"):
        read_plan(str(p))


def test_a_run_that_is_not_the_plan_is_not_compared(tmp_path, target):
    db = Store(str(tmp_path / "n.db"))
    wrong_batch = db.get_run(_ddp_run(db, target, 1.0, 1.0, 1.0, batch=target.layout["micro_batch"] + 1))
    checks = ddp_checks(target, wrong_batch)
    assert {c.verdict for c in checks} == {"not comparable"} and "batch per rank" in checks[0].note
    tcp = db.get_run(_comm_run(db, target.gpus, 100.0, transport="nccl-socket"))
    c = fabric_check(target, tcp, load_catalog())
    assert c.verdict == "not comparable" and "RDMA" in c.note
    few = db.get_run(_comm_run(db, 2, 100.0))
    assert "ran on 2 ranks" in fabric_check(target, few, load_catalog()).note
    assert overall([c])[0] == "incomplete"


def test_faster_than_projected_passes_with_a_note(tmp_path, target):
    db = Store(str(tmp_path / "f.db"))
    comp = compute_step_s(target)
    run = db.get_run(_ddp_run(db, target, comp * 0.5, comp * 0.5, target.projected["step_time_s"] * 0.5))
    checks = ddp_checks(target, run)
    assert all(c.verdict == "pass" and "better than projected" in c.note for c in checks)


@pytest.mark.parametrize("content, match", [
    ("not json", "is not JSON"),
    (json.dumps({"schema": "other/1"}), "plan schema 'other/1'"),
    (json.dumps({"schema": "raxlab.plan/1"}), "no acceptance block"),
    (json.dumps({"schema": "raxlab.plan/1", "acceptance": {"projected": {"p99_latency_s": 0.1}}}), "inference"),
])
def test_bad_plans_are_one_line_errors(tmp_path, content, match):
    p = tmp_path / "p.json"
    p.write_text(content)
    with pytest.raises(RaxError, match=match):
        read_plan(str(p))


def test_a_multi_node_plan_without_a_rendezvous_says_how_to_run_it(plan_path, capsys):
    assert main(["accept", plan_path]) == 2
    err = capsys.readouterr().err
    assert "--rdzv-endpoint" in err and "every node" in err
