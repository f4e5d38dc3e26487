"""Run a worker module on N ranks, locally or one per namespace, and watch it.

    result = launch(LaunchSpec("raxlab.measure.comm.worker", args, ranks=4, env=arm_env,
                               fabric=fab, timeout_s=60), on_event)

Each rank is a real OS process, `python -m <module> <args>` (prefixed with `ip netns
exec <ns>` when a fabric is given; that execs in place, so the pid is the rank's),
in its own session so a Ctrl-C at the terminal reaches only the parent, with the
torchrun environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), so the
same module also runs unchanged under torchrun or srun. Rank 0 starts first, binds
the rendezvous port (0: ephemeral) on MASTER_ADDR and reports it; then the others start.

Protocol lines (`rank.MARK` + JSON) from every rank go to `on_event` as they arrive,
with "rank" added, so results reach the store point by point. The parent ends the run,
kills every rank and raises `RankFailure` (one line naming the rank and the operation)
when a rank dies, reports an error, or no rank finishes a call for `timeout_s`
(a hung or stopped peer). SIGTERM/SIGHUP/Ctrl-C of the parent do the same cleanup.
As torchrun does, OMP_NUM_THREADS defaults to 1 when several ranks share the host.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from raxlab.errors import RaxError
from raxlab.measure.comm.rank import LAUNCH_ENV, MARK, PROGRESS_ENV, SLOT
from raxlab.netemu.cleanup import terminate_as_interrupt

STARTUP = "start-up (imports and rendezvous)"
KILL_GRACE_S = 1.5
# Workers of all nodes end within a few seconds of each other (they finish with a collective);
# torch's own exit-barrier timeout is 300 s (torch/distributed/elastic/agent/server/api.py).
EXIT_GRACE_S = 60.0


class RankFailure(RaxError):
    """A rank died, failed or hung; `rank`, `status` (killed|failed|timeout) and `what` say which."""

    def __init__(self, message: str, *, rank: int | None, status: str, what: str):
        super().__init__(message)
        self.rank, self.status, self.what = rank, status, what


@dataclass
class LaunchSpec:
    module: str  # run as `python -m module args...` on every rank
    args: list[str] = field(default_factory=list)
    ranks: int = 2
    env: dict[str, str] = field(default_factory=dict)  # extra environment for every rank
    fabric: Any = None  # raxlab.netemu.Fabric: rank r runs in fabric.namespace(r)
    master_addr: str | None = None  # default 127.0.0.1, or rank 0's namespace address
    master_port: int = 0  # 0: rank 0 binds an ephemeral port and reports it
    timeout_s: float = 60.0  # no call finished on any rank for this long => hang
    setup_timeout_s: float = 180.0  # imports + rendezvous, before the first "begin"
    python: str = sys.executable
    log_dir: str | None = None  # per-rank stdout/stderr; a temporary one (removed) if None
    torchrun_args: list[str] | None = None  # run one `torchrun ARGS -m module` instead of N ranks
    cpus: list[int] | None = None  # pin rank r to cpus[r % len]: runs compared with each other share a placement

    @property
    def n_procs(self) -> int:
        return 1 if self.torchrun_args is not None else self.ranks


@dataclass
class LaunchResult:
    wall_s: float
    exit_codes: list[int]
    log_dir: str | None


@dataclass
class _Rank:
    rank: int
    proc: subprocess.Popen
    reader: threading.Thread
    tail: collections.deque = field(default_factory=lambda: collections.deque(maxlen=20))
    exit_at: float | None = None
    error: str | None = None
    error_rank: int | None = None  # the rank an error event came from (differs under torchrun)
    err_path: Path | None = None

    @property
    def label(self) -> str:
        return f"rank {self.rank}" if self.rank >= 0 else "torchrun"


def launch(spec: LaunchSpec, on_event: Callable[[dict], None] | None = None) -> LaunchResult:
    """Run the ranks to completion; raises RankFailure (and cleans up) otherwise."""
    if spec.ranks < 1:
        raise RaxError(f"need at least 1 rank, got {spec.ranks}", field="--ranks")
    session = _Session(spec, on_event or (lambda ev: None))
    with terminate_as_interrupt():
        try:
            session.run()
        finally:
            session.close()
    return LaunchResult(time.perf_counter() - session.t0, [r.proc.returncode for r in session.procs],
                        spec.log_dir)


class _Session:
    def __init__(self, spec: LaunchSpec, on_event: Callable[[dict], None]):
        self.spec, self.on_event = spec, on_event
        self.tmp = None if spec.log_dir else tempfile.mkdtemp(prefix="rax-launch-")
        self.log_dir = Path(spec.log_dir or self.tmp)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.progress_path = self.log_dir / "progress.bin"
        self.progress_path.write_bytes(bytes(SLOT * spec.n_procs))
        self.events: queue.Queue = queue.Queue()
        self.procs: list[_Rank] = []
        self.what = STARTUP
        self.began = False
        self.t0 = time.perf_counter()
        self.last_progress = self.t0
        self.counters: bytes = b""
        self.workers_seen, self.workers_gone_at, self.abandoned = False, None, False

    # -- starting ---------------------------------------------------------------
    def _env(self, rank: int, port: int) -> dict[str, str]:
        spec = self.spec
        addr = spec.master_addr or (spec.fabric.address(0) if spec.fabric else "127.0.0.1")
        env = dict(os.environ)
        if spec.ranks > 1:
            env.setdefault("OMP_NUM_THREADS", "1")
        env.update(spec.env)
        env.update({
            "RANK": str(rank), "WORLD_SIZE": str(spec.ranks), "LOCAL_RANK": str(rank),
            "LOCAL_WORLD_SIZE": str(spec.ranks), "GROUP_RANK": "0", "MASTER_ADDR": addr,
            "MASTER_PORT": str(port), LAUNCH_ENV: "1", PROGRESS_ENV: str(self.progress_path),
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def _start(self, rank: int, port: int) -> None:
        spec = self.spec
        argv = (spec.fabric.exec_prefix(rank) if spec.fabric else []) + [spec.python, "-m", spec.module, *spec.args]
        env = self._env(rank, port)
        if spec.torchrun_args is not None:  # torchrun sets the rank variables and rendezvous itself
            argv = [spec.python, "-m", "torch.distributed.run", *spec.torchrun_args, "-m", spec.module, *spec.args]
            env = {**os.environ, **spec.env, "PYTHONUNBUFFERED": "1"}
            rank = -1
        err_path = self.log_dir / f"rank{max(rank, 0)}.err"
        with open(err_path, "wb") as err:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                    env=env, start_new_session=True)
        if spec.cpus and rank >= 0 and hasattr(os, "sched_setaffinity"):
            try:  # `ip netns exec` execs in place: the pid is the rank's; it has not started its threads yet
                os.sched_setaffinity(proc.pid, {spec.cpus[rank % len(spec.cpus)]})
            except OSError:
                pass  # it already exited: the watch loop reports that
        r = _Rank(rank, proc, threading.Thread(target=self._read, args=(len(self.procs), proc), daemon=True),
                  err_path=err_path)
        self.procs.append(r)
        r.reader.start()

    def _read(self, slot: int, proc: subprocess.Popen) -> None:
        with open(self.log_dir / f"rank{slot}.out", "wb") as out:
            for raw in proc.stdout:
                line = raw.decode(errors="replace")
                if line.startswith(MARK):
                    try:
                        self.events.put((slot, json.loads(line[len(MARK):])))
                        continue
                    except json.JSONDecodeError:
                        pass
                out.write(raw)
                self.events.put((slot, {"ev": "_stdout", "line": line.rstrip()}))

    # -- the watch loop ---------------------------------------------------------
    def run(self) -> None:
        self._start(0, self.spec.master_port)
        if self.spec.master_port and self.spec.torchrun_args is None:
            for rank in range(1, self.spec.ranks):
                self._start(rank, self.spec.master_port)
        while True:
            self._drain(0.05)
            self._check_exits()
            if all(r.exit_at is not None for r in self.procs) and len(self.procs) == self.spec.n_procs:
                for r in self.procs:
                    r.reader.join(5)
                self._drain(0)
                return
            self._watchdog()

    def _drain(self, wait: float) -> None:
        try:
            rank, ev = self.events.get(timeout=wait) if wait else self.events.get_nowait()
        except queue.Empty:
            return
        while True:
            self._handle(rank, ev)
            try:
                rank, ev = self.events.get_nowait()
            except queue.Empty:
                return

    def _handle(self, slot: int, ev: dict) -> None:
        self.last_progress = time.perf_counter()
        kind, rank = ev.get("ev"), ev.get("rank", slot)
        if kind == "_stdout":
            self.procs[slot].tail.append(ev["line"])
        elif kind == "port" and slot == 0 and not self.spec.master_port:
            for other in range(1, self.spec.ranks):
                self._start(other, int(ev["port"]))
        elif kind == "begin":
            self.what, self.began = ev.get("what", self.what), True
            self.on_event({**ev, "rank": rank})
        elif kind == "error":
            self.procs[slot].error, self.procs[slot].error_rank = ev.get("message", "error"), rank
            self._fail_soon()
        else:
            self.on_event({**ev, "rank": rank})

    def _check_exits(self) -> None:
        for r in self.procs:
            if r.exit_at is None and r.proc.poll() is not None:
                r.exit_at = time.perf_counter()
                if r.proc.returncode != 0 and not self.abandoned:
                    self._fail_soon()

    def _fail_soon(self) -> None:
        # Peers of a dead rank fail a moment later with "connection reset"; give the
        # exits a moment to be reaped, then blame the earliest and most direct cause.
        deadline = time.perf_counter() + 0.3
        while time.perf_counter() < deadline:
            for r in self.procs:
                if r.exit_at is None and r.proc.poll() is not None:
                    r.exit_at = time.perf_counter()
            time.sleep(0.02)
        stopped = [r for r in self.procs if r.exit_at is None and _state(r.proc.pid) in ("T", "t")]
        if stopped:  # the failing ranks only timed out waiting for a stopped peer
            raise _hang(self.procs, self.counters, self.what, self.spec.timeout_s)
        raise _culprit(self.procs, self.what)

    def _watchdog(self) -> None:
        if self.spec.torchrun_args is not None:
            # torchrun watches its workers (their process-group timeout ends a hang); only its
            # own wait at the exit barrier is left to watch
            return self._exit_barrier_watch()
        now = time.perf_counter()
        counters = self.progress_path.read_bytes()
        if counters != self.counters:
            self.counters, self.last_progress = counters, now
        limit = self.spec.timeout_s if self.began else self.spec.setup_timeout_s
        if now - self.last_progress > limit:
            raise _hang(self.procs, counters, self.what, limit)

    def _exit_barrier_watch(self) -> None:
        """After its workers end, torchrun's agent waits at an exit barrier for every node's agent
        (torch's default: 300 s). A peer node whose agent failed or vanished holds it there although
        this node's results are all in: once the workers have been gone EXIT_GRACE_S, stop it."""
        now = time.perf_counter()
        live = [r for r in self.procs if r.exit_at is None]
        if not live or any(_children(r.proc.pid) for r in live):
            self.workers_seen, self.workers_gone_at = self.workers_seen or bool(live), None
            return
        if not self.workers_seen:
            return  # still in the rendezvous: no worker started yet
        self.workers_gone_at = self.workers_gone_at or now
        if now - self.workers_gone_at > EXIT_GRACE_S:
            print(f"rax: warning: torchrun was still at its exit barrier {EXIT_GRACE_S:g} s after this node's "
                  "workers ended (another node's agent did not arrive); stopped it, this node's results are "
                  "complete", file=sys.stderr)
            self.abandoned = True
            _kill_all([r.proc for r in live])

    # -- ending -----------------------------------------------------------------
    def close(self) -> None:
        _kill_all([r.proc for r in self.procs])
        for r in self.procs:
            r.reader.join(2)
            if not r.reader.is_alive():
                r.proc.stdout.close()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _culprit(procs: list[_Rank], what: str) -> RankFailure:
    """The root cause among failed ranks: a signal death first, then the earliest failure."""
    failed = [r for r in procs if r.error or (r.exit_at is not None and r.proc.returncode != 0)]
    signaled = [r for r in failed if (r.proc.returncode or 0) < 0]
    pool = signaled or [r for r in failed if r.error] or failed
    r = min(pool, key=lambda x: x.exit_at if x.exit_at is not None else float("inf"))
    code = r.proc.returncode
    if code is not None and code < 0:
        sig = signal.Signals(-code).name
        # SIGKILL leaves no last words; an abort or a crash (SIGABRT, SIGSEGV) usually printed why
        why = (" (killed from outside, e.g. by a user, a scheduler or the OOM killer)" if -code == 9
               else f": {_last_err(r)}")
        return RankFailure(f"{r.label} exited with {sig} during {what}{why}", rank=r.rank,
                           status="killed", what=what)
    if r.error:
        who = r.error_rank if r.error_rank is not None else r.rank
        return RankFailure(f"rank {who} failed during {what}: {r.error}", rank=who, status="failed", what=what)
    return RankFailure(f"{r.label} exited with code {code} during {what}: {_last_err(r)}",
                       rank=r.rank, status="failed", what=what)


def _last_err(r: _Rank) -> str:
    """The rank's last words: the end of its stderr (a traceback's last line), else stdout. After
    a fatal signal the rank's faulthandler dump of every thread follows the cause (a C++ abort's
    message): the line before "Fatal Python error" is the one that says why."""
    try:
        lines = [ln for ln in r.err_path.read_text(errors="replace").splitlines() if ln.strip()]
    except (OSError, AttributeError):
        lines = []
    fatal = [i for i, ln in enumerate(lines) if ln.startswith("Fatal Python error")]
    if fatal:
        lines = lines[:fatal[-1]] or lines[fatal[-1]:fatal[-1] + 1]
    lines = lines or list(r.tail)
    return lines[-1].strip()[:300] if lines else "no output"


def _children(pid: int) -> list:
    """Child processes of `pid` ([] once it is gone)."""
    import psutil

    try:
        return psutil.Process(pid).children()
    except psutil.Error:
        return []


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "?"


def _hang(procs: list[_Rank], counters: bytes, what: str, limit: float) -> RankFailure:
    """Name the rank that holds the others up: a stopped one, else the one behind."""
    stopped = [r.rank for r in procs if _state(r.proc.pid) in ("T", "t")]
    entered = [int.from_bytes(counters[i * SLOT:i * SLOT + 8], "little") for i in range(len(procs))
               if len(counters) >= (i + 1) * SLOT]
    if stopped:
        who, why = stopped[0], "is stopped (SIGSTOP/SIGTSTP)"
    elif len(set(entered)) > 1:
        who, why = entered.index(min(entered)), "never entered the collective the others wait in"
    else:
        who, why = None, "no rank finished a call"
    head = f"rank {who} {why}" if who is not None else why
    return RankFailure(f"{head}: no progress for {limit:g} s during {what}; all ranks killed",
                       rank=who, status="timeout", what=what)


def _kill_all(procs: list[subprocess.Popen]) -> None:
    """SIGTERM every rank's process group, SIGKILL what is left after a grace period."""
    live = [p for p in procs if p.poll() is None]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in live:
            try:
                os.killpg(p.pid, sig)
                if sig == signal.SIGTERM:
                    os.killpg(p.pid, signal.SIGCONT)  # a stopped rank must run to die of SIGTERM
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.perf_counter() + (KILL_GRACE_S if sig == signal.SIGTERM else 5)
        while live and time.perf_counter() < deadline:
            live = [p for p in live if p.poll() is None]
            time.sleep(0.02)
