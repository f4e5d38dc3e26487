"""What `--store` may point at (issue 20: a read-only store gave sqlite3.OperationalError on the
first write; a store with the right stamp but other columns gave tracebacks; `rax runs list` on
another application's SQLite file added RA:X's tables to it and switched it to WAL)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from raxlab.errors import RaxError
from raxlab.store import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, Store
from tests.conftest import is_root
from tests.reliability.conftest import assert_cli_error, cli

READ_COMMANDS = (("runs", "list"), ("runs", "show", "latest"), ("runs", "export", "latest", "--out", "-"),
                 ("report", "latest", "--format", "md", "--out", "-"), ("runs", "compare", "latest", "latest"))


def _digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _family(path) -> list[str]:
    d = os.path.dirname(path)
    return sorted(n for n in os.listdir(d) if n.startswith(os.path.basename(path)))


def _foreign(path, app_id: int = 0) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT)")
    con.execute("INSERT INTO moz_places(url) VALUES ('https://example.org')")
    if app_id:
        con.execute(f"PRAGMA application_id = {app_id}")
    con.commit()
    con.close()


def _old_store(path, version: int = SCHEMA_VERSION, run: bool = True) -> None:
    """A store as the previous release wrote it: the schema stamp, no application_id."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    for stmts in MIGRATIONS[:version]:
        for s in stmts:
            con.execute(s)
    con.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(version),))
    if run:
        con.execute("INSERT INTO runs(id, kind, created_at, status, workload) VALUES "
                    "('20260101-000000-aaaa', 'compute', '2026-01-01T00:00:00', 'complete', 'w')")
    con.close()


@pytest.mark.parametrize("app_id", [0, 0x5F4D4F5A])
def test_another_applications_database_is_refused_and_left_untouched(tmp_path, app_id):
    db = tmp_path / "places.sqlite"
    _foreign(db, app_id)
    before, family = _digest(db), _family(db)
    for argv in READ_COMMANDS:
        code, _, err = cli(*argv, "--store", db)
        assert "another application" in assert_cli_error(code, err), argv
    with pytest.raises(RaxError, match="another application"):
        Store(db)  # a write command too
    assert _digest(db) == before and _family(db) == family
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")] == ["moz_places"]


@pytest.mark.parametrize("content", [b"not a database at all\n" * 10, b"SQLite format 3", b"\0" * 4096])
def test_a_file_that_is_not_sqlite_is_refused_on_read_and_write(tmp_path, content):
    db = tmp_path / "rax.db"
    db.write_bytes(content)
    for argv in READ_COMMANDS[:2]:
        assert_cli_error(*cli(*argv, "--store", db)[::2])
    with pytest.raises(RaxError) as exc:
        Store(db)
    assert "\n" not in str(exc.value)
    assert db.read_bytes() == content


def test_a_read_only_command_on_a_missing_store_creates_nothing(tmp_path):
    db = tmp_path / "sub" / "none.db"
    code, out, err = cli("runs", "list", "--store", db)
    assert code == 0 and "no runs stored yet" in out, err
    code, _, err = cli("runs", "show", "latest", "--store", db)
    assert "no results store at" in assert_cli_error(code, err)
    assert not (tmp_path / "sub").exists()


def test_read_only_commands_never_migrate_or_mark_an_older_store(tmp_path):
    db = tmp_path / "v1.db"
    _old_store(db, version=1)
    before = _digest(db)
    for argv in (("runs", "list"), ("runs", "show", "latest"), ("report", "latest", "--format", "md", "--out", "-")):
        code, out, err = cli(*argv, "--store", db)
        assert code == 0, (argv, err)
    con = sqlite3.connect(db)
    assert con.execute("SELECT value FROM meta").fetchone()[0] == "1"
    assert con.execute("PRAGMA application_id").fetchone()[0] == 0
    con.close()
    assert _digest(db) == before
    st = Store(db)  # a write command migrates it and marks it as RA:X's
    assert st.schema_version() == SCHEMA_VERSION
    assert st.db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert st.get_run("latest")["workload"] == "w"


def test_a_stamped_store_with_other_columns_is_one_line(tmp_path):
    db = tmp_path / "odd.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    con.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    con.execute("CREATE TABLE runs (id TEXT, colour TEXT)")
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    con.commit()
    con.close()
    for argv in READ_COMMANDS[:2]:
        assert "runs" in assert_cli_error(*cli(*argv, "--store", db)[::2])
    with pytest.raises(RaxError, match="schema version"):
        Store(db)


def test_special_files_as_the_store_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo.db"
    os.mkfifo(fifo)
    for path in (fifo, tmp_path):
        for argv in (("runs", "list"), ("bench", "io", "small-cnn")):
            assert_cli_error(*cli(*argv, "--store", path)[::2])


def test_a_damaged_record_is_one_line(tmp_path):
    db = tmp_path / "d.db"
    st = Store(db)
    rid = st.new_run("compute", workload="w", params={"a": 1})
    st.finish_run(rid)
    st.db.execute("UPDATE runs SET params_json='{not json'")
    st.close()
    assert_cli_error(*cli("runs", "show", rid, "--store", db)[::2])


def _read_only(path):
    """Make `path` unwritable for this process: a read-only bind mount of its folder as root
    (root ignores file modes), chmod otherwise. Returns an undo function."""
    d = path.parent
    if is_root():
        subprocess.run(["mount", "--bind", str(d), str(d)], check=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(d)], check=True)
        return lambda: subprocess.run(["umount", "-l", str(d)], check=False)
    os.chmod(path, 0o444)
    os.chmod(d, 0o555)
    return lambda: (os.chmod(d, 0o755), os.chmod(path, 0o644))


def test_a_read_only_store_reads_and_refuses_the_first_write_in_one_line(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    db = d / "rax.db"
    st = Store(db)
    rid = st.new_run("compute", workload="w")
    st.finish_run(rid)
    st.close()
    undo = _read_only(db)
    try:
        code, out, err = cli("runs", "list", "--store", db)
        assert code == 0 and rid in out, err
        with pytest.raises(RaxError, match="read-only") as exc:
            Store(db).new_run("compute", workload="w")
        assert "\n" not in str(exc.value)
        code, _, err = cli("bench", "io", "small-cnn", "--store", db)
        assert "read-only" in assert_cli_error(code, err)
    finally:
        undo()


# -- fuzz: whatever is at the --store path ---------------------------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.reliability.fuzzkit import check, fuzz  # noqa: E402


@st.composite
def store_files(draw):
    """(kind, build(path)): junk bytes, a cut or flipped real store, a foreign database, RA:X's
    tables with a column missing or an odd schema stamp."""
    kind = draw(st.sampled_from(["bytes", "magic+junk", "cut store", "flipped store", "foreign", "odd stamp",
                                 "column missing", "app id"]))
    blob = draw(st.binary(max_size=200))
    stamp = draw(st.sampled_from(["0", "-1", "1", str(SCHEMA_VERSION), "999", "x", "", "1e3"]))
    app = draw(st.sampled_from([0, APPLICATION_ID, 1, -1, 2**31 - 1]))
    cut = draw(st.integers(0, 8192))

    def build(path):
        if kind == "bytes":
            path.write_bytes(blob)
            return
        if kind == "magic+junk":
            path.write_bytes(b"SQLite format 3\0" + blob)
            return
        if kind in ("cut store", "flipped store"):
            st_ = Store(path)
            st_.finish_run(st_.new_run("compute", workload="w"))
            st_.close()
            raw = bytearray(path.read_bytes())
            if kind == "cut store":
                raw = raw[:cut]
            else:
                for i in range(0, len(raw), max(1, cut)):
                    raw[i] ^= 0xFF
            for side in ("-wal", "-shm"):
                Path(str(path) + side).unlink(missing_ok=True)
            path.write_bytes(bytes(raw))
            return
        con = sqlite3.connect(path)
        if kind == "foreign":
            con.execute("CREATE TABLE t (a)")
        else:
            con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            con.execute("INSERT INTO meta VALUES ('schema_version', ?)", (stamp,))
            if kind == "column missing":
                con.execute("CREATE TABLE runs (id TEXT, kind TEXT)")
        con.execute(f"PRAGMA application_id = {app}")
        con.commit()
        con.close()

    return kind, build


@fuzz(0.4)
@given(sample=store_files())
def test_fuzz_store_files(sample, tmp_path_factory):
    kind, build = sample
    path = tmp_path_factory.mktemp("store") / "rax.db"
    build(path)
    size = path.stat().st_size
    check("store.read", lambda: Store(path, readonly=True).list_runs())
    for argv in (("runs", "list"), ("runs", "show", "latest")):
        code, _, err = cli(*argv, "--store", path)
        if code != 0:
            assert_cli_error(code, err)
    got = check("store.write", lambda: Store(path).new_run("compute", workload="w"))
    if kind in ("bytes", "magic+junk", "foreign") and size:
        assert isinstance(got, RaxError), f"wrote into a {kind} file"
