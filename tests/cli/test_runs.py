import json

from raxlab.cli.main import main
from raxlab.store import Store


def test_list_and_show_stored_run(capsys):
    st = Store()
    rid = st.new_run("compute", workload="tiny-lm")
    st.add_point(rid, "compute", "fp32/b1", "ok", result={"step_s": 0.1}, samples=[0.1, 0.11])
    st.add_point(rid, "compute", "fp8/b1", "unsupported", error="fp8 needs CUDA")
    st.finish_run(rid)
    assert main(["runs", "list", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in runs] == [rid] and runs[0]["n_points"] == 2
    assert main(["runs", "show", rid[:12], "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["points"][1]["status"] == "unsupported"
    assert main(["runs", "show", "latest"]) == 0
    out = capsys.readouterr().out
    assert "fp8 needs CUDA" in out and "tiny-lm" in out


def test_unknown_run_is_one_line_error(capsys):
    assert main(["runs", "show", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rax: error: RUN: no run 'nope'") and err.count("\n") == 1


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out
