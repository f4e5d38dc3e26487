"""`rax run` ends with the answer: what to buy, cost, time to target and the verdicts with how sure
they are, in the terminal above the report path, and the same as data under "answer" with --json.
(The plan here is `rax plan`'s on a small search space; `rax run` stores the same document.)"""

import json

from raxlab.cli import run as run_cmd
from raxlab.cli.main import main
from raxlab.plan.answer import answer

PLAN = ["plan", "megatron-1.7b", "--accelerators", "h100-sxm", "--fabrics", "tcp-25,ib-ndr", "--target",
        "deadline_days=6", "--catalog-override", "none", "--json"]


def test_the_run_ends_with_the_answer_above_the_report(capsys):
    assert main(PLAN) == 0
    a = answer(json.loads(capsys.readouterr().out))
    assert a["buy"]["accelerator"] == "h100-sxm" and a["buy"]["nodes"] >= 1 and a["cost"]["capex_usd"] > 0
    assert a["time_to_target"]["s"] > 0 and a["time_to_target"]["label"] == "projected" and a["meets_targets"]
    assert {"network", "precision", "accelerator"} == set(a["verdicts"])
    assert a["verdicts"]["network"]["basis"] == "projected" and a["verdicts"]["network"]["tie_threshold"] > 0
    summary = {"run_id": "r1", "stages": {"plan": "ok", "report": "ok"}, "answer": a,
               "report": {"path": "/tmp/r1/report.html"}}
    json.loads(json.dumps(summary, allow_nan=False))  # what `rax run --json` prints
    run_cmd._final(summary)
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "report: /tmp/r1/report.html"
    buy = next(i for i, ln in enumerate(lines) if "- Buy " in ln)
    assert 0 < buy < len(lines) - 1 and any("network verdict: basis projected" in ln for ln in lines)


def test_no_plan_no_answer(capsys):
    assert answer(None) is None and answer({"recommendation": None}) is None
    run_cmd._final({"run_id": "r2", "stages": {"plan": "failed"}, "answer": None, "report": None})
    out = capsys.readouterr().out
    assert "no purchase guideline" in out and out.rstrip().endswith("report: rax report r2")
