"""Reading files a user names (specs, model configs, plans, catalogue overrides, data samples)
without hanging, exhausting memory or leaking a traceback.

    st = check_input(path, "data", dirs=True)      # os.stat: regular file (or folder), else RaxError
    with open_input(path, "data") as f: ...         # O_NONBLOCK open + fstat: never blocks on a FIFO
    raw = read_input(path, "workload", limit=MiB)   # a whole small file; bigger is a RaxError
    raw, size = read_head(path, "data", cap)        # at most `cap` bytes of a sample, and its size

Only regular files are read (folders where a caller allows them: image folders). A FIFO would
block `open()` until someone writes to it, a character device (`/dev/zero`, also behind an
ordinary name like `x.txt`) never ends, a socket cannot be read as a file: each is refused with one
line naming what it is, before any open that could block. The check is `os.stat` (a symbolic link
to a regular file is fine; a link loop is ELOOP), and the open itself re-checks with `fstat` on a
descriptor opened with O_NONBLOCK, so a file swapped for a FIFO between check and open cannot
block either. Every OSError (ELOOP, ENAMETOOLONG, EACCES, ENOENT, ENOTDIR, EIO) is a RaxError.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from raxlab.errors import RaxError

MiB = 2**20

WHY = {
    errno.ELOOP: "too many levels of symbolic links (a link loop?)",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EACCES: "permission denied",
    errno.EPERM: "not permitted",
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EISDIR: "is a folder",
    errno.ENXIO: "no such device",
    errno.EIO: "input/output error",
}


def shown(path: str | os.PathLike) -> str:
    """A path as messages show it: repr, at most 120 characters."""
    text = os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else str(path)
    return repr(text if len(text) <= 120 else text[:117] + "...")


def os_error(path, exc: OSError | ValueError, field: str, verb: str = "read") -> RaxError:
    why = WHY.get(getattr(exc, "errno", None) or -1) or getattr(exc, "strerror", None) or str(exc)
    return RaxError(f"cannot {verb} {shown(path)}: {why}", field=field)


def kind_of(mode: int) -> str:
    for test, what in ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return "not a regular file"


def check_input(path: str | os.PathLike, field: str, *, dirs: bool = False) -> os.stat_result:
    """`os.stat(path)` when it is a regular file (or, with `dirs`, a folder); else a RaxError."""
    try:
        st = os.stat(path)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise os_error(path, exc, field, "look up") from None
    if stat.S_ISREG(st.st_mode) or (dirs and stat.S_ISDIR(st.st_mode)):
        return st
    allowed = "a regular file or a folder" if dirs else "a regular file"
    raise RaxError(f"{shown(path)} is {kind_of(st.st_mode)}; RA:X reads only {allowed} here", field=field)


def open_input(path: str | os.PathLike, field: str) -> BinaryIO:
    """A binary file object for the regular file `path`; never blocks in open()."""
    check_input(path, field)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except (OSError, ValueError) as exc:
        raise os_error(path, exc, field) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # swapped since the check
            raise RaxError(f"{shown(path)} is {kind_of(st.st_mode)}; RA:X reads only a regular file here",
                           field=field)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def fd_path(f: BinaryIO, path: str | os.PathLike) -> str:
    """A name for the file open as `f` that a library taking only paths can open without a race:
    /proc/self/fd/N (the same regular file) where Linux has it, else the path itself."""
    proc = f"/proc/self/fd/{f.fileno()}"
    return proc if os.path.exists(proc) else os.fspath(path)


def read_input(path: str | os.PathLike, field: str, *, limit: int, what: str = "file") -> bytes:
    """The whole of a small file (a spec, config, plan); larger than `limit` bytes is a RaxError."""
    with open_input(path, field) as f:
        try:
            raw = f.read(limit + 1)
        except OSError as exc:
            raise os_error(path, exc, field) from None
    if len(raw) > limit:
        raise RaxError(f"{shown(path)} is larger than {limit // MiB or limit} {'MiB' if limit >= MiB else 'bytes'};"
                       f" a {what} is small: is this the right file?", field=field)
    return raw


def read_head(path: str | os.PathLike, field: str, cap: int) -> tuple[bytes, int]:
    """(at most `cap` bytes from the start of `path`, its size in bytes)."""
    with open_input(path, field) as f:
        try:
            size = os.fstat(f.fileno()).st_size
            return f.read(cap), size
        except OSError as exc:
            raise os_error(path, exc, field) from None


def list_dir(path: Path, field: str, limit: int) -> list[os.DirEntry]:
    """Entries of a folder, sorted by name, at most `limit` of them (a sample is a sample)."""
    try:
        with os.scandir(path) as it:
            out = []
            for entry in it:
                out.append(entry)
                if len(out) >= 4 * limit:  # enough to sort and keep `limit`; a huge folder is not walked whole
                    break
    except OSError as exc:
        raise os_error(path, exc, field, "list") from None
    return sorted(out, key=lambda e: e.name)[:limit]


def is_regular(entry: os.DirEntry) -> bool:
    """True for a regular file (following a link); False for FIFOs, devices, sockets, loops."""
    try:
        return entry.is_file()
    except OSError:
        return False
