"""One CLI grammar: WORKLOAD positional, one meaning per shared flag (documented), comma lists,
deprecated spellings that warn on stderr, and `--json` stdout that is JSON and nothing else."""

import argparse
import json
import re
from pathlib import Path

import pytest

from raxlab.cli.main import build_parser, main

DEVELOPING = Path(__file__).resolve().parents[2] / "docs" / "DEVELOPING.md"


def _commands(parser=None, path=()):
    parser = parser or build_parser()
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            for name, sub in a.choices.items():
                if any(isinstance(x, argparse._SubParsersAction) for x in sub._actions):
                    yield from _commands(sub, (*path, name))
                else:
                    yield " ".join((*path, name)), sub


def _visible(sub):
    return [a for a in sub._actions if a.help != argparse.SUPPRESS]


def test_workload_is_the_first_positional_everywhere():
    for name, sub in _commands():
        for a in sub._actions:
            if a.dest == "workload":
                assert not a.option_strings, f"rax {name}: WORKLOAD must be positional"
                first = next(x for x in sub._actions if not x.option_strings and x.dest != "help")
                assert first is a, f"rax {name}: WORKLOAD must come first"


def test_every_shared_flag_has_one_documented_meaning():
    table = DEVELOPING.read_text().split("## CLI grammar", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`(--[a-z0-9-]+)", table))
    uses: dict[str, set] = {}
    for name, sub in _commands():
        for a in _visible(sub):
            for o in a.option_strings:
                if o.startswith("--") and o not in ("--help", "--debug"):
                    uses.setdefault(o, set()).add(name)
    shared = {o for o, cmds in uses.items() if len(cmds) > 1}
    missing = sorted(shared - documented)
    assert not missing, f"shared flags missing from the DEVELOPING.md grammar table: {missing}"


def test_list_valued_flags_take_comma_lists():
    """No visible option takes several space-separated values (comma lists are the grammar)."""
    for name, sub in _commands():
        for a in _visible(sub):
            if a.option_strings:
                assert a.nargs not in ("+", "*") and not (isinstance(a.nargs, int) and a.nargs > 1), (name, a.option_strings)


def test_deprecated_spelling_warns_on_stderr_and_still_works(capsys):
    assert main(["predict", "llama3-8b", "--gpu", "h100-sxm", "--infer", "--batch", "1", "4", "--json"]) == 0
    cap = capsys.readouterr()
    assert [r["batch"] for r in json.loads(cap.out)["per_batch"]] == [1, 4]
    assert "--batch is deprecated here; use --decode-batch" in cap.err


def test_runs_list_takes_the_documented_kinds(capsys):
    from raxlab.store import Store

    db = Store()
    a, b = db.new_run("bench.comm"), db.new_run("compute", workload="tiny-lm")
    assert main(["runs", "list", "--kind", "comm", "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [a]
    assert main(["runs", "list", "--kind", "bench.comm,compute", "--json"]) == 0
    assert {r["id"] for r in json.loads(capsys.readouterr().out)} == {a, b}
    assert main(["runs", "list", "--kind", "compue"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rax: error: --kind: unknown run kind 'compue'; did you mean compute") and err.count("\n") == 1


def _stored_compute_run() -> str:
    from raxlab.store import Store

    db = Store()
    rid = db.new_run("compute", workload="tiny-lm", params={"precisions": "fp32"})
    db.add_point(rid, "compute", "train/fp32/b1", "ok", params={"mode": "train", "precision": "fp32", "batch": 1},
                 result={"median_s": 0.1}, samples=[0.1, 0.11, 0.1])
    db.finish_run(rid)
    return rid


JSON_COMMANDS = [
    ["presets"],
    ["doctor"],
    ["catalog", "list", "nic"],
    ["catalog", "show", "h100-sxm"],
    ["catalog", "validate"],
    ["card", "tiny-lm"],
    ["predict", "llama3-8b", "--gpu", "h100-sxm", "--gpus", "8", "--tp", "2"],
    ["predict", "llama3-8b", "--gpu", "h100-sxm", "--gpus", "8", "--tp", "1,2,4,8"],
    ["plan", "megatron-1.7b", "--accelerators", "h100-sxm", "--fabrics", "ib-ndr", "--max-nodes", "4"],
    ["runs", "list"],
    ["runs", "show", "{run}"],
    ["runs", "export", "{run}", "--format", "json", "--out", "-"],
    ["launch", "--", "rax", "bench", "comm"],
    ["import", "nccl-tests", str(Path(__file__).parents[1] / "evidence" / "data" / "all_reduce_perf_2x8_h100_ib.log")],
    ["import", "train-log", "llama3-8b", str(Path(__file__).parents[1] / "evidence" / "data" / "hf_trainer_llama.log")],
]


@pytest.mark.parametrize("argv", JSON_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_json_stdout_is_only_json(argv, capfd):
    """stdout (the file descriptor, children included) parses as one JSON document."""
    rid = _stored_compute_run()
    argv = [a.replace("{run}", rid) for a in argv]
    code = main([*argv, "--json"])
    out = capfd.readouterr().out
    assert code in (0, 4, 5), code
    json.loads(out)
