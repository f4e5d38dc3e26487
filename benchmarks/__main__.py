"""Run the benchmarks: `python -m benchmarks [NAME ...]`.

Each `benchmarks/bench_<name>.py` defines `TITLE`, `TARGET` (the target in words) and
`run() -> list[dict]` (one row per case; a row may carry `pass: bool` against the target).
The runner prints one table per module and a final pass/fail line per target.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback
from pathlib import Path

from rich.console import Console
from rich.table import Table


def _modules(selected: list[str]):
    here = Path(__file__).parent
    names = sorted(m.name[len("bench_"):] for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    unknown = [s for s in selected if s not in names]
    if unknown:
        sys.exit(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(names)}")
    return [importlib.import_module(f"benchmarks.bench_{n}") for n in (selected or names)]


def _fmt(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, float):
        return f"{v:.4g}"
    return "N/A" if v is None else str(v)


def _table(mod, rows: list[dict], seconds: float) -> Table:
    cols = list(dict.fromkeys(k for r in rows for k in r))
    t = Table(title=f"{mod.TITLE}  ({seconds:.1f} s)", caption=f"target: {mod.TARGET}")
    for c in cols:
        t.add_column(c, justify="right" if any(isinstance(r.get(c), (int, float)) for r in rows) else "left")
    for r in rows:
        t.add_row(*(_fmt(r.get(c)) for c in cols))
    return t


def main(argv: list[str]) -> int:
    console = Console(width=200)
    verdicts = []
    for mod in _modules(argv):
        t0 = time.perf_counter()
        try:
            rows = mod.run()
        except Exception:  # a broken benchmark is reported, the others still run
            console.print(f"[red]{mod.TITLE}: failed[/red]\n{traceback.format_exc()}")
            verdicts.append((mod.TITLE, False))
            continue
        console.print(_table(mod, rows, time.perf_counter() - t0))
        checks = [r["pass"] for r in rows if "pass" in r]
        verdicts.append((mod.TITLE, all(checks) if checks else None))
    for title, ok in verdicts:
        console.print(f"{'PASS' if ok else 'n/a ' if ok is None else 'MISS'}  {title}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
