"""A private temporary directory per `rax` process: removed when it ends, swept after a kill.

What runs under RA:X makes temporary files it never names: torchrun's agent keeps its log dir
`torchelastic_*` (torch/distributed/elastic/multiprocessing/api.py, `tempfile.mkdtemp`, never
removed), multiprocessing makes `pymp-*` for the forkserver's socket (measure/isolate.py) and
for DataLoader workers' fd passing, and the launchers make `rax-launch-*`, `rax-ddp-*`, ... A
`kill -9` of rax, or a torchrun stopped mid-run, leaves all of them in /tmp.

So the `rax` entry point calls `use_private_tmpdir()`: `TMPDIR` (inherited by every child: ranks,
torchrun, Chromium) and `tempfile`'s default point at `<tmp>/rax-<pid>-<random>/`, which is removed
when the process ends: normal exit, an error, Ctrl-C or SIGTERM (turned into KeyboardInterrupt by
the CLI, so exit handlers run). A SIGKILL cannot be caught; the directory then stays until the next
`rax` start sweeps it. Liveness is an exclusive `flock` the owner holds on `<dir>/.owner` for its
whole life: the kernel drops it when the owner dies however it dies, so the sweep never removes a
live run's directory (not even one of another pid namespace sharing /tmp) and a reused pid does not
keep a dead one.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import tempfile
from pathlib import Path

NAME_RE = re.compile(r"^rax-(\d+)-[a-z0-9_]{8}$")
LOCK = ".owner"
_STATE: dict = {}  # this process's directory and the open, locked file that marks it alive


# multiprocessing's forkserver listens on <TMPDIR>/pymp-XXXXXXXX/listener-XXXXXXXX, an AF_UNIX
# address of at most 107 bytes on Linux (sun_path is 108 with the NUL): the private dir
# (/rax-<pid>-XXXXXXXX, up to 21 bytes) and those two names (32 bytes) must fit under the base.
UNIX_PATH_MAX = 107
RESERVED = 21 + 32


def _base() -> Path:
    """The user's temporary directory, or /tmp when it is too long for the sockets that will
    live under the private dir (a deep TMPDIR, e.g. a test's or a batch job's)."""
    base = Path(tempfile.gettempdir())
    if len(os.fsencode(str(base))) + RESERVED > UNIX_PATH_MAX and os.access("/tmp", os.W_OK | os.X_OK):
        return Path("/tmp")
    return base


def use_private_tmpdir() -> Path:
    """This process's private temporary directory (created on first call; later calls return it)."""
    if "dir" in _STATE:
        return _STATE["dir"]
    base = _base()
    sweep_stale(base)
    path = Path(tempfile.mkdtemp(prefix=f"rax-{os.getpid()}-", dir=base))
    fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    _STATE.update(dir=path, fd=fd, base=base)
    os.environ["TMPDIR"] = str(path)
    tempfile.tempdir = str(path)
    _remove_at_exit(path)
    return path


def _remove_at_exit(path: Path) -> None:
    """Remove `path` after multiprocessing has removed its own temp dir inside it.

    multiprocessing removes its `pymp-*` dir from its exit handler (util.get_temp_dir: a Finalize
    with exitpriority -100) and prints a traceback if the dir is already gone; our removal is a
    Finalize of lower priority, so it runs later in the same handler. Forked multiprocessing
    children clear the registry (process.py `_bootstrap`), so only this process removes it."""
    from multiprocessing import util

    util.Finalize(None, _remove, args=(path,), exitpriority=-101)


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    fd = _STATE.pop("fd", None)
    if fd is not None:
        os.close(fd)


def sweep_stale(base: Path | str | None = None) -> list[str]:
    """Remove the private dirs in `base` whose owner is dead (its lock is free); returns their names."""
    base = Path(base or tempfile.gettempdir())
    removed = []
    try:
        entries = list(base.iterdir())
    except OSError:
        return removed
    for d in entries:
        if NAME_RE.match(d.name) and d != _STATE.get("dir") and _owner_gone(d):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d.name)
    return removed


def _owner_gone(d: Path) -> bool:
    """True when nobody holds the dir's lock; a dir without a lock file is a half-made one: kept
    unless it is ours by uid and its pid is dead."""
    try:
        if d.is_symlink() or not d.is_dir() or d.stat().st_uid != os.geteuid():
            return False
        fd = os.open(d / LOCK, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        return not _pid_alive(int(NAME_RE.match(d.name).group(1)))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
