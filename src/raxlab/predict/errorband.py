"""The model's own error band, as data (`data/error_band.yaml`).

The band for training projections is the spread of relative errors of the validation
benchmark (`benchmarks/bench_predict_validation.py`: predicted vs published TFLOP/s per GPU
on Megatron-LM and MosaicML runs); the file records when and from what it was computed.
Inference projections have no published validation yet and carry no band (None, N/A).
A local back-test (`calibrate.backtest`) can replace the band for calibrated hardware.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from raxlab.predict.projection import ErrorBand
from raxlab.safe_yaml import PACKAGE_LOADER

BAND_PATH = Path(__file__).parent / "data" / "error_band.yaml"


@lru_cache(maxsize=1)
def _load() -> dict:
    return yaml.load(BAND_PATH.read_text(), Loader=PACKAGE_LOADER) or {}


def band(kind: str) -> ErrorBand | None:
    entry = _load().get(kind)
    if not entry:
        return None
    return ErrorBand(low=float(entry["low"]), high=float(entry["high"]),
                     median_abs=float(entry["median_abs"]), basis=str(entry["basis"]))
