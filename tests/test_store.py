import sqlite3

import pytest

from raxlab.errors import RaxError
from raxlab.store import SCHEMA_VERSION, Store


def test_run_points_fingerprints_and_artifacts_round_trip(tmp_path):
    st = Store(tmp_path / "r.db")
    rid = st.new_run("compute", workload="tiny-lm", spec={"a": 1}, params={"p": 2})
    st.add_point(rid, "compute", "fp32/b1", "ok", params={"b": 1}, result={"t": 0.5}, samples=[0.5, 0.6])
    st.add_point(rid, "compute", "fp8/b1", "unsupported", error="no fp8 on cpu")
    st.add_fingerprint(rid, {"machine_id": "abc", "cpu": "x"})
    st.put_artifact(rid, "fit", {"alpha": float("nan"), "beta": 1.0})
    st.finish_run(rid, "complete")
    run = Store(tmp_path / "r.db").get_run(rid[:10])
    assert run["status"] == "complete" and run["n_points"] == 2
    assert [p["status"] for p in run["points"]] == ["ok", "unsupported"]
    assert run["points"][0]["samples"] == [0.5, 0.6]
    assert run["fingerprints"]["host"]["machine_id"] == "abc"
    assert run["artifacts"]["fit"] == {"alpha": None, "beta": 1.0}  # NaN stored as null


def test_complete_runs_are_immutable(tmp_path):
    st = Store(tmp_path / "r.db")
    rid = st.new_run("x")
    st.finish_run(rid)
    with pytest.raises(ValueError, match="immutable"):
        st.add_point(rid, "x", "n", "ok")


def test_unknown_run_lists_recent_ones(tmp_path):
    st = Store(tmp_path / "r.db")
    rid = st.new_run("x")
    with pytest.raises(RaxError, match=rid):
        st.resolve("nope")
    assert st.resolve("latest") == rid


def test_wal_and_schema_version(tmp_path):
    st = Store(tmp_path / "r.db")
    assert st.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert st.schema_version() == SCHEMA_VERSION


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "r.db"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    db.commit()
    db.close()
    with pytest.raises(RaxError, match="schema version 999"):
        Store(path)


def test_env_var_selects_store(tmp_path, monkeypatch):
    monkeypatch.setenv("RAX_STORE", str(tmp_path / "env.db"))
    assert Store().path == tmp_path / "env.db"
