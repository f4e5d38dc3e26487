"""Numbers for people, in one place: every table, sentence and report formats through here.

Rules (one meaning per unit, DESIGN.md and DEVELOPING.md "Units"):
- Memory and message sizes in binary units (`nbytes`: KiB, MiB, GiB: 1 GiB = 2^30 B, what a GPU's
  "80 GB" HBM is); rates in decimal SI (`si`: GB/s = 1e9 B/s as nccl-tests, TFLOP/s = 1e12 FLOP/s).
- Significant digits, never scientific notation for the values people read (`sig`): 0.0059, not
  5.90e-03; a value that rounds up to the next unit moves to it ($1.00M, not $1e+03k).
- Money `usd`: $950, $13.2k, $1.19M, $2.5B, $0.0059; negative amounts -$1.2k.
- Durations `seconds`: µs, ms, s, min, h, days, years. Percentages `pct` of fractions: 0.424 -> 42.4 %.
- None, NaN and infinities print N/A: a missing value is never a misleading zero.
"""

from __future__ import annotations

import math

NA = "N/A"
_SI = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"),
       (1e-9, "n"))
_BIN = ((2.0**50, "PiB"), (2.0**40, "TiB"), (2.0**30, "GiB"), (2.0**20, "MiB"), (2.0**10, "KiB"), (1.0, "B"))
_MONEY = ((1e9, "B"), (1e6, "M"), (1e3, "k"))
_TIME = ((365.25 * 86400, " years", 2), (86400, " days", 2), (3600, " h", 2), (60, " min", 2), (1.0, " s", 1),
         (1e-3, " ms", 1), (1e-6, " µs", 1), (1e-9, " ns", 0))


def num(v) -> float | None:
    """A finite float, or None for anything else (None, bools, NaN, inf, text)."""
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _round_sig(x: float, digits: int) -> float:
    if x == 0:
        return 0.0
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def sig(x: float, digits: int = 3) -> str:
    """`x` to `digits` significant digits, in positional notation (trailing zeros dropped);
    thousands separators from 10,000. Scientific only outside [1e-9, 1e18)."""
    r = _round_sig(float(x), digits)
    if r == 0:
        return "0"
    a = abs(r)
    if not 1e-9 <= a < 1e18:
        return f"{r:.{digits - 1}e}"
    decimals = max(digits - 1 - math.floor(math.log10(a)), 0)
    text = f"{r:,.{decimals}f}" if a >= 1e4 else f"{r:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def g(v, digits: int = 4, unit: str = "") -> str:
    f = num(v)
    if f is None:
        return NA
    return sig(f, digits) + (f" {unit}" if unit else "")


def _scaled(a: float, steps, digits: int) -> tuple[str, str]:
    """(digits, suffix) of `a` >= 0 in the largest unit it reaches after rounding."""
    for scale, suffix, *_ in steps:
        if a >= scale or _round_sig(a / scale, digits) >= 1:
            return sig(a / scale, digits), suffix
    scale, suffix, *_ = steps[-1]
    return sig(a / scale, digits), suffix


def si(v, unit: str, digits: int = 3) -> str:
    """Decimal prefixes: 6.9875e8 FLOP/s -> '699 MFLOP/s'; 4.6e10 B/s -> '46 GB/s'."""
    f = num(v)
    if f is None:
        return NA
    if f == 0:
        return f"0 {unit}"
    text, prefix = _scaled(abs(f), _SI, digits)
    return f"{'-' if f < 0 else ''}{text} {prefix}{unit}".rstrip()


def nbytes(v, digits: int = 3) -> str:
    """Binary prefixes for memory and message sizes: 81559 MiB -> '79.6 GiB'."""
    f = num(v)
    if f is None:
        return NA
    if f == 0:
        return "0 B"
    text, unit = _scaled(abs(f), _BIN, digits)
    return f"{'-' if f < 0 else ''}{text} {unit}"


def count(v) -> str:
    """Counts: '19,846' below a million, then '46 M', '1.1 B', '3.2 T' (parameters, tokens, candidates)."""
    f = num(v)
    if f is None:
        return NA
    if abs(f) < 1e6:
        return f"{f:,.0f}" if f == int(f) else sig(f, 4)
    text, suffix = _scaled(abs(f), ((1e12, "T"), (1e9, "B"), (1e6, "M")), 3)
    return f"{'-' if f < 0 else ''}{text} {suffix}"


def seconds(v, digits: int = 3) -> str:
    """Step times in ms/µs; long times in min, h, days, years (each from 2 of the unit)."""
    f = num(v)
    if f is None:
        return NA
    a = abs(f)
    if a == 0:
        return "0 s"
    for scale, unit, least in _TIME:
        if a >= least * scale or scale == _TIME[-1][0]:
            return f"{'-' if f < 0 else ''}{sig(a / scale, digits)}{unit}"
    return NA  # unreachable: the last step takes everything


def ms(v) -> str:
    """Milliseconds, as serving SLAs are quoted: '1,960 ms', '4.7 ms'."""
    f = num(v)
    return NA if f is None else f"{sig(f * 1e3, 3)} ms"


def pct(v, digits: int = 3) -> str:
    """A fraction as a percentage: 0.4237 -> '42.4 %'."""
    f = num(v)
    return NA if f is None else f"{sig(f * 100, digits)} %"


def signed_pct(v, digits: int = 3) -> str:
    f = num(v)
    if f is None:
        return NA
    text = sig(f * 100, digits)
    return f"{'+' if not text.startswith('-') else ''}{text} %"


def usd(v, digits: int = 3) -> str:
    """Money: '$950', '$13.2k', '$1.19M', '$2.5B', '$0.0059' (per-unit costs), '-$1.2k'."""
    f = num(v)
    if f is None:
        return NA
    sign, a = ("-" if f < 0 else ""), abs(f)
    if a == 0:
        return "$0"
    if a < 1e3 and _round_sig(a, digits) < 1e3:
        return f"{sign}${sig(a, digits)}"
    text, suffix = _scaled(a, _MONEY, digits)
    return f"{sign}${text}{suffix}"


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
