"""Workload cards cached on disk, keyed by what the card is made of, so a what-if is fast.

    card, spec = card_for("llama3-8b")       # traced once; later calls read the cached card

The key is a SHA-256 over (all of it JSON, see `card_key`):
- the spec as loaded (model, model_args, data, seq_len, batch, ... and the folder it resolves from);
- the content of the files it points to: a model config file or folder, the data sample
  (files up to 8 MiB whole; larger ones by size, mtime and their first and last MiB; a folder by
  its files two levels deep, at most 20,000, by name, size, mtime and small files' content);
- the code that makes a card: every .py and .yaml file of `raxlab/workload/` (so an edited tracer
  or preset re-traces, also in an editable install whose version does not change);
- versions of raxlab, torch, transformers (and torchvision / timm for their models);
- the build options (trace dtype, depth extrapolation, proxy).

Models from your own code (`package.module:factory`) are never cached: what they build is not
knowable without running them. The cache lives in `$RAX_CACHE`, else `$XDG_CACHE_HOME/raxlab`,
else `~/.cache/raxlab` (subfolder `cards/`); delete it freely. This module imports no torch, so a
warm `rax predict` does not pay for torch's import either.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from raxlab.errors import RaxError

WHOLE_FILE_BYTES = 8 * 2**20  # hash samples up to this size in full; bigger: size + mtime + ends
END_BYTES = 2**20
PACKAGES = ("raxlab", "torch", "transformers", "torchvision", "timm")
CODE_DIR = Path(__file__).parent


def cache_dir() -> Path:
    base = os.environ.get("RAX_CACHE") or (Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "raxlab")
    return Path(base) / "cards"


def card_for(ref: str, *, trust_code: bool = False, dtype: str = "float32", extrapolate: bool = True,
             build: Callable[[], Any] | None = None, refresh: bool = False):
    """(WorkloadCard, WorkloadSpec) for a preset name or spec file, from the cache when it holds it.

    `build()` makes the card on a miss (default: load the workload and trace it); `refresh`
    traces anyway and replaces the cached card."""
    from raxlab.workload.card import WorkloadCard
    from raxlab.workload.presets import resolve_spec

    spec, proxy = resolve_spec(ref, trust_code)
    key = card_key(spec, dtype=dtype, extrapolate=extrapolate, proxy=proxy)
    path = cache_dir() / f"{key}.json" if key else None
    if path is not None and not refresh:
        card = _read(path, WorkloadCard)
        if card is not None:
            return card, spec
    card = build() if build else _build(ref, trust_code, dtype, extrapolate)
    if path is not None:
        _write(path, card.to_dict())
    return card, spec


def _build(ref: str, trust_code: bool, dtype: str, extrapolate: bool):
    import torch

    from raxlab.workload import build_card, load_workload

    return build_card(load_workload(ref, trust_code=trust_code), dtype=getattr(torch, dtype), extrapolate=extrapolate)


def card_key(spec, *, dtype: str = "float32", extrapolate: bool = True, proxy: bool = False) -> str | None:
    """The cache key of the card `spec` makes, or None when it cannot be known (user code)."""
    parts = key_parts(spec, dtype=dtype, extrapolate=extrapolate, proxy=proxy)
    if parts is None:
        return None
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def key_parts(spec, *, dtype: str, extrapolate: bool, proxy: bool) -> dict | None:
    from raxlab.workload.models import FACTORY_RE

    if isinstance(spec.model, str) and FACTORY_RE.match(spec.model):
        return None
    return {"spec": spec.model_dump(mode="json"), "model_files": _model_files(spec), "data": _data(spec),
            "code": _code_hash(), "versions": {p: _version(p) for p in PACKAGES},
            "options": {"dtype": dtype, "extrapolate": extrapolate, "proxy": proxy}}


def _model_files(spec) -> str | None:
    """Hash of the model config file/folder the spec names (None: inline, preset or a named model)."""
    if not isinstance(spec.model, str):
        return None
    path = spec.resolve(spec.model)
    return _tree_hash(path) if os.path.exists(path) else None


def _data(spec) -> str:
    from raxlab.workload.presets import is_sample_name, sample_path

    ref = spec.data.path
    path = sample_path(ref) if is_sample_name(ref) else spec.resolve(ref)
    return _tree_hash(path) if os.path.exists(path) else "missing"


TREE_FILES = 20_000  # a folder is keyed by at most this many entries, two levels deep (an image folder)


def _tree_hash(path: Path) -> str:
    """Content hash of a file; of a folder, its files two levels deep (names, sizes, mtimes and the
    content of small files), bounded: a folder linked to / must not walk the disk."""
    from raxlab.infile import check_input, is_regular, list_dir

    h = hashlib.sha256()
    if not path.is_dir():
        check_input(path, "data")  # a FIFO or device: the reader's one-line error, before any blocking open
        h.update(path.name.encode() + b"\0" + _file_digest(path))
        return h.hexdigest()
    for top in list_dir(path, "data", TREE_FILES):
        entries = list_dir(Path(top.path), "data", TREE_FILES) if top.is_dir(follow_symlinks=False) else [top]
        for e in entries:
            if is_regular(e):
                st = e.stat()
                rel = os.path.relpath(e.path, path)
                small = _file_digest(Path(e.path)) if st.st_size <= 64 * 1024 else b""
                h.update(f"{rel}\0{st.st_size}:{st.st_mtime_ns}".encode() + small)
    return h.hexdigest()


def _file_digest(f: Path) -> bytes:
    from raxlab.infile import open_input

    with open_input(f, "data") as fh:
        st = os.fstat(fh.fileno())
        if st.st_size <= WHOLE_FILE_BYTES:
            return hashlib.sha256(fh.read(WHOLE_FILE_BYTES + 1)).digest()
        head = fh.read(END_BYTES)
        fh.seek(-END_BYTES, os.SEEK_END)
        tail = fh.read(END_BYTES)
    return hashlib.sha256(f"{st.st_size}:{st.st_mtime_ns}".encode() + head + tail).digest()


_CODE: list[str] = []


def _code_hash() -> str:
    if not _CODE:
        h = hashlib.sha256()
        for f in sorted(CODE_DIR.rglob("*")):
            if f.suffix in (".py", ".yaml") and f.is_file():
                h.update(str(f.relative_to(CODE_DIR)).encode() + b"\0" + f.read_bytes())
        _CODE.append(h.hexdigest())
    return _CODE[0]


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def _read(path: Path, cls):
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls.from_dict(data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RaxError):  # a damaged or older entry: trace again and overwrite it
        return None


def _write(path: Path, data: dict) -> None:
    """Atomic (temp file + rename), so a reader never sees half a card; a cache that cannot be
    written (read-only home, full disk) only costs speed."""
    from raxlab.outfile import write_file

    try:
        write_file(path, json.dumps(data, allow_nan=False), field="RAX_CACHE")
    except (RaxError, ValueError):
        pass
