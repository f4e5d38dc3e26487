"""Where report files go. Writing them is `raxlab.outfile` (atomic; refuses links, devices, FIFOs)."""

from __future__ import annotations

import os
from pathlib import Path

from raxlab.errors import RaxError
from raxlab.outfile import write_file


def _expand(path: str | os.PathLike, field: str) -> Path:
    """`~user` expanded; an unknown user is a one-line error, not a RuntimeError."""
    try:
        return Path(path).expanduser()
    except RuntimeError as exc:
        raise RaxError(f"cannot expand {str(path)!r}: {exc}", field=field) from None


def reports_dir(store_path: str | os.PathLike, run_id: str) -> Path:
    """Per-run reports directory next to the results store: <store dir>/reports/<run id>/."""
    # realpath, not Path.resolve: a symlink loop is left as is instead of raising RuntimeError
    return Path(os.path.realpath(_expand(store_path, "--store"))).parent / "reports" / run_id


def default_path(store_path, run_id: str, name: str) -> Path:
    return reports_dir(store_path, run_id) / name


def write_atomic(final: str | os.PathLike, data: str | bytes) -> Path:
    """Write `data` to `final` atomically (the one writer, `raxlab.outfile.write_file`)."""
    return write_file(final, data, field="--out")
