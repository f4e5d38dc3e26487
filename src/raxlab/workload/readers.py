"""Data-sample readers: files on disk -> decoded per-sample tensors.

Each reader has `n` (samples available), `bytes_on_disk`, `load_s` (time to open and
pre-decode the whole file, e.g. tokenise a text or parse a table) and `item(i)` (one
decoded sample as a dict of tensors, read from disk where the format allows it, so a
DataLoader over `item` pays the real decode cost). Batch keys by workload kind:

  lm       input_ids, labels (= input_ids; the model shifts)     [seq_len] int64
  vision   pixel_values [C, S, S] float32 in 0..1, labels int64
  tabular  features [F] float32, targets (int64 class or float32 value)
  other    inputs, and targets when the sample has them

User data is never unpickled: `.npy` object arrays are refused.

A sample is a sample: only regular files (and folders of images) are read, through
`raxlab.infile` (a FIFO, a device behind any name, a socket, a link loop: one-line RaxError
before any open that could block), and only a bounded part of each: text, JSONL and CSV up to
`SAMPLE_BYTES` (cut at the last whole line), at most `SAMPLE_ROWS` records/rows (JSONL, CSV,
Parquet), tensors as in `workload.arrays`, image folders as in `workload.images`. A reader that
cut its file says so in `truncated` (the card's notes repeat it) and counts `bytes_on_disk` as
the bytes its samples came from, so bytes per sample stay right.
"""

from __future__ import annotations

import json
import os
import stat
import time
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from raxlab.errors import RaxError
from raxlab.infile import MiB, check_input, open_input, read_head
from raxlab.workload.arrays import SAMPLE_ROWS, load_npy, load_safetensors
from raxlab.workload.spec import DataSpec
from raxlab.workload.tokenizer import ByteTokenizer, bpe_bytes_per_token

SAMPLE_BYTES = 8 * MiB  # text / JSONL / CSV bytes read of a sample (8 M byte tokens: plenty of windows)

TEXT_EXTS = {".txt", ".md", ".text", ".rst"}
TABLE_EXTS = {".csv", ".parquet", ".pq"}
TENSOR_EXTS = {".npy", ".safetensors"}
INPUT_KEYS = ("inputs", "input_ids", "tokens", "pixel_values", "images", "features", "x")
TARGET_KEYS = ("targets", "labels", "label", "target", "y")


def data_format(path: Path) -> str:
    """'text' | 'jsonl' | 'images' | 'table' | 'tensors' from the path (folders are image folders)."""
    try:
        st = check_input(path, "data", dirs=True)
    except RaxError as exc:
        if not os.path.lexists(path):
            raise RaxError(f"no such file or folder: {path}", field="data") from None
        raise exc from None
    if stat.S_ISDIR(st.st_mode):
        return "images"
    ext = path.suffix.lower()
    for fmt, exts in (("text", TEXT_EXTS), ("jsonl", {".jsonl"}), ("table", TABLE_EXTS), ("tensors", TENSOR_EXTS)):
        if ext in exts:
            return fmt
    allowed = ".txt, .jsonl, .csv, .parquet, .npy, .safetensors or an image folder"
    raise RaxError(f"unsupported sample {path.name!r}; use {allowed}", field="data")


KIND_OF_FORMAT = {"text": "lm", "jsonl": "lm", "images": "vision", "table": "tabular", "tensors": "other"}


def read_sample(path: Path) -> tuple[bytes, str | None]:
    """(the first `SAMPLE_BYTES` of a text-like sample cut at a whole line, truncation note or None)."""
    raw, size = read_head(path, "data", SAMPLE_BYTES)
    if not raw.strip():
        raise RaxError(f"{path.name} is empty", field="data")
    if size <= len(raw) and len(raw) < SAMPLE_BYTES:
        return raw, None
    cut = raw.rfind(b"\n") + 1
    raw = raw[:cut] if cut > len(raw) // 2 else _utf8_prefix(raw)
    return raw, f"{path.name}: read the first {len(raw) / MiB:.1f} MiB of {max(size, len(raw)) / MiB:,.1f} MiB " \
                f"(a sample is capped at {SAMPLE_BYTES // MiB} MiB)"


def _utf8_prefix(raw: bytes) -> bytes:
    """`raw` without a UTF-8 sequence cut in the middle at its end."""
    for back in range(1, 4):
        if len(raw) >= back and raw[-back] & 0xC0 != 0x80:  # the lead byte of the last sequence
            lead = raw[-back]
            need = 1 if lead < 0x80 else 2 if lead >> 5 == 6 else 3 if lead >> 4 == 14 else 4
            return raw if need <= back else raw[:-back]
    return raw


# ---------------------------------------------------------------- language models

class TokenReader:
    """A packed token stream cut into windows of `seq_len` tokens."""

    def __init__(self, tokens: torch.Tensor, seq_len: int, bytes_on_disk: int, load_s: float, where: str,
                 truncated: str | None = None, short_ok: bool = False,
                 docs: list[bytes] | None = None):
        self.truncated = truncated
        self._docs = docs  # text samples: kept to measure bytes per token when first asked (card, not ranks)
        self.text_bytes = sum(len(d) for d in docs) if docs else None
        # A meta-only model is carded and projected, never fed: a sample shorter than one
        # sequence still gives bytes per token for storage sizing (`short_ok`, no windows).
        if tokens.numel() < seq_len and not short_ok:
            raise RaxError(f"{where} has {tokens.numel()} tokens; seq_len {seq_len} needs at least {seq_len}",
                           field="data")
        if tokens.numel() == 0:
            raise RaxError(f"{where} has no tokens", field="data")
        self.tokens, self.seq_len, self.where = tokens, seq_len, where
        self.bytes_on_disk, self.load_s = bytes_on_disk, load_s
        self.n = tokens.numel() // seq_len

    @cached_property
    def _bpe(self) -> tuple[float | None, str | None]:
        return bpe_bytes_per_token(self._docs) if self._docs else (None, None)

    @property
    def bytes_per_token(self) -> float | None:
        """Bytes of text per token of a BPE trained on this sample (tokenizer.bpe_bytes_per_token)."""
        return self._bpe[0]

    @property
    def tokenizer_note(self) -> str | None:
        return self._bpe[1]

    def item(self, i: int) -> dict[str, torch.Tensor]:
        return self.window(i * self.seq_len)

    def window(self, offset: int) -> dict[str, torch.Tensor]:
        w = self.tokens[offset:offset + self.seq_len].clone()
        return {"input_ids": w, "labels": w.clone()}

    def random_batch(self, batch_size: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
        """Windows at random offsets (more variety than aligned windows from a small sample)."""
        tokens = self.tokens
        if tokens.numel() < self.seq_len:  # short_ok (meta-only tracing): the sample repeated to length
            tokens = tokens.repeat(self.seq_len // tokens.numel() + 1)
        offs = torch.randint(0, tokens.numel() - self.seq_len + 1, (batch_size,), generator=gen)
        ids = torch.stack([tokens[o:o + self.seq_len] for o in offs.tolist()])
        return {"input_ids": ids, "labels": ids.clone()}

    def check_vocab(self, vocab: int | None) -> None:
        low = int(self.tokens.min())
        if low < 0:
            raise RaxError(f"{self.where} has a negative token id ({low})", field="data")
        top = int(self.tokens.max())
        if vocab is not None and top >= vocab:
            raise RaxError(f"{self.where} has token id {top}, but the model's vocab_size is {vocab}"
                           f" (the byte tokenizer needs >= {ByteTokenizer.vocab_size})", field="data")


def open_tokens(path: Path, fmt: str, data: DataSpec, seq_len: int, short_ok: bool = False) -> TokenReader:
    t0 = time.perf_counter()
    tok, note = ByteTokenizer(), None
    if fmt == "text":
        raw, note = read_sample(path)
        docs = [raw]
        tokens, size = tok.stream(docs, where=path.name), len(raw)
    elif fmt == "jsonl":
        docs, note, size = _jsonl_docs(path, data.text_field)
        tokens = tok.stream(docs, where=path.name)
    elif fmt == "table":
        table, note, size = _read_table(path)
        docs = [s.encode() for s in _text_column(table, path, data.text_field)]
        tokens = tok.stream(docs, where=path.name)
    elif fmt == "tensors":
        x, _, key, note = _load_tensors(path, data)
        tokens, size, docs = _int_stream(x, key), x.nbytes, None  # token ids already: their own tokenizer
    else:
        raise RaxError(f"a language model needs text (.txt, .jsonl, a text column) or token ids,"
                       f" not {fmt} ({path.name})", field="data")
    return TokenReader(tokens, seq_len, size, time.perf_counter() - t0, path.name, note, short_ok=short_ok,
                       docs=docs)


def _jsonl_docs(path: Path, field: str) -> tuple[list[bytes], str | None, int]:
    raw, note = read_sample(path)
    ByteTokenizer().check_utf8(raw, where=path.name)  # one-line error for bad UTF-8
    docs: list[bytes] = []
    for no, line in enumerate(raw.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        if len(docs) >= SAMPLE_ROWS:
            note = f"{path.name}: read the first {SAMPLE_ROWS:,} records (a sample is capped at {SAMPLE_ROWS:,})"
            break
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, ints past 4300 digits, deep nesting
            raise RaxError(f"{path.name} line {no} is not JSON: {getattr(exc, 'msg', exc)}", field="data") from None
        if not isinstance(obj, dict) or not isinstance(obj.get(field), str):
            keys = ", ".join(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
            raise RaxError(f"{path.name} line {no} has no string {field!r} (has: {keys})", field="data.text_field")
        docs.append(obj[field].encode("utf-8", "replace"))  # a lone surrogate ("\\ud800") becomes "?"
    return docs, note, len(raw)


def _int_stream(inputs: np.ndarray, key: str) -> torch.Tensor:
    if not np.issubdtype(inputs.dtype, np.integer):
        raise RaxError(f"token ids in {key!r} must be integers, got {inputs.dtype}", field="data.inputs")
    return torch.from_numpy(inputs.astype(np.int64).reshape(-1))


# ---------------------------------------------------------------- tables

def _read_table(path: Path):
    """(the first `SAMPLE_ROWS` rows of a CSV/Parquet sample, truncation note or None, bytes read)."""
    import pyarrow as pa

    try:
        table, note, size = _read_csv(path) if path.suffix.lower() == ".csv" else _read_parquet(path)
    except (pa.ArrowException, OSError) as exc:
        raise RaxError(f"cannot read {path.name} as a table: {str(exc).splitlines()[0]}", field="data") from None
    if table.num_rows == 0:
        raise RaxError(f"{path.name} has no rows", field="data")
    twice = sorted({c for c in table.column_names if table.column_names.count(c) > 1})
    if twice:  # pyarrow cannot select a column by an ambiguous name
        raise RaxError(f"{path.name} has more than one column named {', '.join(map(repr, twice))}", field="data")
    return table, note, size


def _read_csv(path: Path):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    raw, note = read_sample(path)
    table = pacsv.read_csv(pa.BufferReader(raw))
    if table.num_rows > SAMPLE_ROWS:
        table, note = table.slice(0, SAMPLE_ROWS), f"{path.name}: read the first {SAMPLE_ROWS:,} rows"
    return table, note, len(raw)


def _read_parquet(path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open_input(path, "data") as f:
        pf = pq.ParquetFile(f)
        total, batches, rows = pf.metadata.num_rows, [], 0
        for batch in pf.iter_batches(batch_size=min(SAMPLE_ROWS, 65536)):
            batches.append(batch)
            rows += batch.num_rows
            if rows >= SAMPLE_ROWS:
                break
        table = pa.Table.from_batches(batches, schema=pf.schema_arrow).slice(0, SAMPLE_ROWS)
        size = os.fstat(f.fileno()).st_size
    note = None if table.num_rows >= total else f"{path.name}: read the first {table.num_rows:,} of {total:,} rows"
    return table, note, size if note is None else int(size * table.num_rows / max(total, 1))


def _text_column(table, path: Path, field: str) -> list[str]:
    if field not in table.column_names:
        raise RaxError(f"{path.name} has no column {field!r}; columns: {', '.join(table.column_names)}",
                       field="data.text_field")
    import pyarrow as pa

    col = table.column(field)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        raise RaxError(f"column {field!r} of {path.name} holds {col.type}, not text", field="data.text_field")
    return [s for s in col.to_pylist() if s]


class TableReader:
    """Feature matrix and targets from CSV/Parquet (numeric columns only)."""

    def __init__(self, path: Path, data: DataSpec):
        t0 = time.perf_counter()
        table, self.truncated, size = _read_table(path)
        cols = table.column_names
        target = data.target or next((c for c in ("label", "target", "y") if c in cols), None)
        if target is None or target not in cols:
            raise RaxError(f"{path.name} needs a target column (set data.target); columns: {', '.join(cols)}",
                           field="data.target")
        features = data.features or [c for c in cols if c != target]
        if not features:
            raise RaxError(f"{path.name} has only the target column {target!r}; need feature columns too",
                           field="data.features")
        missing = [c for c in features if c not in cols]
        if missing:
            raise RaxError(f"{path.name} has no column(s) {', '.join(missing)}; columns: {', '.join(cols)}",
                           field="data.features")
        self.feature_names = features
        self.features = torch.from_numpy(np.stack([_numeric(table, c, path) for c in features], 1))
        y = _numeric(table, target, path, allow_int=True)
        self.targets = torch.from_numpy(y.astype(np.int64) if np.issubdtype(y.dtype, np.integer) else y)
        self.n, self.bytes_on_disk, self.load_s = table.num_rows, size, time.perf_counter() - t0
        self.where = path.name

    def item(self, i: int) -> dict[str, torch.Tensor]:
        return {"features": self.features[i], "targets": self.targets[i]}

    def check_features(self, in_features: int | None) -> None:
        if in_features is not None and in_features != len(self.feature_names):
            raise RaxError(f"{self.where} gives {len(self.feature_names)} feature columns"
                           f" ({', '.join(self.feature_names)}); the model's first layer expects {in_features}",
                           field="data.features")


def _numeric(table, col: str, path: Path, allow_int: bool = False) -> np.ndarray:
    arr = table.column(col).to_numpy(zero_copy_only=False)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise RaxError(f"column {col!r} of {path.name} is {arr.dtype}, expected numbers", field="data.features")
    if np.issubdtype(arr.dtype, np.floating) and np.isnan(arr).any():
        raise RaxError(f"column {col!r} of {path.name} has {int(np.isnan(arr).sum())} missing values;"
                       " fill or drop them", field="data")
    if allow_int and (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
        return arr.astype(np.int64)
    return arr.astype(np.float32)


# ---------------------------------------------------------------- tensors (.npy / .safetensors)

def _load_tensors(path: Path, data: DataSpec) -> tuple[np.ndarray, np.ndarray | None, str, str | None]:
    """(inputs, targets or None, input key, truncation note) from .npy (one array) or .safetensors."""
    if path.suffix.lower() == ".npy":
        arr, note = load_npy(path)
        return _rows(arr, path, path.name), None, path.name, note
    arrays, note = load_safetensors(path)
    in_key = data.inputs or (next(iter(arrays)) if len(arrays) == 1 else
                             next((k for k in INPUT_KEYS if k in arrays), None))
    if in_key not in arrays:
        raise RaxError(f"{path.name} has tensors {', '.join(arrays)}; set data.inputs to the input key",
                       field="data.inputs")
    tg_key = data.target or next((k for k in TARGET_KEYS if k in arrays and k != in_key), None)
    if data.target and data.target not in arrays:
        raise RaxError(f"{path.name} has no tensor {data.target!r}; has: {', '.join(arrays)}", field="data.target")
    targets = _rows(arrays[tg_key], path, tg_key) if tg_key else None
    return _rows(arrays[in_key], path, in_key), targets, in_key, note


def _rows(arr: np.ndarray, path: Path, key: str) -> np.ndarray:
    """An array of samples along axis 0 holding numbers torch can take (no text, dates or complex)."""
    if arr.dtype.kind not in "biuf":
        raise RaxError(f"{key!r} in {path.name} holds {arr.dtype} values; samples must be numbers"
                       " (bool, int, uint or float)", field="data")
    if arr.ndim == 0 or arr.size == 0:
        raise RaxError(f"{key!r} in {path.name} has shape {arr.shape}; need one or more samples along"
                       " the first axis", field="data")
    return arr


class TensorReader:
    """Rows of an array (first axis = samples), with optional per-row targets."""

    def __init__(self, path: Path, data: DataSpec, kind: str):
        t0 = time.perf_counter()
        x, y, key, self.truncated = _load_tensors(path, data)
        if y is not None and len(y) != len(x):
            if not self.truncated:
                raise RaxError(f"{path.name}: {len(x)} inputs but {len(y)} targets", field="data.target")
            n = min(len(x), len(y))  # the caps cut them at different rows: keep the rows both have
            x, y = x[:n], y[:n]
        # The batch contract: float32 inputs (autocast picks the precision), int64 class labels.
        self.inputs = torch.from_numpy(np.ascontiguousarray(x))
        self.targets = None if y is None else torch.from_numpy(np.ascontiguousarray(y))
        if kind != "lm":
            self.inputs = self.inputs.float()
        if self.targets is not None:
            self.targets = self.targets.float() if self.targets.is_floating_point() else self.targets.long()
        self.keys = {"tabular": ("features", "targets"), "vision": ("pixel_values", "labels")}.get(
            kind, ("inputs", "targets"))
        nbytes = x.nbytes + (0 if y is None else y.nbytes)
        self.n, self.bytes_on_disk, self.load_s = len(x), nbytes, time.perf_counter() - t0
        self.where = path.name

    def item(self, i: int) -> dict[str, torch.Tensor]:
        out = {self.keys[0]: self.inputs[i]}
        if self.targets is not None:
            out[self.keys[1]] = self.targets[i]
        return out

    def check_image(self, in_channels: int | None) -> None:
        """Vision rows must be images [C, H, W] with the model's channel count."""
        shape = tuple(self.inputs.shape[1:])
        if len(shape) != 3 or (in_channels is not None and shape[0] != in_channels):
            want = f"[{in_channels or 'C'}, H, W]"
            raise RaxError(f"{self.where} rows have shape {list(shape)}; the model takes images {want}", field="data")

    def check_features(self, in_features: int | None) -> None:
        got = self.inputs.shape[-1] if self.inputs.dim() > 1 else 1
        if in_features is not None and got != in_features:
            raise RaxError(f"{self.where} rows have {got} features; the model's first layer expects {in_features}",
                           field="data")
