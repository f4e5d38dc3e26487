"""Rendering of a `rax predict` sweep (the numbers come from `raxlab.predict.sweep`)."""

from __future__ import annotations

from raxlab.cli.common import console

COLUMNS = (("gpu", "gpu"), ("fabric", "fabric"), ("precision", "prec"), ("tp", "tp"), ("pp", "pp"), ("dp", "dp"),
           ("vpp", "vpp"), ("cp", "cp"), ("ep", "ep"), ("micro_batch", "mb"), ("zero", "ZeRO"), ("recompute", "recompute"))


def render_sweep(d: dict) -> None:
    from rich.table import Table

    from raxlab.predict.projection import fmt

    out = console()
    varying, fixed = _split_columns(d["rows"])
    same = ", ".join(f"{head} {v}" for head, v in fixed)
    t = Table(title=f"{d['workload']}: {d['layouts']} layouts, {d['fitting']} fit; sorted by throughput "
                    f"(projected; {_band(d)}){'; all ' + same if same else ''}", title_justify="left")
    for _, head in varying:
        t.add_column(head, justify="right" if head not in ("gpu", "fabric", "prec", "recompute") else "left")
    for head in ("GPUs", "step s", "tokens/s", "tok/s/GPU", "MFU %", "GiB/GPU", "fits / why"):
        t.add_column(head, justify="left" if head == "fits / why" else "right")
    for r in d["rows"]:
        per_gpu = r["tokens_per_s"] / r["gpus"] if r.get("tokens_per_s") and r.get("gpus") else None
        cells = [_cell(r.get(k)) for k, _ in varying]
        cells += [str(r.get("gpus") or "-"), fmt(r["step_time_s"]), fmt(r["tokens_per_s"]), fmt(per_gpu),
                  fmt(None if r["mfu"] is None else 100 * r["mfu"], "", 3), fmt(r["memory_per_gpu_gib"], "", 3),
                  "yes" if r["fits"] else (r["why"] or "no")]
        t.add_row(*cells)
    out.print(t)
    out.print(f"{d['layouts']} projections in {d['wall_s']:.3f} s", style="dim")


ALWAYS = ("tp", "pp", "dp", "micro_batch")


def _cell(v) -> str:
    return "-" if v is None else str(v)


def _split_columns(rows: list[dict]):
    """Columns whose value differs between rows (or that always show), and the constant rest."""
    varying, fixed = [], []
    for key, head in COLUMNS:
        values = {_cell(r.get(key)) for r in rows}
        if key in ALWAYS or len(values) > 1:
            varying.append((key, head))
        else:
            fixed.append((head, values.pop() if values else "-"))
    return varying, fixed


def _band(d: dict) -> str:
    bands = {(b["low"], b["high"]) for b in (r.get("error_band") for r in d["rows"]) if b}
    if len(bands) != 1:
        return "error band: see each row with --json"
    low, high = bands.pop()
    return f"error band {100 * low:+.0f} % / {100 * high:+.0f} %"
