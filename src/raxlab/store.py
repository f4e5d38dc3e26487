"""SQLite results store: every run, point, fingerprint and artifact, saved as it happens.

One database per user (default `$XDG_DATA_HOME/raxlab/rax.db`, overridable with
`--store` or `RAX_STORE`). WAL journal and one transaction per point, so a crash or
`kill -9` keeps every committed point and leaves a consistent file. Schema changes are
numbered migrations recorded in `meta.schema_version`, applied inside the write lock so
several processes may open an old store at once.

Each run records its writer (pid, host, process start; schema 2): a run still 'running'
whose writer process is gone from this host was killed before it could say so, and run
rows say `stale: true` (`rax runs list` shows it).

The file is marked as RA:X's with `PRAGMA application_id = 0x52615821` ("RaX!", offset 68 of
the SQLite header, https://www.sqlite.org/fileformat2.html#application_id). A store made before
the mark (schema stamp in `meta`, RA:X's tables) is still recognised and gets the mark on the next
write. Anything else is refused with one line: a file that is not SQLite, another application's
SQLite database, a store whose tables do not have the columns its stamp promises, a directory,
FIFO or device. Read-only commands (`rax runs list/show/compare/export`, `rax report`) open with
`Store(path, readonly=True)`: SQLite's `mode=ro`, nothing created or migrated; a missing store
reads as an empty one (`runs list` says no runs are stored; `runs show X` says there is no store).
Every sqlite3 error (read-only or immutable file, locked, full disk, damaged file) is a one-line
RaxError naming the store.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import secrets
import socket
import sqlite3
import stat
import urllib.parse
from functools import lru_cache
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
APPLICATION_ID = 0x52615821  # "RaX!": marks the file as RA:X's results store (see the module docstring)
SQLITE_MAGIC = b"SQLite format 3\0"  # the first 16 bytes of every SQLite 3 database file
# inconsistent: measured, but contradicts the other batch sizes of its series even after re-measuring
# (measure/consistency.py); set afterwards with `mark_point`, and skipped by fits like any non-ok point
POINT_STATUSES = ("ok", "oom", "unsupported", "failed", "timeout", "killed", "diverged", "skipped", "inconsistent")
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
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise RaxError("a stored record is not valid JSON (the store was edited or damaged)", field="--store") from None


def _text(value: str | None) -> str | None:
    """Text as SQLite takes it: a lone surrogate (an undecodable file name) becomes `\\udcff`."""
    if value is None or not isinstance(value, str):
        return value
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")  # a stray byte in a damaged store must not stop a listing


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


def _file_kind(path: Path) -> str | None:
    """None (nothing there), 'empty' (a 0-byte file: SQLite takes it as a new database) or
    'sqlite'; a RaxError for a directory, FIFO, device, socket, a non-SQLite file, or a file
    whose header already names another application."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise RaxError(f"cannot open results store {str(path)!r}: {getattr(exc, 'strerror', None) or exc}",
                       field="--store") from None
    if not stat.S_ISREG(st.st_mode):
        what = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file (a FIFO, device or socket)"
        raise RaxError(f"{path} is {what}; --store takes an SQLite file", field="--store")
    if st.st_size == 0:
        return "empty"
    try:
        with open(path, "rb") as f:
            head = f.read(100)
    except OSError as exc:
        raise RaxError(f"cannot read results store {path}: {exc.strerror or exc}", field="--store") from None
    if not head.startswith(SQLITE_MAGIC):
        raise RaxError(f"{path} is not an SQLite database (so not a RA:X results store); give the store with "
                       "--store or a new file name", field="--store")
    app = int.from_bytes(head[68:72], "big", signed=True) if len(head) >= 72 else 0
    if app not in (0, APPLICATION_ID):
        raise RaxError(f"{path} is an SQLite database of another application (application_id {app & 0xffffffff:#010x}),"
                       " not a RA:X results store; give RA:X's store with --store", field="--store")
    return "sqlite"


def _apply(db: sqlite3.Connection, version: int) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
    for stmts in MIGRATIONS[:version]:
        for stmt in stmts:
            db.execute(stmt)
    db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (str(version),))


@lru_cache(maxsize=None)
def expected_columns(version: int) -> dict[str, tuple[str, ...]]:
    """Column names of every table at schema `version`, from the migrations themselves."""
    db = sqlite3.connect(":memory:")
    try:
        _apply(db, version)
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        return {t: tuple(r[1] for r in db.execute(f"PRAGMA table_info({t})")) for t in tables}
    finally:
        db.close()


def db_error(path: Path, exc: sqlite3.Error, doing: str) -> RaxError:
    """One line for an sqlite3 error, saying what to do."""
    text = str(exc) or type(exc).__name__
    low = text.lower()
    if "readonly" in low or "read-only" in low:
        why = "is read-only (file or directory permissions, an immutable file, a read-only mount); " \
              "give a writable --store"
    elif "full" in low:
        why = "disk full; every point committed before this one is kept"
    elif "locked" in low or "busy" in low:
        why = "is locked by another process (waited 30 s); try again when it is done"
    elif "not a database" in low or "malformed" in low or "corrupt" in low:
        why = "is damaged or not an SQLite database; use another --store"
    elif "unable to open" in low:
        why = "cannot be opened (missing directory or no permission)"
    else:
        why = f"SQLite said: {text}"
    return RaxError(f"results store {path} {why} ({doing}: {text})", field="--store")


def new_run_id() -> str:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(2)}"


class Store:
    """Results database. Cheap to open; safe to open from several processes.
    `readonly=True`: open for reading only (never creates, migrates or marks the file)."""

    def __init__(self, path: str | os.PathLike | None = None, *, readonly: bool = False):
        try:
            self.path = Path(path).expanduser() if path else default_path()
        except RuntimeError:  # ~name of an unknown user
            head = str(path or os.environ.get("RAX_STORE", "")).split("/")[0]
            raise RaxError(f"cannot expand {head!r}: no such user", field="--store") from None
        self.readonly = readonly
        kind = _file_kind(self.path)  # refuses what is not a (possible) store before SQLite opens it
        self.missing = readonly and kind != "sqlite"
        try:
            self.db = self._connect(kind)
            self.db.text_factory = _decode
            self._identify()
            if not readonly:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
                self.db.execute("PRAGMA foreign_keys=ON")
                self._migrate()
        except OSError as exc:
            raise RaxError(f"cannot open results store {self.path}: {exc.strerror or exc}", field="--store") from None
        except sqlite3.Error as exc:
            raise db_error(self.path, exc, "open") from None

    def _connect(self, kind: str | None) -> sqlite3.Connection:
        if self.missing:  # nothing there (or an empty file): an empty store in memory, nothing created
            db = sqlite3.connect(":memory:", isolation_level=None)
            _apply(db, SCHEMA_VERSION)
            return db
        if self.readonly:
            uri = "file:" + urllib.parse.quote(str(self.path.absolute())) + "?mode=ro"
            db = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)
            try:
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()
                return db
            except sqlite3.OperationalError:  # WAL file in a directory we may not write: read it as it is
                db.close()
                return sqlite3.connect(uri + "&immutable=1", uri=True, timeout=30, isolation_level=None)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # SQLite would open an unwritable file read-only without a word and fail at the first write;
        # WAL also needs to create files beside it: say so now, in one line
        if (kind and not os.access(self.path, os.W_OK)) or not os.access(self.path.parent, os.W_OK | os.X_OK):
            raise RaxError(f"results store {self.path} is read-only (file or directory permissions, an immutable "
                           "file, a read-only mount); give a writable --store (reading it works: rax runs list)",
                           field="--store")
        return sqlite3.connect(str(self.path), timeout=30, isolation_level=None)

    # -- schema -----------------------------------------------------------------
    def schema_version(self) -> int:
        if not self._has_table("meta"):
            return 0
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        try:
            return int(row[0]) if row else 0
        except (TypeError, ValueError):
            raise RaxError(f"results store {self.path}: schema stamp {row[0]!r} is not a number", field="--store") \
                from None

    def _has_table(self, name: str) -> bool:
        return self.db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() \
            is not None

    def _identify(self) -> None:
        """Refuse another application's database and a store whose columns are not its stamp's."""
        app = self.db.execute("PRAGMA application_id").fetchone()[0]
        tables = sorted(r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'"))
        stamped = "meta" in tables and self.schema_version() > 0
        # ours: RA:X's schema stamp (marked, or from before the mark); a new file: no tables and no
        # other application's mark; anything else is not a store this rax wrote
        ours = app in (0, APPLICATION_ID) and (stamped or not tables)
        if not ours:
            what = f"application_id {app:#010x}" if app else f"tables {', '.join(tables[:6])}"
            raise RaxError(f"{self.path} is an SQLite database of another application ({what}), not a RA:X "
                           "results store; give RA:X's store with --store (or a new file name)", field="--store")
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise RaxError(
                f"results store {self.path} has schema version {version}, newer than this "
                f"rax understands ({SCHEMA_VERSION}); upgrade raxlab or use another --store"
            )
        if version:
            self._check_columns(version)

    def _check_columns(self, version: int) -> None:
        for table, want in expected_columns(version).items():
            have = tuple(r[1] for r in self.db.execute(f"PRAGMA table_info({table})"))
            if have != want:
                got = ", ".join(have) if have else "no such table"
                raise RaxError(f"results store {self.path} is stamped schema version {version} but its table "
                               f"{table!r} has {got} instead of {', '.join(want)}: not a store this rax wrote "
                               "(edited by hand?); use another --store", field="--store")

    def _migrate(self) -> None:
        for version in range(self.schema_version() + 1, SCHEMA_VERSION + 1):
            with self._tx():
                self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
                if self.schema_version() >= version:
                    continue  # another process opening the same store migrated it meanwhile
                for stmt in MIGRATIONS[version - 1]:
                    self.db.execute(stmt)
                self.db.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (str(version),)
                )
        if self.db.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            with self._tx():  # a store made before the mark gets it
                self.db.execute(f"PRAGMA application_id = {APPLICATION_ID:d}")

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
                (run_id, _text(kind), _now(), "running", _text(workload), _dumps(spec), _dumps(params), _text(note),
                 *_writer()),
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
                (run_id, seq, _text(kind), _text(name), status, _dumps(params), _dumps(result),
                 _dumps(list(samples) if samples is not None else None), _text(error), _now()),
            )
        return int(cur.lastrowid)

    def mark_point(self, point_id: int, status: str, error: str | None = None) -> None:
        """Re-classify a stored point of a run still open (a later check found it wrong, e.g.
        `inconsistent`); its measured values and samples stay as they were."""
        if status not in POINT_STATUSES:
            raise ValueError(f"point status {status!r} not in {POINT_STATUSES}")
        rows = self._query("SELECT run_id FROM points WHERE id=?", (point_id,))
        if not rows:
            raise ValueError(f"no point {point_id} in {self.path}")
        self._require_open(rows[0][0])
        with self._tx():
            self.db.execute("UPDATE points SET status=?, error=? WHERE id=?", (status, _text(error), point_id))

    def add_fingerprint(self, run_id: str, fingerprint: dict, role: str = "host") -> None:
        with self._tx():
            self.db.execute(
                "INSERT OR REPLACE INTO fingerprints(run_id, role, machine_id, json) VALUES (?,?,?,?)",
                (run_id, _text(role), _text(fingerprint.get("machine_id")), _dumps(fingerprint)),
            )

    def put_artifact(self, run_id: str, name: str, data: Any) -> None:
        """Attach derived data (fits, plans, calibrations) to a run; replaces a same-named one."""
        with self._tx():
            self.db.execute(
                "INSERT OR REPLACE INTO artifacts(run_id, name, json, created_at) VALUES (?,?,?,?)",
                (run_id, _text(name), _dumps(data), _now()),
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
        rows = self._query("SELECT status FROM runs WHERE id=?", (run_id,))
        row = rows[0] if rows else None
        if row is None:
            raise ValueError(f"no run {run_id!r} in {self.path}")
        if row[0] == "complete":
            raise ValueError(f"run {run_id} is complete; its records are immutable")

    # -- reading ----------------------------------------------------------------
    def resolve(self, ref: str) -> str:
        """A full run id from an id, a unique prefix, or 'latest'."""
        if self.missing:
            what = "no runs" if ref in ("latest", "last") else f"no run {ref!r}"
            raise RaxError(f"{what}: there is no results store at {self.path} yet (give --store or set RAX_STORE)",
                           field="RUN")
        if ref in ("latest", "last"):
            rows = self._query("SELECT id FROM runs ORDER BY created_at DESC, id DESC LIMIT 1")
            if not rows:
                raise RaxError(f"the results store {self.path} holds no runs yet", field="RUN")
            return rows[0][0]
        # a prefix, not a pattern: % and _ in what the user typed match only themselves
        pattern = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = [r[0] for r in self._query("SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\'", (_text(pattern),))]
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
        except (sqlite3.OperationalError, sqlite3.DatabaseError) as exc:
            if isinstance(exc, sqlite3.ProgrammingError):
                raise
            raise db_error(self.path, exc, "read") from exc
        finally:
            self.db.row_factory = None

    @staticmethod
    def _run_row(r: sqlite3.Row) -> dict:
        if "writer_pid" not in r.keys():  # an older store opened read-only is read as it is, not migrated
            r = {**dict(zip(r.keys(), r)), "writer_pid": None, "writer_host": None, "writer_start": None}
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
    """BEGIN IMMEDIATE ... COMMIT; any SQLite failure (read-only, locked, full) is a one-line RaxError."""

    def __init__(self, store: Store):
        self.store = store

    def __enter__(self):
        if self.store.readonly:
            raise RaxError(f"results store {self.store.path} was opened read-only; this command does not write",
                           field="--store")
        try:
            self.store.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise db_error(self.store.path, exc, "write") from exc
        return self

    def __exit__(self, exc_type, exc, tb):
        db = self.store.db
        if exc_type is None:
            try:
                db.execute("COMMIT")
                return False
            except sqlite3.Error as err:
                exc = err
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        if isinstance(exc, sqlite3.Error) and not isinstance(exc, (sqlite3.ProgrammingError, sqlite3.InterfaceError)):
            raise db_error(self.store.path, exc, "write") from exc
        if exc_type is None:
            raise exc
        return False
