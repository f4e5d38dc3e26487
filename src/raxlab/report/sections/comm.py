"""Measured collectives: busbw vs message size per transport with the fitted α-β curve,
and the fit table (nccl-tests busbw; Hockney α-β, see measure/comm/fit.py)."""

from __future__ import annotations

import math

from raxlab.report import fmt
from raxlab.report.doc import Cell, Chart, Column, Heading, Para, Table, cell
from raxlab.report.sections.common import measured
from raxlab.report.svg import Axis, Plot

# Data-parallel gradient sync is an all-reduce: it is the curve the purchase hinges on.
PREFERRED = "all_reduce"


def _groups(run: dict) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = {}
    for p in run["points"]:
        r = p.get("result") or {}
        if p["kind"] == "comm" and p["status"] == "ok" and r.get("busbw_GBps"):
            key = (r.get("collective"), r.get("transport"), r.get("ranks"), r.get("dtype"))
            out.setdefault(key, []).append(r)
    return {k: sorted(v, key=lambda r: r["size_bytes"]) for k, v in out.items()}


def _plotted(groups: dict) -> list[tuple]:
    """One collective per transport: all-reduce where measured, else the first one."""
    keys = []
    for tr in dict.fromkeys(k[1] for k in groups):
        mine = [k for k in groups if k[1] == tr]
        pick = [k for k in mine if k[0] == PREFERRED] or mine[:1]
        keys += pick
    return keys


def _fit_for(run: dict, key: tuple) -> dict | None:
    for f in run["artifacts"].get("comm_fit") or []:
        if (f.get("collective"), f.get("transport"), f.get("ranks"), f.get("dtype")) == key:
            return f
    return None


def fit_curve(fit: dict, lo: float, hi: float, n: int = 40) -> tuple[list[float], list[float]]:
    """busbw of the stored fit, t(S) = α + S·factor/β, at log-spaced sizes: busbw = S·factor/t."""
    beta, factor = fmt.num(fit.get("beta_GBps")), fmt.num(fit.get("busbw_factor"))
    if not beta or not factor:
        return [], []
    alpha = (fmt.num(fit.get("alpha_us")) or 0.0) * 1e-6
    xs = [math.exp(math.log(lo) + i * (math.log(hi) - math.log(lo)) / (n - 1)) for i in range(n)]
    return xs, [s * factor / (alpha + s * factor / (beta * 1e9)) / 1e9 for s in xs]


def busbw_chart(runs: list[dict]) -> Chart | None:
    plot = Plot(Axis("message size (bytes)", log=True, base=2, fmt=fmt.nbytes),
                Axis("bus bandwidth (GB/s)", log=True, fmt=lambda v: f"{v:g}"),
                desc="Measured bus bandwidth against message size, per transport, with the fitted alpha-beta curve")
    data, n = [], 0
    for run in runs:
        groups = _groups(run)
        for key in _plotted(groups):
            rows, name = groups[key], f"{key[1]} {key[0]} x{key[2]} {key[3]}"
            xs, ys = [r["size_bytes"] for r in rows], [r["busbw_GBps"] for r in rows]
            plot.points(xs, ys, f"{name}, measured", index=n, tips=[f"{name}: {fmt.nbytes(x)} {y:.4g} GB/s" for x, y in zip(xs, ys)])
            fit = _fit_for(run, key)
            if fit:
                fx, fy = fit_curve(fit, min(xs), max(xs))
                plot.line(fx, fy, f"{key[1]} {key[0]}, α-β fit", index=n, dash=True, markers=False)
            data += [[Cell(name), cell(fmt.nbytes(x), value=x), cell(f"{y:.4g}", measured(run), y)] for x, y in zip(xs, ys)]
            n += 1
    if not n:
        return None
    return Chart("busbw", "Bus bandwidth vs message size, per transport (measured; dashed: α-β fit)", plot.render(),
                 "busbw as nccl-tests defines it (GB/s = 1e9 B/s); the dashed curve is t = α + S·factor/β fitted "
                 "to the same points. Other collectives are in the table below.",
                 Table([Column("series"), Column("size"), Column("busbw GB/s", numeric=True)], data))


def fit_table(runs: list[dict]) -> Table:
    rows = []
    one = measured(runs[0], "fitted to the sizes measured") if len(runs) == 1 else None
    for run in runs:
        lab = None if one else measured(run, "fitted to the sizes measured")
        for f in run["artifacts"].get("comm_fit") or []:
            rows.append([Cell(str(f.get("transport"))), Cell(str(f.get("collective"))), Cell(str(f.get("dtype"))),
                         cell(fmt.text(f.get("ranks")), value=f.get("ranks")),
                         cell(fmt.g(f.get("beta_GBps")), lab, f.get("beta_GBps")),
                         cell(fmt.nbytes(f.get("peak_size_bytes")), lab, f.get("peak_size_bytes")),
                         cell(fmt.g(f.get("alpha_us")), lab, f.get("alpha_us")),
                         cell(fmt.g(f.get("r2"), 3), lab, f.get("r2")),
                         cell(fmt.nbytes(f.get("n_half_bytes")), lab, f.get("n_half_bytes")), Cell(f.get("note") or "")])
    cols = [Column("transport"), Column("collective"), Column("dtype"), Column("ranks"),
            Column("peak busbw β (GB/s)", one, True), Column("at size", one, True), Column("α (µs)", one, True),
            Column("R² (log t)", one, True), Column("n½ (busbw = β/2)", one, True), Column("note")]
    return Table(cols, rows, "α-β fit per collective, transport, rank count and dtype: β is the peak busbw over the "
                             "large sizes, α the small-message latency of the whole collective.")


def loopback(run: dict) -> bool:
    """True when every rank talked over 127.0.0.0/8 or `lo` and no link was emulated."""
    seen = [v for v in (run["artifacts"].get("comm_transport") or {}).values() if isinstance(v, dict)]
    if (run.get("params") or {}).get("emulate") or not seen:
        return False
    return all(v.get("ifname") == "lo" or all(str(a).startswith("127.") for a in v.get("addrs") or ["x"])
               for v in seen)


def transport_lines(run: dict) -> list[str]:
    seen = run["artifacts"].get("comm_transport") or {}
    prm = run.get("params") or {}
    out = []
    for rank, info in seen.items():
        if isinstance(info, dict):
            detail = ", ".join(f"{k}={fmt.text(v)}" for k, v in info.items())
            out.append(f"rank {rank}: {detail}")
    head = f"asked for {prm.get('transport', '?')} ({prm.get('arm', '')}); emulated link: {prm.get('emulate') or 'none'}"
    return [head] + out


def blocks(runs: list[dict]) -> list:
    out = [Heading("Collectives measured here")]
    chart = busbw_chart(runs)
    out.append(chart or Para("No correct collective timing in the comm runs (N/A).", "missing"))
    out.append(fit_table(runs))
    for run in runs:
        out.append(Para(f"Transport verified for run {run['id']}: " + "; ".join(transport_lines(run)), "note"))
        if loopback(run):
            out.append(Para("These collectives ran between processes on one machine over its loopback interface: "
                            "they measure the communication software stack, not a network. Run `rax bench comm` "
                            "across two nodes (or `--emulate RATE` as root) to measure a fabric.", "warn"))
        if (run.get("params") or {}).get("emulate"):
            out.append(Para("Emulated links shape the rate only (tc tbf); latency is not emulated.", "note"))
    return out
