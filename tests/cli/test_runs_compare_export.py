"""`rax runs compare` and `rax runs export` on a real stored comm run (gloo, 2 ranks, tiny sweep).

Compare is checked against runs whose answer is known: the run against itself (tie), against
a copy with the same samples reordered (tie), and against a copy whose every sample is slower
by ten medians on a machine with another id (significantly slower, with a warning).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest

from raxlab.cli.main import main
from raxlab.store import Store


@pytest.fixture(scope="module")
def comm_run(tmp_path_factory):
    store = str(tmp_path_factory.mktemp("compare") / "rax.db")
    proc = subprocess.run([sys.executable, "-m", "raxlab", "bench", "comm", "--ranks", "2", "--transport", "gloo",
                           "--collectives", "all_reduce", "-b", "1K", "-e", "64K", "-f", "4", "--iters", "8",
                           "--warmup", "2", "--json", "--store", store],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "RAX_STORE": store})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return store, json.loads(proc.stdout)["run_id"]


def _copy(store: str, rid: str, change, machine_id: str | None = None) -> str:
    """A new run with the same points, samples passed through `change` (list -> list)."""
    st = Store(store)
    src = st.get_run(rid)
    new = st.new_run(src["kind"], workload=src["workload"], params=src["params"])
    for role, fp in src["fingerprints"].items():
        st.add_fingerprint(new, {**fp, "machine_id": machine_id or fp.get("machine_id")}, role=role)
    for p in src["points"]:
        st.add_point(new, p["kind"], p["name"], p["status"], params=p["params"], result=p["result"],
                     samples=change(p["samples"]) if p["samples"] else None, error=p["error"])
    st.finish_run(new)
    return new


def _compare(capsys, store, a, b, *extra) -> dict:
    assert main(["runs", "compare", a, b, "--json", "--store", store, *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_run_against_itself_and_reordered_samples_is_a_tie(comm_run, capsys):
    store, rid = comm_run
    res = _compare(capsys, store, rid, rid)
    assert res["same_machine"] and res["warnings"] == [] and res["fingerprint_changes"] == []
    assert len(res["points"]) == 4 and all(p["verdict"] == "tie" for p in res["points"])
    shuffled = _copy(store, rid, lambda s: s[::-1])
    res = _compare(capsys, store, rid, shuffled)
    assert all(p["verdict"] == "tie" and p["ratio"] == pytest.approx(1.0) for p in res["points"])
    assert res["only_in_a"] == [] and res["only_in_b"] == []


def test_a_clearly_slower_run_on_another_machine(comm_run, capsys):
    store, rid = comm_run
    st = Store(store)
    med = {p["name"]: sorted(p["samples"])[len(p["samples"]) // 2] for p in st.get_run(rid)["points"]}
    shift = 10 * max(med.values())
    slow = _copy(store, rid, lambda s: [x + shift for x in s], machine_id="another-machine")
    res = _compare(capsys, store, rid, slow)
    assert not res["same_machine"] and "different machines" in res["warnings"][0]
    assert any(c["key"] == "machine_id" for c in res["fingerprint_changes"])
    for p in res["points"]:
        assert p["verdict"] == "slower", p
        assert p["p_value"] < 0.05 and p["ci"][0] > 1.0 and p["ratio"] > 1.05
    assert res["summary"] == {"slower": 4}
    assert main(["runs", "compare", rid, slow, "--store", store]) == 0
    out = capsys.readouterr().out
    assert "warning" in out and "slower" in out and "machine_id" in out


def test_bad_compare_input_is_a_one_line_error(comm_run, capsys):
    store, rid = comm_run
    assert main(["runs", "compare", rid, "nope", "--store", store]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["runs", "compare", rid, rid, "--threshold", "2", "--store", store]) == 2
    assert "--threshold" in capsys.readouterr().err


def _stored_samples(store: str, rid: str) -> dict[str, list[float]]:
    return {p["name"]: p["samples"] for p in Store(store).get_run(rid)["points"]}


def test_export_csv_has_params_results_and_raw_samples(comm_run, tmp_path, capsys):
    store, rid = comm_run
    out = tmp_path / "points.csv"
    assert main(["runs", "export", rid, "--format", "csv", "--out", str(out), "--store", store]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 4
    for col in ("run_id", "kind", "name", "status", "param.size_bytes", "result.busbw_GBps", "n_samples", "samples"):
        assert col in rows[0]
    stored = _stored_samples(store, rid)
    for r in rows:
        assert json.loads(r["samples"]) == stored[r["name"]] and int(r["n_samples"]) == len(stored[r["name"]])
        assert float(r["result.busbw_GBps"]) > 0


def test_export_parquet_round_trips(comm_run, tmp_path, capsys):
    import pyarrow.parquet as pq

    store, rid = comm_run
    out = tmp_path / "points.parquet"
    assert main(["runs", "export", rid, "--format", "parquet", "--out", str(out), "--store", store]) == 0
    table = pq.read_table(out).to_pylist()
    stored = _stored_samples(store, rid)
    assert len(table) == 4
    assert all(r["samples"] == stored[r["name"]] and r["param.size_bytes"] > 0 for r in table)


def test_export_json_to_stdout_and_default_path(comm_run, capsys):
    store, rid = comm_run
    assert main(["runs", "export", rid, "--format", "json", "--out", "-", "--store", store]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 4 and all(isinstance(r["samples"], list) for r in rows)
    assert main(["runs", "export", rid, "--format", "csv", "--json", "--store", store]) == 0
    where = json.loads(capsys.readouterr().out)
    assert where["rows"] == 4 and where["path"].endswith(f"reports/{rid}/points.csv")
    assert main(["runs", "export", rid, "--format", "parquet", "--out", "-", "--store", store]) == 2
