"""Where report files go, and writing them atomically (temp file in the same directory,
fsync, rename): a crash or a full disk never leaves half a report under the final name."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from raxlab.errors import RaxError


def _expand(path: str | os.PathLike, field: str) -> Path:
    """`~user` expanded; an unknown user is a one-line error, not a RuntimeError."""
    try:
        return Path(path).expanduser()
    except RuntimeError as exc:
        raise RaxError(f"cannot expand {str(path)!r}: {exc}", field=field) from None


def reports_dir(store_path: str | os.PathLike, run_id: str) -> Path:
    """Per-run reports directory next to the results store: <store dir>/reports/<run id>/."""
    return _expand(store_path, "--store").resolve().parent / "reports" / run_id


def default_path(store_path, run_id: str, name: str) -> Path:
    return reports_dir(store_path, run_id) / name


def temp_path(final: Path, suffix: str = "") -> Path:
    """A fresh temp name beside `final` (same filesystem, so the rename is atomic)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=suffix + ".tmp", dir=final.parent)
    os.close(fd)
    return Path(tmp)


def prepare(final: str | os.PathLike) -> Path:
    path = _expand(final, "--out")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RaxError(f"cannot create {path.parent}: {exc.strerror or exc}", field="--out") from exc
    if path.is_dir():
        raise RaxError(f"{path} is a directory; give a file name", field="--out")
    return path


def write_atomic(final: str | os.PathLike, data: str | bytes) -> Path:
    """Write `data` to `final` atomically; returns the path."""
    path = prepare(final)
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RaxError(f"cannot write {path}: {exc.strerror or exc}", field="--out") from exc
    return path


def move_atomic(src: Path, final: Path) -> Path:
    try:
        os.chmod(src, 0o644)
        os.replace(src, final)
    except OSError as exc:
        src.unlink(missing_ok=True)
        raise RaxError(f"cannot write {final}: {exc.strerror or exc}", field="--out") from exc
    return final
