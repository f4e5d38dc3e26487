"""The results store under kill -9 and across schema versions.

A child writes points in a tight loop and acknowledges each commit; it is SIGKILLed at
random moments (some while checkpointing the WAL), many times over one database. After
every kill: `PRAGMA integrity_check` is ok, every acknowledged point is there whole, and
sequence numbers have no gaps. Then a v1 database (the original schema) is upgraded to the
current one with every row kept, a stale 'running' run is flagged, and several processes
may open an old store at once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from raxlab.store import MIGRATIONS, SCHEMA_VERSION, Store
from tests.reliability.store_writer import samples

KILLS = int(os.environ.get("RAX_STORE_KILLS", 25))
RESULTS: dict = {}


def _kill_once(db: str, tag: str, rng: random.Random) -> tuple[str, int]:
    """Start a writer, SIGKILL it after a random delay; (run id, last acknowledged point)."""
    args = [sys.executable, "-m", "tests.reliability.store_writer", db, tag]
    if rng.random() < 0.5:
        args.append(str(rng.choice([1, 4, 16])))
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + 30
    while len(lines) < 2 and time.monotonic() < deadline:  # the run exists and a point committed
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, 0.4))
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    reader.join(5)
    assert lines and lines[0].startswith("run "), proc.stderr.read()
    acked = [int(x) for x in lines[1:] if x.strip().isdigit() and x.endswith("\n")]
    return lines[0].split()[1], max(acked, default=-1)


def _check(db: str, acked: dict[str, int]) -> int:
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        total = 0
        for run, last in acked.items():
            rows = con.execute("SELECT seq, name, result_json, samples_json FROM points WHERE run_id=? ORDER BY seq",
                               (run,)).fetchall()
            assert len(rows) >= last + 1, f"run {run}: acknowledged {last + 1} points, found {len(rows)}"
            for i, (seq, name, result, samp) in enumerate(rows):
                assert seq == i and name == f"p{i}" and json.loads(result)["i"] == i
                assert json.loads(samp) == samples(i)  # whole rows only
            total += len(rows)
        return total
    finally:
        con.close()


def test_kill_9_during_writes_never_loses_a_committed_point(tmp_path):
    db, rng, acked = str(tmp_path / "kill.db"), random.Random(os.environ.get("RAX_SEED", 11)), {}
    t0 = time.monotonic()
    for k in range(KILLS):
        run, last = _kill_once(db, f"k{k}", rng)
        acked[run] = last
        points = _check(db, acked)  # every earlier run is re-checked after every kill
    st = Store(db)
    assert all(r["stale"] for r in st.list_runs(limit=KILLS)), "killed writers show as stale"
    RESULTS.update(kills=KILLS, points=points, seconds=round(time.monotonic() - t0, 1))
    sys.stderr.write(f"\n[store] {KILLS} kill -9 during writes: integrity ok every time, "
                     f"{points} committed points all present\n")


def _v1_database(path) -> None:
    """A database exactly as schema 1 wrote it, with one run of every kind of row."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    for stmt in MIGRATIONS[0]:
        con.execute(stmt)
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.execute("INSERT INTO runs(id, kind, created_at, status, workload, spec_json, params_json, summary_json)"
                " VALUES ('20260101-000000-aaaa', 'compute', '2026-01-01T00:00:00', 'complete', 'tiny-lm',"
                " '{\"name\": \"tiny-lm\"}', '{\"b\": 1}', '{\"points\": 2}')")
    con.execute("INSERT INTO runs(id, kind, created_at, status) VALUES ('20260102-000000-bbbb', 'comm',"
                " '2026-01-02T00:00:00', 'running')")
    for seq in range(2):
        con.execute("INSERT INTO points(run_id, seq, kind, name, status, result_json, samples_json, created_at)"
                    " VALUES ('20260101-000000-aaaa', ?, 'compute', ?, 'ok', '{\"x\": 1}', '[0.1, 0.2]', 'now')",
                    (seq, f"b{seq}"))
    con.execute("INSERT INTO fingerprints VALUES ('20260101-000000-aaaa', 'host', 'm1', '{\"cpu\": \"x\"}')")
    con.execute("INSERT INTO artifacts VALUES ('20260101-000000-aaaa', 'card', '{\"params\": 5}', 'now')")
    con.close()


def test_v1_database_upgrades_keeping_every_row(tmp_path):
    db = tmp_path / "v1.db"
    _v1_database(db)
    st = Store(db)
    assert SCHEMA_VERSION >= 2 and st.schema_version() == SCHEMA_VERSION
    run = st.get_run("20260101-000000-aaaa")
    assert run["spec"] == {"name": "tiny-lm"} and run["summary"] == {"points": 2} and run["params"] == {"b": 1}
    assert [(p["seq"], p["name"], p["result"], p["samples"]) for p in run["points"]] == \
        [(0, "b0", {"x": 1}, [0.1, 0.2]), (1, "b1", {"x": 1}, [0.1, 0.2])]
    assert run["fingerprints"] == {"host": {"cpu": "x"}} and run["artifacts"] == {"card": {"params": 5}}
    old = st.get_run("20260102-000000-bbbb")
    assert old["writer"] == {"pid": None, "host": None} and old["stale"] is False  # unknown writer: not claimed
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    new = st.new_run("compute")  # the upgraded store takes new runs with their writer
    assert st.get_run(new)["writer"]["pid"] == os.getpid() and not st.get_run(new)["stale"]


def test_run_of_a_dead_writer_is_stale_and_listed_so(tmp_path, capsys):
    from raxlab.cli.main import main

    db = str(tmp_path / "s.db")
    code = "import sys; from raxlab.store import Store; Store(sys.argv[1]).new_run('compute', workload='w')"
    subprocess.run([sys.executable, "-c", code, db], check=True)  # exits without finishing its run
    run = Store(db).list_runs()[0]
    assert run["status"] == "running" and run["stale"] and run["writer"]["pid"] != os.getpid()
    assert main(["runs", "list", "--store", db]) == 0
    assert "stale (pid" in capsys.readouterr().out


def test_many_processes_open_an_old_store_at_once(tmp_path):
    db = tmp_path / "race.db"
    _v1_database(db)
    # each process imports first, then all open the store at the same instant
    code = ("import sys, time; from raxlab.store import Store; time.sleep(max(0, float(sys.argv[2]) - time.time()));"
            " print(Store(sys.argv[1]).schema_version())")
    at = str(time.time() + 3)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(db), at], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(6)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [e for _, e in outs]
    assert {o.strip() for o, _ in outs} == {str(SCHEMA_VERSION)}
    assert Store(db).get_run("20260101-000000-aaaa")["n_points"] == 2
