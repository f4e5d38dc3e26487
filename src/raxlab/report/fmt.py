"""Numbers for humans: SI prefixes, bytes, durations, money, percentages, or N/A.

Every formatter takes None (or NaN/inf) and returns "N/A": a report never prints a
misleading zero for a value it does not have (style.md §11, torchtitan's MFU=None).
"""

from __future__ import annotations

import math

NA = "N/A"
_SI = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"),
       (1e-9, "n"))
_BIN = ((2.0**50, "PiB"), (2.0**40, "TiB"), (2.0**30, "GiB"), (2.0**20, "MiB"), (2.0**10, "KiB"))


def num(v) -> float | None:
    """A finite float, or None for anything else (None, NaN, inf, strings)."""
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def g(v, digits: int = 4, unit: str = "") -> str:
    f = num(v)
    if f is None:
        return NA
    return f"{f:.{digits}g}{' ' + unit if unit else ''}"


def si(v, unit: str, digits: int = 3) -> str:
    """0.00069875e12 FLOP/s -> '698.8 MFLOP/s'."""
    f = num(v)
    if f is None:
        return NA
    if f == 0:
        return f"0 {unit}"
    for scale, prefix in _SI:
        if abs(f) >= scale:
            return f"{f / scale:.{digits}g} {prefix}{unit}".rstrip()
    return f"{f:.{digits}g} {unit}".rstrip()


def count(v) -> str:
    """Counts: '19,846' below a million, then '46 M', '1.1 B' (parameters, candidates)."""
    f = num(v)
    if f is None:
        return NA
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
        if abs(f) >= scale:
            return f"{f / scale:.3g} {suffix}"
    return f"{f:,.0f}" if f == int(f) else f"{f:.4g}"


def nbytes(v, digits: int = 3) -> str:
    """Binary prefixes for memory and message sizes (1 MiB = 2^20 B)."""
    f = num(v)
    if f is None:
        return NA
    for scale, unit in _BIN:
        if abs(f) >= scale:
            return f"{f / scale:.{digits}g} {unit}"
    return f"{f:.{digits}g} B"


def seconds(v, digits: int = 3) -> str:
    """Step times in ms/µs, long times in minutes, hours, days."""
    f = num(v)
    if f is None:
        return NA
    a = abs(f)
    if a >= 2 * 86400:
        return f"{f / 86400:.{digits}g} days"
    if a >= 2 * 3600:
        return f"{f / 3600:.{digits}g} h"
    if a >= 120:
        return f"{f / 60:.{digits}g} min"
    if a >= 1 or a == 0:
        return f"{f:.{digits}g} s"
    if a >= 1e-3:
        return f"{f * 1e3:.{digits}g} ms"
    return f"{f * 1e6:.{digits}g} µs"


def pct(v, digits: int = 3) -> str:
    """A fraction as a percentage (0.42 -> '42 %')."""
    f = num(v)
    return NA if f is None else f"{f * 100:.{digits}g} %"


def signed_pct(v, digits: int = 3) -> str:
    f = num(v)
    return NA if f is None else f"{f * 100:+.{digits}g} %"


def usd(v) -> str:
    """Money with thousands separators; millions shortened ('$12.3 M')."""
    f = num(v)
    if f is None:
        return NA
    sign, f = ("−" if f < 0 else ""), abs(f)
    if f >= 1e6:
        return f"{sign}${f / 1e6:,.3g} M"
    return f"{sign}${f:,.0f}" if f >= 100 else f"{sign}${f:,.4g}"


def text(v) -> str:
    """Any stored value as display text (lists joined, None as N/A); never raises."""
    if v is None:
        return NA
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return g(v)
    if isinstance(v, (list, tuple)):
        return ", ".join(text(x) for x in v) if v else "none"
    if isinstance(v, dict):
        return ", ".join(f"{k}={text(x)}" for k, x in v.items()) if v else "none"
    return str(v)
