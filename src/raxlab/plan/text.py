"""Sentences of a plan: hardware, plurals, deadlines; numbers through `raxlab.fmt` (one formatting module)."""

from __future__ import annotations

import math

from raxlab import fmt


def money(usd: float | None) -> str:
    return fmt.usd(usd)


def duration(s: float | None) -> str:
    return fmt.seconds(s)


def ms(seconds: float | None) -> str:
    """Milliseconds, as serving SLAs are quoted: '1,960 ms', '4.7 ms'."""
    return fmt.ms(seconds)


def pct(x: float | None, digits: int = 3) -> str:
    return fmt.pct(x, digits)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def hw(row: dict) -> str:
    """'16 x hgx-h100-8gpu (128 h100-sxm) on ib-ndr x 8 rails, bf16'."""
    net = f"on {row['fabric']} x {row['rails']} rail{'s' if row['rails'] != 1 else ''}" if row.get("fabric") else \
        "(one node, no scale-out fabric)"
    return (f"{row['nodes']} x {row['server']} ({row['gpus']} {row['accelerator']}) {net}, {row['precision']}")


def jsonable(obj):
    """Plain Python for JSON: numpy scalars and arrays converted, NaN/inf to None."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):
        obj = obj.tolist()
        if isinstance(obj, list):
            return jsonable(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def perf(row: dict, unit: str) -> str:
    """Time-to-target when there is an amount of work, else the throughput."""
    if row.get("time_to_target_s") is not None:
        return duration(row["time_to_target_s"])
    return f"{row['rate']:.3g} {unit}/s"


def deadline(s: float) -> str:
    """'60-day deadline', '1-hour deadline'."""
    value, unit = duration(s).split(" ", 1)
    return f"{value}-{unit.removesuffix('s')} deadline"
