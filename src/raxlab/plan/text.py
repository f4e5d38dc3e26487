"""Numbers for sentences: money, durations, percentages (plain text; rendering is elsewhere)."""

from __future__ import annotations

import math


def money(usd: float | None) -> str:
    if usd is None or not math.isfinite(usd):
        return "N/A"
    sign, a = ("-" if usd < 0 else ""), abs(usd)
    if a == 0:
        return "$0"
    for div, suf in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{sign}${a / div:.3g}{suf}"
    return f"{sign}${a:.3g}" if a >= 0.01 else f"{sign}${a:.2e}"


def duration(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "N/A"
    for div, unit in ((365.25 * 86400, "year"), (86400, "day"), (3600, "hour"), (60, "minute")):
        if s >= div:
            v = f"{s / div:.3g}"
            return f"{v} {unit}" + ("" if v == "1" else "s")
    return f"{s:.3g} s"


def ms(seconds: float | None) -> str:
    """Milliseconds, as serving SLAs are quoted: '1,960 ms', '4.7 ms'."""
    if seconds is None or not math.isfinite(seconds):
        return "N/A"
    v = seconds * 1e3
    return f"{v:,.0f} ms" if v >= 100 else f"{v:.3g} ms"


def pct(x: float | None, digits: int = 2) -> str:
    if x is None or not math.isfinite(x):
        return "N/A"
    if abs(x) >= 0.1:
        return f"{100 * x:.0f} %"
    return f"{100 * x:.{digits}g} %"


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
