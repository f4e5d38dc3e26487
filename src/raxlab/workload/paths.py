"""Paths a user typed: `~` expansion and lookups that fail as one-line RaxErrors.

The lowest module of `workload/` (spec, hf, models and readers all resolve user paths).
"""

from __future__ import annotations

from pathlib import Path

from raxlab.errors import RaxError


def user_path(text: str | Path, field: str) -> Path:
    """`text` as a Path with `~` expanded; `~name` of a user this machine does not know is a
    RaxError (pathlib raises RuntimeError)."""
    try:
        return Path(text).expanduser()
    except RuntimeError:
        head = str(text).split("/")[0]
        raise RaxError(f"cannot expand {head[:60]!r}: no such user on this machine", field=field) from None


def path_kind(path: Path, field: str) -> str | None:
    """'dir', 'file' or None (nothing there). A path the OS cannot look up (a NUL byte, a
    name over NAME_MAX, no permission) is a RaxError naming the field, not a traceback."""
    try:
        return "dir" if path.is_dir() else "file" if path.exists() else None
    except (OSError, ValueError) as exc:
        shown = str(path) if len(str(path)) <= 120 else str(path)[:117] + "..."
        why = getattr(exc, "strerror", None) or str(exc)
        raise RaxError(f"cannot look up {shown!r}: {why}", field=field) from None
