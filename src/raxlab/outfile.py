"""The one writer for every file RA:X writes at a path a user chose (`--out`, report, plan,
export, launch scripts, acceptance files).

    from raxlab.outfile import write_file, atomic_path
    write_file(path, text_or_bytes, field="--out")       # -> Path written
    with atomic_path(path, field="--out") as tmp:         # a producer that writes a file itself
        subprocess.run([..., f"--print-to-pdf={tmp}"])    # (Chromium); committed on a clean exit

Rules (issue 20: `--out /dev/full` replaced the device node; `--out LINK` truncated the link's
target in place):
- The final name must be absent or a regular file. A symbolic link is refused (RA:X does not
  write through a link it did not create, nor replace the user's link); so are directories,
  devices, FIFOs and sockets: none of them is a file a report belongs in.
- Atomic: a fresh temp file beside the target (same filesystem), written, fsync'ed, renamed over
  the target, then the directory fsync'ed (POSIX rename(2) is atomic; the directory fsync makes the
  new entry durable). A crash, a full disk or a refusal leaves the old file whole and no temp file.
- Missing parent directories are created (default report paths live in per-run folders).
- Every OSError is one line: `cannot write PATH: <strerror>` plus what to do for the usual ones.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterator

from raxlab.errors import RaxError

MODE = 0o644  # what `open(path, "w")` would give under the common umask 022; the umask still applies

HINTS = {
    errno.ENOSPC: "free some space or choose another disk",
    errno.EDQUOT: "over the disk quota: free some space or choose another disk",
    errno.EACCES: "no permission to write there: choose another directory",
    errno.EPERM: "not permitted: choose another directory",
    errno.EROFS: "that file system is read-only: choose a writable directory",
    errno.ENOENT: "the directory does not exist",
    errno.ENOTDIR: "a part of the path is a file, not a directory",
    errno.ENAMETOOLONG: "the name is too long",
    errno.ELOOP: "too many symbolic links in the path",
    errno.EXDEV: "the temp file and the target are on different file systems",
}

KINDS = ((stat.S_ISDIR, "a directory; give a file name"),
         (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
         (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"))


def _oserror(path: Path | str, exc: OSError, field: str) -> RaxError:
    why = exc.strerror or str(exc)
    hint = HINTS.get(exc.errno or -1)
    return RaxError(f"cannot write {str(path)!r}: {why}" + (f" ({hint})" if hint else ""), field=field)


def _expand(path: str | os.PathLike, field: str) -> Path:
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text or "\0" in text:
        raise RaxError(f"not a usable file name: {text!r}", field=field)
    try:
        return Path(text).expanduser()
    except RuntimeError as exc:  # ~user of an unknown user
        raise RaxError(f"cannot expand {text!r}: {exc}", field=field) from None


def refusal(path: Path, st: os.stat_result) -> str | None:
    """Why `path` (lstat'ed as `st`) must not be replaced by a file, or None when it may be."""
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link; RA:X does not write through a link it did not create: " \
               "give the real path, or remove the link"
    if stat.S_ISREG(st.st_mode):
        return None
    for test, what in KINDS:
        if test(st.st_mode):
            return f"is {what}" + ("" if "directory" in what else "; --out takes a regular file")
    return "is not a regular file"


def check_target(final: str | os.PathLike, *, field: str = "--out", parents: bool = True) -> Path:
    """`final` expanded and checked (absent or a regular file, its directory made); returns it."""
    path = _expand(final, field)
    if parents:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError:  # mkdir's word for "a part of the path is not a directory"
            raise RaxError(f"cannot write {str(path)!r}: {str(path.parent)!r} is not a directory",
                           field=field) from None
        except OSError as exc:
            raise _oserror(path.parent, exc, field) from None
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if not path.parent.is_dir():
            raise RaxError(f"cannot write {str(path)!r}: directory {str(path.parent)!r} does not exist",
                           field=field) from None
        return path
    except OSError as exc:
        raise _oserror(path, exc, field) from None
    why = refusal(path, st)
    if why:
        raise RaxError(f"{str(path)!r} {why}", field=field)
    return path


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable; some file systems refuse a directory fsync, which is harmless."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _commit(tmp: Path, path: Path, field: str, mode: int = MODE) -> None:
    """Rename `tmp` over `path` after checking `path` again (it may have changed meanwhile)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    why = refusal(path, st) if st is not None else None
    if why:
        raise RaxError(f"{str(path)!r} {why}", field=field)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, mode & ~umask)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike, *, field: str = "--out", parents: bool = True,
                suffix: str = "", mode: int = MODE) -> Iterator[Path]:
    """A temp path beside `final` for the caller (or a program it runs) to fill; on a clean exit
    it is fsync'ed and renamed over `final`; on any exception it is removed and `final` kept."""
    path = check_target(final, field=field, parents=parents)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=suffix + ".tmp", dir=path.parent)
    except OSError as exc:
        raise _oserror(path, exc, field) from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        _commit(tmp, path, field, mode)
    except OSError as exc:
        raise _oserror(path, exc, field) from None
    finally:
        tmp.unlink(missing_ok=True)  # after a successful rename the name is gone already


def write_file(final: str | os.PathLike, data: str | bytes, *, field: str = "--out",
               parents: bool = True, mode: int = MODE) -> Path:
    """Write `data` (str as UTF-8) to `final` atomically under the rules above; returns the path.
    `mode`: permission bits before the umask (0o755 for a script to run)."""
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    with atomic_path(final, field=field, parents=parents, mode=mode) as tmp:
        with open(tmp, "wb") as f:
            f.write(payload)
            f.flush()
    return _expand(final, field)
