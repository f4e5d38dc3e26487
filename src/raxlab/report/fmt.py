"""Numbers for humans in reports: the one formatting module, `raxlab.fmt` (kept importable here)."""

from raxlab.fmt import NA, count, g, ms, nbytes, num, pct, seconds, si, sig, signed_pct, text, usd  # noqa: F401
