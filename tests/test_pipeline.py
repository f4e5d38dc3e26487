"""The `rax run` pipeline: stages recorded, interrupted runs resumed, bad options refused."""

import pytest

from raxlab.errors import RaxError
from raxlab.pipeline import Pipeline, RunOptions
from raxlab.store import Store

LIGHT = ["io", "comm", "ddp", "calibrate", "plan", "report"]


def _interrupt_at(stage: str, log: list):
    def say(msg: str):
        log.append(msg)
        if msg.startswith("[") and msg.endswith(f"{stage} ..."):
            raise KeyboardInterrupt
    return say


def test_interrupted_run_resumes_with_the_stages_not_done(tmp_path):
    store = str(tmp_path / "r.db")
    log: list[str] = []
    opts = RunOptions(workload="small-cnn", quick=True, skip=LIGHT, store=store)
    with pytest.raises(KeyboardInterrupt):
        Pipeline(opts, say=_interrupt_at("kernels", log)).run()
    st = Store(store)
    run = st.get_run(st.list_runs(kind="run")[0]["id"])
    assert run["kind"] == "run" and run["status"] == "interrupted"
    stages = run["artifacts"]["stages"]
    assert stages["card"]["status"] == "ok" and stages["compute"]["status"] == "ok"
    assert "kernels" not in stages
    compute_child = stages["compute"]["run_id"]
    assert st.get_run(compute_child)["kind"] == "compute"

    log2: list[str] = []
    summary = Pipeline(RunOptions(resume=run["id"], quick=True, skip=LIGHT, store=store), say=log2.append).run()
    assert summary["stages"]["kernels"] == "ok" and summary["stages"]["io"] == "skipped"
    assert any("compute: kept from the interrupted run" in m for m in log2)
    again = Store(store).get_run(run["id"])
    assert again["status"] == "complete"
    assert again["artifacts"]["stages"]["compute"]["run_id"] == compute_child  # not re-measured
    assert "card" in again["artifacts"]


def test_unknown_stage_and_bad_budget_are_one_line_errors(tmp_path):
    with pytest.raises(RaxError, match="--skip: unknown stage 'nope'"):
        Pipeline(RunOptions(skip=["nope"], store=str(tmp_path / "r.db")))
    with pytest.raises(RaxError, match="--max-minutes"):
        Pipeline(RunOptions(max_minutes=0, store=str(tmp_path / "r.db")))


def test_resume_refuses_a_non_pipeline_run(tmp_path):
    st = Store(tmp_path / "r.db")
    rid = st.new_run("compute")
    with pytest.raises(RaxError, match="not a `rax run`"):
        Pipeline(RunOptions(resume=rid, store=str(tmp_path / "r.db"))).run()
