"""`rax plan`: --json plan file, human guideline, stored runs, one-line errors."""

import json

import pytest

from raxlab.cli.main import main

ARGS = ["plan", "megatron-1.7b", "--accelerators", "h100-sxm", "--fabrics", "tcp-25,ib-ndr",
        "--target", "deadline_days=6", "--catalog-override", "none"]


def test_json_and_plan_file(capsys, tmp_path):
    out, files = tmp_path / "plan.json", tmp_path / "launch"
    assert main([*ARGS, "--json", "--out", str(out), "--artefacts", str(files)]) == 0
    cap = capsys.readouterr()
    printed = json.loads(cap.out)  # the launch files are named on stderr; stdout stays the plan
    assert json.loads(out.read_text()) == printed
    _launch_files_match_the_recommendation(printed, files, cap.err)
    for k in ("recommendation", "pareto", "verdicts", "alternatives", "sensitivity", "pruned", "assumptions",
              "acceptance", "guideline"):
        assert k in printed, k
    assert printed["recommendation"]["fabric"] in ("tcp-25", "ib-ndr")


def _launch_files_match_the_recommendation(plan, files, err):
    assert f"launch files to {files}" in err
    block, rec = plan["launch"], plan["recommendation"]
    assert (block["nodes"], block["gpus"], block["precision"]) == (rec["nodes"], rec["gpus"], rec["precision"])
    keys = ("tp", "pp", "dp", "micro_batch", "global_batch", "zero", "recompute")
    assert {k: block["layout"][k] for k in keys} == {k: rec["layout"][k] for k in keys}
    assert block["fabric"]["name"] == rec["fabric"] and block["fabric"]["rails"] == rec["rails"]
    ds = json.loads((files / "deepspeed.json").read_text())
    assert (ds["train_micro_batch_size_per_gpu"], ds["train_batch_size"]) == (rec["layout"]["micro_batch"],
                                                                               rec["layout"]["global_batch"])
    sbatch = (files / "train.sbatch").read_text()
    assert f"#SBATCH --nodes={rec['nodes']}" in sbatch and "projected" in (files / "README.md").read_text()


def test_human_guideline(capsys):
    assert main(ARGS) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].startswith("rax plan megatron-1.7b")
    for part in ("Buy 2 x hgx-h100-8gpu", "network verdict (projected)", "CAPEX lines", "precision verdict",
                 "scale verdict", "sensitivity", "Pareto front", "pruned:"):
        assert part in text, part


def test_uses_a_stored_run(capsys, tmp_path):
    from raxlab.store import Store

    db = tmp_path / "runs.db"
    store = Store(db)
    run = store.new_run("bench.comm", params={"torchrun_args": ["--nnodes", "2"], "emulate": None})
    store.put_artifact(run, "comm_fit", [{"collective": "all_reduce", "transport": "nccl-socket", "ranks": 16,
                                          "dtype": "float32", "alpha_us": 300.0, "beta_GBps": 12.0}])
    store.finish_run(run)
    assert main([*ARGS, "--run", run, "--store", str(db), "--measured-fabric", "tcp-25", "--measured-rails", "8",
                 "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["measured"]["fabric_fits"]["tcp-25"]["efficiency"] == pytest.approx(12e9 / (8 * 25e9 / 8))


@pytest.mark.parametrize("extra, start", [
    (["--target", "deadline_dayz=3"], "rax: error: targets.deadline_dayz:"),
    (["--target", "deadline_days=0"], "rax: error: targets.deadline_days: must be > 0"),
    (["--accelerators", "h100"], "rax: error: --accelerators: unknown accelerator 'h100'"),
    (["--measured-fabric", "ib-nd"], "rax: error: --measured-fabric: unknown fabric 'ib-nd'"),
    (["--oversubscription", "0.5"], "rax: error: --oversubscription:"),
])
def test_bad_input_is_one_line(capsys, extra, start):
    assert main([*ARGS, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(start) and "\n" not in err


def test_no_plan_meets_the_targets_exits_5(capsys):
    args = [a if a != "deadline_days=6" else "deadline_days=0.001" for a in ARGS]
    assert main([*args, "--json"]) == 5
    assert json.loads(capsys.readouterr().out)["recommendation"]["status"] == "closest"


def test_run_and_target_take_comma_lists(capsys):
    args = [a for a in ARGS if a not in ("--target", "deadline_days=6")]
    assert main([*args, "--target", "deadline_days=6,budget_usd=1e9", "--json"]) == 0
    o = json.loads(capsys.readouterr().out)["objective"]
    assert o["caps"]["budget_usd"] == 1e9 and o["deadline_s"] == 6 * 86400
