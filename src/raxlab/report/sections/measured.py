"""'What was measured here, and on what': fingerprints, compute, memory, kernels, data
loading, distributed steps. The network measurements live in the fabric section."""

from __future__ import annotations

from raxlab.report import fmt
from raxlab.report.doc import Cell, Column, Heading, Para, Section, Table, cell, kv_table
from raxlab.report.model import COMM_KIND, PIPELINE_KIND, ReportData
from raxlab.report.sections import compute, distributed
from raxlab.report.sections.common import machine_text, measured, not_measured

# The order `rax run` runs its stages in (the store keeps artifact keys sorted by name).
STAGE_ORDER = ("card", "compute", "kernels", "io", "comm", "ddp", "abtest", "calibrate", "plan", "report")
KNOWN = {"compute", "kernels", "io", COMM_KIND, PIPELINE_KIND, *distributed.DDP_KINDS, *distributed.AB_KINDS}


def fingerprint_table(data: ReportData) -> Table:
    """One row per (run, role): what each number below was measured on."""
    cols = [Column(c) for c in ("run", "stage / kind", "role", "machine", "machine id", "CPU", "GPUs",
                                "torch", "CUDA / NCCL", "python")]
    rows = []
    for rid, role, fp in data.fingerprints():
        cpu = fp.get("cpu") or {}
        gpus = ", ".join(f"{g.get('name')} ({fmt.nbytes(g.get('mem_bytes'))})" for g in fp.get("gpus") or []) or "none"
        run = data.runs[rid]
        stage = data.stage_of(rid) or run["kind"]
        rows.append([Cell(rid), Cell(stage), Cell(role), Cell(fp.get("hostname") or "?"), Cell(fp.get("machine_id") or "?"),
                     Cell(f"{cpu.get('model', '?')} x{cpu.get('usable_cores') or cpu.get('logical_cores') or '?'}"),
                     Cell(gpus), Cell(fp.get("torch") or "N/A"),
                     Cell(f"{fp.get('cuda') or 'no CUDA'} / {fp.get('nccl') or 'no NCCL'}"), Cell(fp.get("python") or "N/A")])
    return Table(cols, rows, "Fingerprint of every run in this report (stored with the run).")


def _flags(fp: dict) -> str:
    flags = fp.get("flags") or {}
    return ", ".join(f"{k}={v}" for k, v in sorted(flags.items())) or "none recorded"


def kernels_blocks(run: dict) -> list:
    ceil = run["artifacts"].get("ceilings") or {}
    lab = measured(run)
    rows = [[Cell(f"GEMM {dt}"), cell(fmt.si(v, "FLOP/s"), value=v)] for dt, v in (ceil.get("gemm_flops") or {}).items()]
    rows += [[Cell(name.replace("_", " ")), cell(fmt.si(v, "B/s"), value=v)]
             for name, v in (ceil.get("bandwidth_Bps") or {}).items()]
    skipped = [p for p in run["points"] if p["kind"] == "kernel" and p["status"] != "ok"]
    out = [Heading("Kernel ceilings: what this hardware can do at best")]
    if rows:
        out.append(Table([Column("ceiling"), Column("best measured", lab, True)], rows,
                         "Peak over the sizes tried: compute efficiency above is judged against these."))
    else:
        out.append(Para("No kernel ceiling was recorded in this run (N/A).", "missing"))
    reasons = sorted({(p["error"] or p["status"]).splitlines()[0] for p in skipped})
    if reasons:
        out.append(Para(f"Not measured: {len(skipped)} kernel point(s): " + "; ".join(reasons), "note"))
    return out


def io_blocks(run: dict) -> list:
    lab = measured(run)
    rows = []
    for p in run["points"]:
        if p["kind"] != "io":
            continue
        r = p.get("result") or {}
        rows.append([cell(str(p["params"].get("workers")), value=p["params"].get("workers")), Cell(p["status"]),
                     cell(fmt.g(r.get("samples_per_s")), value=r.get("samples_per_s")),
                     cell(fmt.g(r.get("mbytes_per_s")), value=r.get("mbytes_per_s")),
                     cell(fmt.seconds(r.get("startup_s")), value=r.get("startup_s"))])
    out = [Heading("Data loading from your sample")]
    out.append(Table([Column("loader workers"), Column("status"), Column("samples/s", lab, True),
                      Column("MB/s", lab, True), Column("start-up", lab, True)], rows))
    summ = run["artifacts"].get("io_summary") or {}
    if summ.get("sentence"):
        out.append(Para(f"Verdict: {summ.get('verdict', '')} - {summ['sentence']} (measured).", "verdict"))
    return out


def generic_blocks(run: dict, title: str) -> list:
    """Runs of kinds this report has no dedicated view for (ddp, abtest, ...): their points as stored."""
    lab = measured(run)
    rows = []
    for p in run["points"]:
        s = (p.get("result") or {}).get("summary") or {}
        rows.append([Cell(p["kind"]), Cell(p["name"]), Cell(p["status"]),
                     cell(fmt.seconds(s.get("median")), value=s.get("median")),
                     cell(fmt.pct(s.get("rel_iqr")), value=s.get("rel_iqr")),
                     Cell((p.get("error") or "").splitlines()[0] if p.get("error") else "")])
    out = [Heading(title), Table([Column("kind"), Column("point"), Column("status"), Column("median time", lab, True),
                                  Column("IQR/median", lab, True), Column("note")], rows)]
    for name, art in run["artifacts"].items():
        if isinstance(art, dict) and art.get("sentence"):
            out.append(Para(f"{name}: {art['sentence']} (measured)", "verdict"))
    return out


def stages_table(data: ReportData) -> Table | None:
    """What the pipeline ran: each stage's status, time and run (the record `rax run` keeps)."""
    if not data.stage_info:
        return None
    order = sorted(data.stage_info, key=lambda n: STAGE_ORDER.index(n) if n in STAGE_ORDER else len(STAGE_ORDER))
    rows = [[Cell(name), Cell(str(s.get("status") or "?")), cell(fmt.seconds(s.get("wall_s")), value=s.get("wall_s")),
             Cell(str(s.get("run_id") or "")), Cell(str(s.get("error") or ""))]
            for name, s in ((n, data.stage_info[n]) for n in order)]
    return Table([Column("stage"), Column("status"), Column("wall time", measured(data.root, "wall time of each stage"),
                                                            True), Column("run"), Column("note")], rows,
                 "The stages of this `rax run`, in the order they ran.")


def build(data: ReportData) -> Section:
    sec = Section("measured", "What was measured here, and on what")
    sec.add(stages_table(data))
    fps = data.fingerprints()
    if not fps:
        return sec.missing("Nothing was measured in this run: no fingerprint and no measurement is stored. "
                           "Projections below (if any) rest on the card and catalogue priors alone.")
    machines = data.machines()
    sec.add(Para("Every number in this section was measured on " + "; ".join(machine_text(fp) for fp in machines.values())
                 + ". Precision flags: " + _flags(next(iter(machines.values()))) + "."))
    if len(machines) > 1:
        sec.add(Para(f"These runs come from {len(machines)} different machines: compare their numbers with care.", "warn"))
    sec.add(fingerprint_table(data))
    _add_runs(sec, data)
    return sec


def _add_runs(sec: Section, data: ReportData) -> None:
    comp = data.latest("compute")
    if comp:
        sec.add(*compute.blocks(comp))
        if not (data.plan or {}).get("recommendation"):
            # the card of the model that ran (a proxy's, not the full model's the pipeline plans for)
            sec.add(compute.measured_memory_chart(comp, comp["artifacts"].get("card") or data.card))
    else:
        sec.add(Heading("Compute"), Para(not_measured("no `rax bench compute` run"), "missing"))
    kern = data.latest("kernels")
    sec.add(*(kernels_blocks(kern) if kern else [Heading("Kernel ceilings"), Para(not_measured(), "missing")]))
    io = data.latest("io")
    sec.add(*(io_blocks(io) if io else [Heading("Data loading"), Para(not_measured(), "missing")]))
    ddp = [r for k in distributed.DDP_KINDS for r in data.of_kind(k)]
    for run in ddp:
        sec.add(*distributed.ddp_blocks(run))
    if not ddp:
        sec.add(Heading("Distributed data-parallel step"), Para(not_measured("no `rax bench ddp` run"), "missing"))
    for run in data.runs.values():
        if run["kind"] not in KNOWN:
            sec.add(*generic_blocks(run, f"{data.stage_of(run['id']) or run['kind']} (run {run['id']})"))
    for stage, why in data.missing_stages.items():
        if stage not in data.stage_info:  # the stages table already shows the pipeline's own record
            sec.add(Para(f"Stage {stage}: not in this report ({why}).", "missing"))
