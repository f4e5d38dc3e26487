"""The model's own error band, per GPU generation and layout family, as data (`data/error_band.yaml`).

A band is the spread of the validation errors of one slice of published runs
(`benchmarks/bench_predict_validation.py --write-band`): the 10th and 90th percentile of
published / predicted − 1 of throughput, so a projected throughput x is expected in
[x·(1+low), x·(1+high)] for 80 % of runs like those of the slice, and the projected step time t
in [t/(1+high), t/(1+low)] (`ErrorBand.step_low/step_high`).

Slices: a GPU generation (the kernel family of `data/kernels.yaml`: ampere, hopper, blackwell,
...) crossed with a layout family (`fsdp`, `3d`, `tp_dp`, `dp`), plus `fp8`, `long_seq` and the
generation's `all`. A projection takes the most specific slice with at least MIN_ROWS rows
(fp8, then long_seq, then its layout family, then all). A generation with no such slice gets
the widest band and says "not validated on this generation". Inference projections have no
published validation yet and carry no band (None, N/A).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from raxlab.predict.projection import ErrorBand
from raxlab.safe_yaml import PACKAGE_LOADER

BAND_PATH = Path(__file__).parent / "data" / "error_band.yaml"
MIN_ROWS = 10  # fewer validated rows than this: the slice does not set a band
LONG_SEQ = 16384  # tokens per sequence from which a run counts as long-context


@lru_cache(maxsize=1)
def _load() -> dict:
    return yaml.load(BAND_PATH.read_text(), Loader=PACKAGE_LOADER) or {}


def layout_family(zero: int, pp: int, tp: int) -> str:
    if zero >= 3:
        return "fsdp"
    if pp > 1:
        return "3d"
    return "tp_dp" if tp > 1 else "dp"


def slice_keys(family: str, precision: str = "bf16", seq: int = 0, cp: int = 1) -> list[str]:
    """Candidate slices of one run, most specific first (the validation writer puts the run's
    error in every one of them)."""
    keys = ["fp8"] if precision == "fp8" else []
    if seq >= LONG_SEQ or cp > 1:
        keys.append("long_seq")
    return keys + [family, "all"]


def _band(entry: dict, name: str, validated: bool, note: str = "") -> ErrorBand:
    return ErrorBand(low=float(entry["low"]), high=float(entry["high"]),
                     median_abs=float(entry.get("median_abs", max(abs(entry["low"]), abs(entry["high"])))),
                     basis=str(entry.get("basis", "")) + (f"; {note}" if note else ""), n=int(entry.get("n", 0)),
                     slice=name, validated=validated, level=float(_load().get("level", 0.8)))


def band(kind: str = "train", generation: str | None = None, keys: list[str] | None = None) -> ErrorBand | None:
    """The band of the most specific validated slice of `generation` among `keys`; the widest
    band, marked not validated, when the generation has none. None for kinds without a band."""
    table = _load().get(kind)
    if not table:
        return None
    if "low" in table:  # a kind with one band (the generic, non-transformer model)
        return _band(table, kind, validated=True)
    gen = (table.get("generations") or {}).get(generation or "") or {}
    for key in keys or ["all"]:
        entry = gen.get(key)
        if entry and int(entry.get("n", 0)) >= MIN_ROWS:
            return _band(entry, f"{generation}/{key}", validated=True)
    widest = table["widest"]
    return _band(widest, f"{generation or 'unknown'}/widest", validated=False,
                 note=f"not validated on this generation ({generation or 'unknown'}): fewer than {MIN_ROWS} "
                      "published runs of this kind")


def generations() -> dict:
    """{generation: {slice: entry}} as written by the validation benchmark."""
    return dict((_load().get("train") or {}).get("generations") or {})
