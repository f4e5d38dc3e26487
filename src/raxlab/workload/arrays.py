"""Arrays of a data sample from `.npy` and `.safetensors`, read in bounded pieces.

Neither format is loaded whole: the header is parsed and only the first rows are read, at most
`TENSOR_BYTES` of array data and `SAMPLE_ROWS` rows per array of 2+ dimensions (a 1-D token
stream only by bytes: 8 M int64 tokens). A sample is a sample: a 40 GB tensor file gives its
first rows, and the card says it was cut. `.npy` is read by its header
(numpy.lib.format) and memory-mapped from a descriptor opened by `raxlab.infile` (no pickle:
object arrays are refused); `.safetensors` by `safetensors.safe_open`, which maps the file and
slices it, opened through the same descriptor (/proc/self/fd/N) so nothing can swap the file.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from raxlab.errors import RaxError
from raxlab.infile import MiB, fd_path, open_input, os_error

TENSOR_BYTES = 64 * MiB  # array data read per sample file
SAMPLE_ROWS = 100_000  # samples (rows along axis 0) kept per array


def rows_to_read(shape: tuple[int, ...], itemsize: int, where: str) -> int:
    """How many leading rows of an array of `shape` fit the caps (>= 1), or a RaxError."""
    if not shape:
        raise RaxError(f"{where} holds a single value (shape ()); need samples along the first axis", field="data")
    row_bytes = itemsize * math.prod(shape[1:])
    if shape[0] == 0 or row_bytes == 0:
        raise RaxError(f"{where} has shape {list(shape)}: no data", field="data")
    if row_bytes > TENSOR_BYTES:
        raise RaxError(f"{where}: one sample is {row_bytes / MiB:.0f} MiB (shape {list(shape)}), more than the "
                       f"{TENSOR_BYTES // MiB} MiB RA:X reads of a sample file", field="data")
    rows = SAMPLE_ROWS if len(shape) > 1 else shape[0]  # a 1-D token stream is capped by bytes only
    return min(shape[0], rows, TENSOR_BYTES // row_bytes)


def load_npy(path: Path) -> tuple[np.ndarray, str | None]:
    """(the first rows of the array in `path`, a truncation note or None)."""
    with open_input(path, "data") as f:
        try:
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read(f)
            offset, size = f.tell(), os.fstat(f.fileno()).st_size
        except OSError as exc:
            raise os_error(path, exc, "data") from None
        except Exception as exc:  # ValueError for a bad magic/header, EOFError for a short file
            raise RaxError(f"cannot read {path.name} as .npy: {str(exc).splitlines()[0] if str(exc) else exc!r}",
                           field="data") from None
        if dtype.hasobject:
            raise RaxError(f"{path.name} holds Python objects (pickle), which RA:X never loads", field="data")
        n = rows_to_read(tuple(shape), dtype.itemsize, path.name)
        need = offset + dtype.itemsize * math.prod(shape)
        if size < need:
            raise RaxError(f"cannot read {path.name} as .npy: cut short (its header promises {need} bytes, the file"
                           f" has {size})",
                           field="data")
        try:
            mm = np.memmap(f, dtype=dtype, mode="r", offset=offset, shape=tuple(shape), order="F" if fortran else "C")
            arr = np.array(mm[:n])
            del mm
        except (OSError, ValueError) as exc:
            raise RaxError(f"cannot read {path.name} as .npy: {exc}", field="data") from None
    return arr, _note(path, n, shape[0], "rows")


SAFETENSORS_NUMPY = {"BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64", "F16", "F32", "F64"}


def load_safetensors(path: Path) -> tuple[dict[str, np.ndarray], str | None]:
    """({name: first rows}, a truncation note or None) of a .safetensors file."""
    from safetensors import safe_open

    out, notes = {}, []
    with open_input(path, "data") as f:
        try:
            with safe_open(fd_path(f, path), framework="numpy") as st:
                for key in st.keys():
                    sl = st.get_slice(key)
                    dtype, shape = sl.get_dtype(), tuple(sl.get_shape())
                    if dtype not in SAFETENSORS_NUMPY:
                        raise RaxError(f"tensor {key!r} in {path.name} is {dtype}, which numpy cannot hold; "
                                       f"save samples as one of {', '.join(sorted(SAFETENSORS_NUMPY))}", field="data")
                    n = rows_to_read(shape, np.dtype(_np_dtype(dtype)).itemsize, f"{key!r} in {path.name}")
                    out[key] = np.asarray(sl[:n])
                    if n < shape[0]:
                        notes.append(f"{key} {n:,} of {shape[0]:,} rows")
        except RaxError:
            raise
        except Exception as exc:  # SafetensorError, OSError, ValueError for bad files
            raise RaxError(f"cannot read {path.name} as .safetensors: {str(exc).splitlines()[0]}", field="data") \
                from None
    if not out:
        raise RaxError(f"{path.name} holds no tensors", field="data")
    return out, (f"{path.name}: read the first rows only ({'; '.join(notes)})" if notes else None)


def _np_dtype(st_dtype: str) -> str:
    return {"BOOL": "bool", "U8": "u1", "I8": "i1", "U16": "u2", "I16": "i2", "U32": "u4", "I32": "i4",
            "U64": "u8", "I64": "i8", "F16": "f2", "F32": "f4", "F64": "f8"}[st_dtype]


def _note(path: Path, n: int, total: int, what: str) -> str | None:
    if n >= total:
        return None
    return (f"{path.name}: read the first {n:,} of {total:,} {what} (a sample is capped at {SAMPLE_ROWS:,} {what} "
            f"and {TENSOR_BYTES // MiB} MiB)")
