"""Measured compute: the real step per precision and batch, its charts, and memory."""

from __future__ import annotations

from raxlab.report import fmt
from raxlab.report.doc import Cell, Chart, Column, Heading, Label, Para, Table, cell
from raxlab.report.sections.common import card_label, get, measured
from raxlab.report.svg import Axis, Plot, stacked_bars

HALF = 480  # SVG width of the half-width charts (two side by side)
COLUMNS = ("mode", "precision", "batch", "status", "step median", "IQR/median", "samples/s", "tokens/s",
           "achieved FLOP/s", "MFU vs GEMM here", "MFU vs catalogue peak", "peak memory", "first loss", "note")


def _row(p: dict) -> list[Cell]:
    r, prm = p.get("result") or {}, p.get("params") or {}
    s = r.get("summary") or {}
    notes = ["noisy (IQR > 10 %)" if s.get("noisy") else "", r.get("mfu_note") or ""]
    note = (p.get("error") or "").splitlines()[0] if p.get("error") else "; ".join(n for n in notes if n)
    return [Cell(str(prm.get("mode", "?"))), Cell(str(prm.get("precision", "?"))), cell(fmt.text(prm.get("batch")), value=prm.get("batch")),
            Cell(p["status"]), cell(fmt.seconds(s.get("median")), value=s.get("median")),
            cell(fmt.pct(s.get("rel_iqr")), value=s.get("rel_iqr")),
            cell(fmt.g(r.get("samples_per_s")), value=r.get("samples_per_s")),
            cell(fmt.g(r.get("tokens_per_s")), value=r.get("tokens_per_s")),
            cell(fmt.si(r.get("achieved_flops"), "FLOP/s"), value=r.get("achieved_flops")),
            cell(fmt.pct(r.get("mfu_vs_measured_gemm")), value=r.get("mfu_vs_measured_gemm")),
            cell(fmt.pct(r.get("mfu_vs_catalog_peak")), value=r.get("mfu_vs_catalog_peak")),
            cell(fmt.nbytes(r.get("peak_mem_bytes")), value=r.get("peak_mem_bytes")),
            cell(fmt.g(r.get("loss_first")), value=r.get("loss_first")), Cell(note)]


def table(run: dict) -> tuple[Table, Para | None]:
    """The sweep as stored; columns that are N/A for every point are named in a note instead
    (a 14-column table would not fit a printed page)."""
    lab = measured(run)
    pts = [p for p in run["points"] if p["kind"] == "compute"]
    cols = [Column(c, lab if i >= 4 and c != "note" else None, numeric=4 <= i < 13) for i, c in enumerate(COLUMNS)]
    rows = [_row(p) for p in pts]
    empty = [i for i, c in enumerate(cols) if i >= 4 and rows and all(r[i].text in (fmt.NA, "") for r in rows)]
    keep = [i for i in range(len(cols)) if i not in empty]
    t = Table([cols[i] for i in keep], [[r[i] for i in keep] for r in rows],
              f"Every point of the sweep, as stored ({len(pts)} points).")
    names = [cols[i].title for i in empty if cols[i].title != "note"]
    return t, Para(f"N/A for every point (left out of the table): {', '.join(names)}.", "note") if names else None


def _series(run: dict) -> dict[str, list[dict]]:
    """(mode, precision) -> ok points sorted by batch."""
    out: dict[str, list[dict]] = {}
    for p in run["points"]:
        if p["kind"] == "compute" and p["status"] == "ok" and get(p, "result", "summary", "median"):
            out.setdefault(f"{p['params'].get('mode')} {p['params'].get('precision')}", []).append(p)
    return {k: sorted(v, key=lambda p: p["params"]["batch"]) for k, v in out.items()}


def step_chart(run: dict) -> Chart | None:
    series = _series(run)
    if not series:
        return None
    plot = Plot(Axis("batch size (samples)", log=True, base=2, fmt=lambda v: f"{v:g}"),
                Axis("step time, median (ms); bars: IQR", zero=True, fmt=lambda v: f"{v:g}"),
                desc="Measured step time by precision and batch size", width=HALF)
    data = []
    for i, (name, pts) in enumerate(series.items()):
        xs = [p["params"]["batch"] for p in pts]
        med = [p["result"]["summary"]["median"] * 1e3 for p in pts]
        q1 = [(get(p, "result", "summary", "q1") or 0) * 1e3 or None for p in pts]
        q3 = [(get(p, "result", "summary", "q3") or 0) * 1e3 or None for p in pts]
        plot.errorbars(xs, q1, q3)
        plot.line(xs, med, name, index=i, tips=[f"{name}, batch {x}: {m:.4g} ms" for x, m in zip(xs, med)])
        data += [[Cell(name), cell(str(x), value=x), cell(f"{m:.4g}", value=m)] for x, m in zip(xs, med)]
    return Chart("compute-step", "Step time by precision and batch (measured)", plot.render(),
                 "Median of the timed steps; error bars span the interquartile range.",
                 Table([Column("series"), Column("batch"), Column("step ms", measured(run), True)], data), half=True)


def throughput_chart(run: dict) -> Chart | None:
    series = _series(run)
    if not series:
        return None
    lm = any(get(p, "result", "tokens_per_s") for pts in series.values() for p in pts)
    key, unit = ("tokens_per_s", "tokens/s") if lm else ("samples_per_s", "samples/s")
    plot = Plot(Axis("batch size (samples)", log=True, base=2), Axis(f"throughput ({unit})", zero=True,
                fmt=lambda v: f"{v:g}"), desc=f"Measured throughput in {unit} by precision and batch size", width=HALF)
    data = []
    for i, (name, pts) in enumerate(series.items()):
        xs = [p["params"]["batch"] for p in pts]
        ys = [get(p, "result", key) for p in pts]
        plot.line(xs, ys, name, index=i, tips=[f"{name}, batch {x}: {fmt.g(y)} {unit}" for x, y in zip(xs, ys)])
        data += [[Cell(name), cell(str(x), value=x), cell(fmt.g(y), value=y)] for x, y in zip(xs, ys)]
    return Chart("compute-throughput", f"Throughput by precision and batch (measured, {unit})", plot.render(),
                 "batch / median step time.",
                 Table([Column("series"), Column("batch"), Column(unit, measured(run), True)], data), half=True)


def proxy_note(run: dict) -> Para | None:
    """Say so when the step measured was a scaled-down proxy of the workload, not the model itself."""
    if not (get(run, "params", "proxy") or str(run.get("workload") or "").endswith("@proxy")):
        return None
    why = get(run, "spec", "proxy", "note") or "a scaled-down model of the same family"
    return Para(f"Measured on a proxy ({run.get('workload')}): {why}. The projections use the full model's card; "
                "the proxy's step calibrates the efficiencies.", "warn")


def blocks(run: dict) -> list:
    out = [Heading("Compute: the real training / inference step"), proxy_note(run)]
    bad = [p for p in run["points"] if p["kind"] == "compute" and p["status"] not in ("ok", "inconsistent")]
    odd = [p for p in run["points"] if p["kind"] == "compute" and p["status"] == "inconsistent"]
    out += [step_chart(run), throughput_chart(run), *table(run)]
    if odd:
        out.append(Para(f"{len(odd)} measurement(s) contradict the other batch sizes of their series (status "
                        "inconsistent: more work timed faster, or a per-sample time that jumps; the note says which "
                        "and whether a re-measure replaced it); they are left out of the charts and the fits.", "warn"))
    if bad:
        out.append(Para(f"{len(bad)} point(s) did not produce a timing (status shown in the table: unsupported, "
                        "out of memory, diverged, skipped ...); they are N/A, not zero.", "note"))
    peaks = run["artifacts"].get("peaks") or {}
    if not peaks.get("measured"):
        out.append(Para("MFU vs GEMM here is N/A: the GEMM probe did not run in this compute run "
                        "(see the kernel ceilings below, or rerun without --no-gemm-probe).", "note"))
    return [b for b in out if b is not None]


MEM_PARTS = (("weights", ("weights", "weight")), ("gradients", ("grads", "gradients", "grad")),
             ("optimizer state", ("optimizer", "optimizer_state", "opt")), ("FSDP-gathered weights", ("fsdp_gathered",)),
             ("activations", ("activations", "activation")), ("workspace / other", ("workspace", "other", "buffers")),
             ("total (no breakdown in the plan)", ("total_only",)))


def _part(mem: dict, keys: tuple) -> float | None:
    """GiB of one part: the sum of its keys present in `mem` (0 stays 0; absent is None)."""
    vals = [float(mem[k]) for k in keys if isinstance(mem.get(k), (int, float))]
    return sum(vals) if vals else None


def projected_memory_chart(rows: list[tuple[str, dict]], capacity_gib: float | None, label_basis: str) -> Chart | None:
    """Per-GPU memory of planned candidates: stacked parts (projected), the GPU's memory (catalogue)."""
    rows = [(name, mem) for name, mem in rows if isinstance(mem, dict)]
    if not rows:
        return None
    parts = [(part, [_part(mem, keys) for _, mem in rows]) for part, keys in MEM_PARTS]
    parts = [(part, vals) for part, vals in parts if any(vals)]  # parts no candidate has are left out
    cats = [name for name, _ in rows]
    limit = ("GPU memory (catalogue)", capacity_gib) if capacity_gib else None
    svg = stacked_bars(cats, parts, value_fmt=lambda v: f"{v:g}", axis_label="memory per GPU (GiB)", limit=limit,
                       desc="Projected memory per GPU by part")
    data = [[Cell(c)] + [cell(fmt.g(vals[i]), value=vals[i]) for _, vals in parts] for i, c in enumerate(cats)]
    lab = Label("projected", label_basis)
    return Chart("memory-projected", "Memory per GPU, by part (projected)", svg,
                 "Projected per-GPU memory of the planned layout; the dashed line is the GPU's memory.",
                 Table([Column("candidate")] + [Column(f"{k} GiB", lab, True) for k, _ in parts], data))


def measured_memory_chart(run: dict, card: dict | None) -> Chart | None:
    """Without a plan: the card's memory parts per measured batch next to the measured peak."""
    pts = [p for p in run["points"] if p["kind"] == "compute" and p["status"] == "ok"
           and get(p, "params", "mode") == "train"]
    if not pts or not card:
        return None
    pts.sort(key=lambda p: (p["params"].get("precision"), p["params"]["batch"]))
    cats = [f"{p['params'].get('precision')} batch {p['params']['batch']}" for p in pts]
    mib = 2.0**20
    parts = [("weights (card)", [card.get("weight_bytes", 0) / mib] * len(pts)),
             ("gradients (card)", [card.get("gradient_bytes", 0) / mib] * len(pts)),
             ("optimizer state (card)", [card.get("optimizer_state_bytes", 0) / mib] * len(pts)),
             ("activations (card)", [(get(p, "result", "card_activation_bytes") or 0) / mib for p in pts])]
    peak = [(get(p, "result", "peak_mem_bytes") or 0) / mib or None for p in pts]
    basis = get(pts[0], "result", "peak_mem_basis") or "peak memory"
    svg = stacked_bars(cats, parts, value_fmt=lambda v: f"{v:g}", axis_label="memory (MiB)",
                       markers=[(f"measured: {basis}", peak)], desc="Memory by part from the card, measured peak")
    lab, clab = measured(run), card_label()
    data = [[Cell(c)] + [cell(f"{v[i]:.4g}", value=v[i]) for _, v in parts] + [cell(fmt.g(peak[i]), lab, peak[i])]
            for i, c in enumerate(cats)]
    return Chart("memory-measured", "Memory per device, by part (card) and measured peak", svg,
                 "Bars: model state and saved activations counted by the workload card for each batch; black tick: "
                 f"the measured peak ({basis}), which also holds the framework's own buffers.",
                 Table([Column("point")] + [Column(f"{n} MiB", clab, True) for n, _ in parts]
                       + [Column("measured peak MiB", lab, True)], data))
