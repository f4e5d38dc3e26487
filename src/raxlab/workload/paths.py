"""Paths a user typed: `~` expansion and lookups that fail as one-line RaxErrors.

The lowest module of `workload/` (spec, hf, models and readers all resolve user paths).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from raxlab.errors import RaxError
from raxlab.infile import os_error


def user_path(text: str | Path, field: str) -> Path:
    """`text` as a Path with `~` expanded; `~name` of a user this machine does not know is a
    RaxError (pathlib raises RuntimeError)."""
    try:
        return Path(text).expanduser()
    except RuntimeError:
        head = str(text).split("/")[0]
        raise RaxError(f"cannot expand {head[:60]!r}: no such user on this machine", field=field) from None


def path_kind(path: Path, field: str) -> str | None:
    """'dir', 'file' (anything else that exists: the readers refuse FIFOs and devices) or None
    (nothing there). A path the OS cannot look up (a link loop, a NUL byte, a name over NAME_MAX,
    no permission) is a RaxError naming the field, not a traceback."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise os_error(path, exc, field, "look up") from None
    except ValueError as exc:  # a NUL byte
        raise os_error(path, exc, field, "look up") from None
    return "dir" if stat.S_ISDIR(st.st_mode) else "file"
