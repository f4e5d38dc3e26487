"""Catalogue sources and dates of every part the guideline rests on."""

from __future__ import annotations

from raxlab.report import fmt
from raxlab.report.doc import Bullets, Cell, Column, Heading, Label, Para, Section, Table, cell
from raxlab.report.model import ReportData
from raxlab.report.sections.common import catalogue, get

# The fields the projection and the cost read (the rest of an entry is descriptive).
ACC_FIELDS = ("fp32_tflops", "tf32_tflops", "bf16_tflops", "fp16_tflops", "fp8_tflops", "mem_gib", "mem_bw_tbyte_s",
              "scaleup_bw_gbyte_s", "tdp_w", "price_usd")
SERVER_FIELDS = ("gpus_per_node", "nic_slots", "power_w", "rack_units", "price_usd", "price_no_gpu_usd")
FABRIC_FIELDS = ("line_rate_gbit_s", "effective_fraction", "latency_us")
NIC_FIELDS = ("port_rate_gbit_s", "ports", "price_usd")


def parts_used(data: ReportData) -> list[tuple[str, str, tuple | None]]:
    """(kind, name, fields or None for all) of the parts the plan and the measurements name."""
    plan = data.plan or {}
    rec = plan.get("recommendation") if isinstance(plan.get("recommendation"), dict) else {}
    out: list[tuple[str, str, tuple | None]] = []
    if rec.get("accelerator"):
        out.append(("accelerator", rec["accelerator"], ACC_FIELDS))
    if rec.get("server"):
        out.append(("server", rec["server"], SERVER_FIELDS))
    rows = get(plan, "verdicts", "network", "rows") or []
    fabrics = [rec.get("fabric")] + [r.get("fabric") for r in rows if isinstance(r, dict)]
    nics = [rec.get("nic")] + [r.get("nic") for r in rows if isinstance(r, dict)]
    out += [("fabric", f, FABRIC_FIELDS) for f in dict.fromkeys(fabrics) if f]
    out += [("nic", n, NIC_FIELDS) for n in dict.fromkeys(nics) if n]
    for run in data.of_kind("compute"):
        entry = get(run, "artifacts", "peaks", "catalog_entry")
        if entry:
            out.append(("accelerator", entry, ACC_FIELDS))
    return list(dict.fromkeys(out))


def _rows(cat, kind: str, name: str, fields, sources: dict[str, int]) -> list[list[Cell]]:
    """One row per number; the source text goes to the numbered list (`sources`) once."""
    entry = cat.get(kind, name)
    rows = []
    for field, prov in entry.numbers().items():
        if fields is not None and field not in fields:
            continue
        p = prov.to_dict()
        src = p.get("source") or f"estimate: {p.get('estimate')}"
        ref = sources.setdefault(src, len(sources) + 1)
        rng = f" ({fmt.g(p['low'], 6)} to {fmt.g(p['high'], 6)})" if p.get("low") is not None and p.get("high") is not None else ""
        lab = Label(catalogue(p).kind)  # source and date are the next columns
        rows.append([Cell(f"{kind} {name}"), Cell(field), Cell(f"{fmt.g(p['value'], 6)} {p.get('unit') or ''}{rng}".strip(),
                     lab, fmt.num(p["value"])), Cell(f"[{ref}]"), Cell(str(p.get("as_of")))])
    return rows


def capex_table(rec: dict, sources: dict[str, int]) -> Table | None:
    """What the recommended CAPEX is made of, each price with its catalogue source and date."""
    items = [i for i in rec.get("capex_breakdown") or [] if isinstance(i, dict)]
    if not items:
        return None
    rows = []
    for i in items:
        ref = sources.setdefault(str(i.get("source") or "no source recorded"), len(sources) + 1)
        kind = i.get("label") if i.get("label") in ("catalogue", "estimate", "override") else "catalogue"
        rows.append([Cell(str(i.get("item"))), Cell(str(i.get("name") or "")), cell(fmt.g(i.get("count"), 6), value=i.get("count")),
                     cell(fmt.usd(i.get("unit_usd")), Label(kind), i.get("unit_usd")),
                     cell(fmt.usd(i.get("total_usd")), value=i.get("total_usd")), Cell(f"[{ref}]"), Cell(str(i.get("as_of") or "?"))])
    total = sum(fmt.num(i.get("total_usd")) or 0.0 for i in items)
    rows.append([Cell("total"), Cell(""), Cell(""), Cell(""), cell(fmt.usd(total), value=total), Cell(""), Cell("")])
    return Table([Column("item"), Column("part"), Column("count", numeric=True), Column("unit price", numeric=True),
                  Column("total", Label("projected", "count x catalogue unit price"), True), Column("source"),
                  Column("as of")], rows, "What the recommended cluster's CAPEX is made of.")


def build(data: ReportData) -> Section:
    sec = Section("catalogue", "Catalogue sources and dates")
    parts = parts_used(data)
    if not parts:
        return sec.missing("No catalogue number is used in this report (no plan, and the device measured here is "
                           "not a catalogue part).")
    from raxlab.catalog import load_catalog
    from raxlab.errors import RaxError

    cat = load_catalog()
    rows, unknown, sources = [], [], {}
    capex = capex_table(get(data.plan, "recommendation") or {}, sources)
    for kind, name, fields in parts:
        try:
            rows += _rows(cat, kind, name, fields, sources)
        except (RaxError, KeyError):
            unknown.append(f"{kind} {name}")
    sec.add(Para("Each number as the catalogue holds it now"
                 + (f" (with your override file {cat.override_path})" if cat.override_path else "")
                 + ": 'catalogue' numbers cite a public source, 'estimate' numbers give the reasoning instead, "
                   "'override' numbers are yours. Switches, cables and storage: `rax catalog show NAME`."))
    sec.add(capex, Heading("The catalogue numbers the projection read"),
            Table([Column("part"), Column("field"), Column("value", numeric=True), Column("source"), Column("as of")], rows),
            Heading("Sources"), Bullets([f"[{n}] {src}" for src, n in sources.items()]))
    if unknown:
        sec.add(Para("Not in the current catalogue (renamed or removed since the plan was made): "
                     + ", ".join(unknown) + ".", "warn"))
    return sec
