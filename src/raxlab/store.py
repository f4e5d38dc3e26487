"""SQLite results store: every run, point, fingerprint and artifact, saved as it happens.

One database per user (default `$XDG_DATA_HOME/raxlab/rax.db`, overridable with
`--store` or `RAX_STORE`). WAL journal and one transaction per point, so a crash or
`kill -9` keeps every committed point and leaves a consistent file. Schema changes are
numbered migrations recorded in `meta.schema_version`, applied inside the write lock so
several processes may open an old store at once.

Each run records its writer (pid, host, process start; schema 2): a run still 'running'
whose writer process is gone from this host was killed before it could say so, and run
rows say `stale: true` (`rax runs list` shows it).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import secrets
import socket
import sqlite3
from pathlib import Path
from typing import Any, Iterable

from raxlab.errors import RaxError

# Each entry upgrades the schema by one version; never edit a released entry, append.
MIGRATIONS: list[list[str]] = [
    [  # 1: initial schema
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY, kind TEXT NOT NULL, created_at TEXT NOT NULL,
            finished_at TEXT, status TEXT NOT NULL, workload TEXT,
            spec_json TEXT, params_json TEXT, summary_json TEXT, note TEXT)""",
        """CREATE TABLE points (
            id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL REFERENCES runs(id),
            seq INTEGER NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
            params_json TEXT, result_json TEXT, samples_json TEXT, error TEXT,
            created_at TEXT NOT NULL)""",
        "CREATE INDEX points_run ON points(run_id, kind)",
        """CREATE TABLE fingerprints (
            run_id TEXT NOT NULL REFERENCES runs(id), role TEXT NOT NULL,
            machine_id TEXT, json TEXT NOT NULL, PRIMARY KEY (run_id, role))""",
        """CREATE TABLE artifacts (
            run_id TEXT NOT NULL REFERENCES runs(id), name TEXT NOT NULL,
            json TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (run_id, name))""",
    ],
    [  # 2: the process writing a run, so a 'running' run whose writer died (kill -9, OOM, reboot) shows stale
        "ALTER TABLE runs ADD COLUMN writer_pid INTEGER",
        "ALTER TABLE runs ADD COLUMN writer_host TEXT",
        "ALTER TABLE runs ADD COLUMN writer_start TEXT",  # boot id + start tick: a reused pid is not the writer
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)
POINT_STATUSES = ("ok", "oom", "unsupported", "failed", "timeout", "killed", "diverged", "skipped")
# Run kinds the commands store (`rax runs list --kind` also takes the short names of RUN_KIND_ALIASES).
RUN_KINDS = ("compute", "kernels", "io", "bench.comm", "bench.ddp", "abtest", "run", "train-log")
RUN_KIND_ALIASES = {"comm": "bench.comm", "ddp": "bench.ddp", "pipeline": "run", "import.nccl-tests": "bench.comm"}
RUN_STATUSES = ("running", "complete", "interrupted", "failed")


def default_path() -> Path:
    env = os.environ.get("RAX_STORE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "raxlab" / "rax.db"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def _dumps(obj: Any) -> str | None:
    if obj is None:
        return None
    return json.dumps(_clean(obj), sort_keys=True, default=str)


def _clean(obj: Any) -> Any:
    """JSON has no NaN/inf: store them as null so every reader can parse the row."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "to_dict"):
        return _clean(obj.to_dict())
    return obj


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def process_start(pid: int) -> str | None:
    """'<boot id>:<start tick>' of a process (Linux), None where /proc cannot tell."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
        return f"{boot}:{stat.rsplit(')', 1)[1].split()[19]}"  # field 22, starttime (proc(5))
    except (OSError, IndexError):
        return None


def _writer() -> tuple[int, str, str | None]:
    return os.getpid(), socket.gethostname(), process_start(os.getpid())


def writer_gone(pid: int | None, host: str | None, start: str | None) -> bool:
    """True when the run's writer ran on this host and that process no longer exists."""
    if pid is None or host != socket.gethostname():
        return False  # written before schema 2, or on another machine: cannot tell
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, another user's
    return start is not None and process_start(pid) not in (None, start)


def new_run_id() -> str:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(2)}"


class Store:
    """Results database. Cheap to open; safe to open from several processes."""

    def __init__(self, path: str | os.PathLike | None = None):
        try:
            self.path = Path(path).expanduser() if path else default_path()
        except RuntimeError:  # ~name of an unknown user
            head = str(path or os.environ.get("RAX_STORE", "")).split("/")[0]
            raise RaxError(f"cannot expand {head!r}: no such user", field="--store") from None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except (OSError, sqlite3.DatabaseError) as exc:
            raise RaxError(f"cannot open results store {self.path}: {exc}", field="--store") from exc

    # -- schema -----------------------------------------------------------------
    def schema_version(self) -> int:
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row[0]) if row else 0

    def _migrate(self) -> None:
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise RaxError(
                f"results store {self.path} has schema version {current}, newer than this "
                f"rax understands ({SCHEMA_VERSION}); upgrade raxlab or use another --store"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            with self._tx():
                if self.schema_version() >= version:
                    continue  # another process opening the same store migrated it meanwhile
                for stmt in MIGRATIONS[version - 1]:
                    self.db.execute(stmt)
                self.db.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (str(version),)
                )

    def _tx(self):
        return _Transaction(self)

    def close(self) -> None:
        self.db.close()

    # -- writing ----------------------------------------------------------------
    def new_run(self, kind: str, *, workload: str | None = None, spec: Any = None,
                params: Any = None, note: str | None = None, run_id: str | None = None) -> str:
        run_id = run_id or new_run_id()
        with self._tx():
            self.db.execute(
                "INSERT INTO runs(id, kind, created_at, status, workload, spec_json, params_json, note,"
                " writer_pid, writer_host, writer_start) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (run_id, kind, _now(), "running", workload, _dumps(spec), _dumps(params), note, *_writer()),
            )
        return run_id

    def add_point(self, run_id: str, kind: str, name: str, status: str, *, params: Any = None,
                  result: Any = None, samples: Iterable[float] | None = None,
                  error: str | None = None) -> int:
        """Save one measured point in its own transaction; returns its id."""
        if status not in POINT_STATUSES:
            raise ValueError(f"point status {status!r} not in {POINT_STATUSES}")
        self._require_open(run_id)
        with self._tx():
            seq = self.db.execute(
                "SELECT COALESCE(MAX(seq), -1) + 1 FROM points WHERE run_id=?", (run_id,)
            ).fetchone()[0]
            cur = self.db.execute(
                "INSERT INTO points(run_id, seq, kind, name, status, params_json, result_json,"
                " samples_json, error, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (run_id, seq, kind, name, status, _dumps(params), _dumps(result),
                 _dumps(list(samples) if samples is not None else None), error, _now()),
            )
        return int(cur.lastrowid)

    def add_fingerprint(self, run_id: str, fingerprint: dict, role: str = "host") -> None:
        with self._tx():
            self.db.execute(
                "INSERT OR REPLACE INTO fingerprints(run_id, role, machine_id, json) VALUES (?,?,?,?)",
                (run_id, role, fingerprint.get("machine_id"), _dumps(fingerprint)),
            )

    def put_artifact(self, run_id: str, name: str, data: Any) -> None:
        """Attach derived data (fits, plans, calibrations) to a run; replaces a same-named one."""
        with self._tx():
            self.db.execute(
                "INSERT OR REPLACE INTO artifacts(run_id, name, json, created_at) VALUES (?,?,?,?)",
                (run_id, name, _dumps(data), _now()),
            )

    def finish_run(self, run_id: str, status: str = "complete", summary: Any = None) -> None:
        if status not in RUN_STATUSES:
            raise ValueError(f"run status {status!r} not in {RUN_STATUSES}")
        with self._tx():
            self.db.execute(
                "UPDATE runs SET status=?, finished_at=?, summary_json=COALESCE(?, summary_json) WHERE id=?",
                (status, _now(), _dumps(summary), run_id),
            )

    def reopen_run(self, run_id: str) -> None:
        """Mark an interrupted run as running again (resume)."""
        with self._tx():
            self.db.execute("UPDATE runs SET status='running', finished_at=NULL, writer_pid=?, writer_host=?,"
                            " writer_start=? WHERE id=?", (*_writer(), run_id))

    def _require_open(self, run_id: str) -> None:
        row = self.db.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise ValueError(f"no run {run_id!r} in {self.path}")
        if row[0] == "complete":
            raise ValueError(f"run {run_id} is complete; its records are immutable")

    # -- reading ----------------------------------------------------------------
    def resolve(self, ref: str) -> str:
        """A full run id from an id, a unique prefix, or 'latest'."""
        if ref in ("latest", "last"):
            row = self.db.execute("SELECT id FROM runs ORDER BY created_at DESC, id DESC LIMIT 1").fetchone()
            if row is None:
                raise RaxError(f"the results store {self.path} holds no runs yet", field="RUN")
            return row[0]
        rows = [r[0] for r in self.db.execute("SELECT id FROM runs WHERE id LIKE ?", (ref + "%",))]
        if len(rows) == 1:
            return rows[0]
        if len(rows) > 1:
            raise RaxError(f"run prefix {ref!r} is ambiguous: {', '.join(rows[:5])}", field="RUN")
        recent = [r["id"] for r in self.list_runs(limit=5)]
        raise RaxError(
            f"no run {ref!r} in {self.path}; recent runs: {', '.join(recent) or 'none'}", field="RUN"
        )

    def kinds(self) -> list[str]:
        """The run kinds present in this store."""
        return sorted(r["kind"] for r in self._query("SELECT DISTINCT kind FROM runs", ()))

    def list_runs(self, limit: int = 50, kind: str | None = None) -> list[dict]:
        sql = "SELECT r.*, (SELECT COUNT(*) FROM points p WHERE p.run_id=r.id) AS n_points FROM runs r"
        args: tuple = ()
        if kind:
            sql += " WHERE kind=?"
            args = (kind,)
        sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
        return [self._run_row(r) for r in self._query(sql, args + (limit,))]

    def get_run(self, ref: str) -> dict:
        """Everything stored for a run: header, points, fingerprints, artifacts."""
        run_id = self.resolve(ref)
        run = self._run_row(self._query("SELECT r.*, NULL AS n_points FROM runs r WHERE id=?", (run_id,))[0])
        run["points"] = self.points(run_id)
        run["n_points"] = len(run["points"])
        run["fingerprints"] = {
            r["role"]: _loads(r["json"]) for r in self._query(
                "SELECT role, json FROM fingerprints WHERE run_id=? ORDER BY role", (run_id,))
        }
        run["artifacts"] = {
            r["name"]: _loads(r["json"]) for r in self._query(
                "SELECT name, json FROM artifacts WHERE run_id=? ORDER BY name", (run_id,))
        }
        return run

    def points(self, run_id: str, kind: str | None = None) -> list[dict]:
        sql, args = "SELECT * FROM points WHERE run_id=?", (run_id,)
        if kind:
            sql, args = sql + " AND kind=?", args + (kind,)
        out = []
        for r in self._query(sql + " ORDER BY seq", args):
            out.append({
                "id": r["id"], "seq": r["seq"], "kind": r["kind"], "name": r["name"],
                "status": r["status"], "params": _loads(r["params_json"]),
                "result": _loads(r["result_json"]), "samples": _loads(r["samples_json"]),
                "error": r["error"], "created_at": r["created_at"],
            })
        return out

    def artifact(self, run_id: str, name: str) -> Any:
        rows = self._query("SELECT json FROM artifacts WHERE run_id=? AND name=?", (run_id, name))
        return _loads(rows[0]["json"]) if rows else None

    def _query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        self.db.row_factory = sqlite3.Row
        try:
            return self.db.execute(sql, args).fetchall()
        finally:
            self.db.row_factory = None

    @staticmethod
    def _run_row(r: sqlite3.Row) -> dict:
        writer = {"pid": r["writer_pid"], "host": r["writer_host"]}
        return {
            "id": r["id"], "kind": r["kind"], "created_at": r["created_at"],
            "finished_at": r["finished_at"], "status": r["status"], "workload": r["workload"],
            "spec": _loads(r["spec_json"]), "params": _loads(r["params_json"]),
            "summary": _loads(r["summary_json"]), "note": r["note"], "n_points": r["n_points"],
            "writer": writer,
            # 'running' but its process is gone: killed (-9, OOM, power) before it could say so
            "stale": r["status"] == "running" and writer_gone(r["writer_pid"], r["writer_host"], r["writer_start"]),
        }


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT; a full disk becomes a RaxError naming the store."""

    def __init__(self, store: Store):
        self.store = store

    def __enter__(self):
        self.store.db.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, exc_type, exc, tb):
        db = self.store.db
        if exc_type is None:
            try:
                db.execute("COMMIT")
                return False
            except sqlite3.OperationalError as err:
                exc = err
        try:
            db.execute("ROLLBACK")
        except sqlite3.OperationalError:
            pass
        if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc).lower():
            raise RaxError(
                f"results store {self.store.path}: disk full; every point committed before this one is kept"
            ) from exc
        if exc_type is None:
            raise exc
        return False
