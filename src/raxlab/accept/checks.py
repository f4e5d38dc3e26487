"""The acceptance checks: measured on the delivered cluster vs projected in the plan, with tolerances.

Pure functions over a `Target` (the plan) and stored runs (dicts from `Store.get_run`).

- fabric_busbw: the peak all-reduce busbw over large sizes (the α-β fit's β) over nodes x
  GPUs-per-node ranks (`rax bench comm`), vs the plan's threshold: its fraction (90 %) of the
  busbw it projects at the planned scale (NCCL's algorithm there, the fabric's load regime,
  `plan.fabric_verdict.thresholds`). Plans without thresholds: vs rails x line rate x effective
  fraction, passing at the fraction's catalogue low end.
- fabric_all_to_all: the same for all-to-all, when the plan sets its threshold.
- compute_step: the median 1-rank step of `rax bench ddp` (one GPU, the plan's micro-batch and
  precision, no communication) vs (compute + recompute) / grad_accum + optimizer from the
  projection's terms. Passes when measured <= projected / (1 + low) of the plan's error band.
- ddp_step: (grad_accum − 1) x median no_sync step + median synced step over all ranks vs the
  plan's step_time_s; same tolerance.
- throughput: global batch / that step vs samples_per_s; passes when >= projected x (1 + low).
- memory_per_gpu: projected memory shown; not measured (`rax bench ddp` records no memory).

The error band is the model's (measured throughput / projected − 1 in [low, high], plan.detail);
being faster than projected passes and is noted. A run that does not match the plan (workload,
ranks, batch, precision, transport kind) is "not comparable", never silently compared.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from raxlab.accept.plan import Target, compute_step_s

VERDICTS = ("pass", "fail", "not comparable", "not measured", "n/a")
TCP_ARMS, RDMA_ARMS = {"gloo", "nccl-socket"}, {"nccl-ib"}


@dataclass
class Check:
    key: str
    name: str
    unit: str
    measured: float | None = None
    projected: float | None = None
    bound: float | None = None  # the limit the measurement must not cross
    direction: str = "max"  # max: measured <= bound; min: measured >= bound
    tolerance: str = ""
    verdict: str = "not measured"
    measured_basis: str = ""
    projected_basis: str = ""
    note: str = ""
    run: str | None = None

    @property
    def deviation(self) -> float | None:
        """measured / projected − 1."""
        return self.measured / self.projected - 1 if self.measured and self.projected else None

    def judge(self) -> "Check":
        if self.measured is None or self.bound is None:
            return self
        ok = self.measured <= self.bound if self.direction == "max" else self.measured >= self.bound
        self.verdict = "pass" if ok else "fail"
        faster = self.projected and (self.measured < self.projected if self.direction == "max"
                                     else self.measured > self.projected)
        if ok and faster and abs(self.deviation or 0) > 0.05:
            self.note = (self.note + "; " if self.note else "") + "better than projected"
        return self

    def to_dict(self) -> dict:
        return {**asdict(self), "deviation": self.deviation}


def _median(stats: dict | None) -> float | None:
    return (stats or {}).get("median")


def _threshold(t: Target, kind: str) -> dict | None:
    return next((r for r in t.thresholds if r["collective"] == kind), None)


def _from_threshold(c: Check, t: Target, th: dict) -> None:
    c.projected, c.bound = th["projected_GBps"], th["min_GBps"]
    c.projected_basis = (f"projected by {t.basis.get('made_by')}: {th['collective']} over {th['ranks']} ranks at "
                         f"{th['size_bytes'] / 2**20:,.0f} MiB, {th['algorithm'] or 'NCCL model'}, load regime "
                         f"{th['regime'] or 'N/A'}")
    c.tolerance = f">= {th['min_GBps']:.4g} GB/s ({th['basis'] or 'the plan threshold'})"


def fabric_check(t: Target, run: dict | None, cat) -> Check:
    c = Check("fabric_busbw", "fabric bus bandwidth", "GB/s", direction="min")
    if t.nodes < 2 or not t.fabric:
        c.verdict, c.note = "n/a", "one node: no fabric between nodes to check"
        return c
    fab = cat.fabric(t.fabric)
    th = _threshold(t, "all_reduce")
    if th is not None:
        _from_threshold(c, t, th)
        return c if run is None else _fabric_measured(c, t, run, fab)
    lo, eff, _ = fab.range_si("effective_fraction")
    rails = max(t.rails, 1)
    c.projected, c.bound = rails * fab.line_rate_Bps * eff / 1e9, rails * fab.line_rate_Bps * lo / 1e9
    prov = fab.provenance("effective_fraction")
    c.projected_basis = (f"{prov.label}: {rails} x {fab.line_rate_gbit_s:g} Gb/s ({t.fabric}) x effective fraction "
                         f"{eff:.2f} (band {lo:.2f}-{fab.range_si('effective_fraction')[2]:.2f})")
    c.tolerance = f">= {rails} x line rate x {lo:.2f} (the effective fraction's low end) = {c.bound:.4g} GB/s"
    if run is None:
        return c
    return _fabric_measured(c, t, run, fab)


def fabric_a2a_check(t: Target, run: dict | None, cat) -> Check | None:
    """All-to-all busbw vs the plan's threshold (None: the plan sets none, e.g. an older plan)."""
    th = _threshold(t, "all_to_all")
    if th is None or t.nodes < 2 or not t.fabric:
        return None
    c = Check("fabric_all_to_all", "fabric all-to-all bandwidth", "GB/s", direction="min")
    _from_threshold(c, t, th)
    return c if run is None else _fabric_measured(c, t, run, cat.fabric(t.fabric), "all_to_all")


def _fabric_measured(c: Check, t: Target, run: dict, fab, kind: str = "all_reduce") -> Check:
    c.run = run["id"]
    fits = [f for f in (run.get("artifacts") or {}).get("comm_fit") or []
            if f.get("collective") == kind and f.get("beta_GBps")]
    fit = max(fits, key=lambda f: (f.get("ranks") or 0, f["beta_GBps"])) if fits else None
    arm = (run.get("params") or {}).get("transport")
    if fit is None:
        c.verdict, c.note = "not comparable", f"run {run['id']} has no {kind.replace('_', '-')} fit"
    elif fit.get("ranks") != t.gpus:
        c.verdict, c.note = "not comparable", f"run {run['id']} ran on {fit.get('ranks')} ranks, the plan has {t.gpus}"
    elif (fab.rdma and arm in TCP_ARMS) or (not fab.rdma and arm in RDMA_ARMS):
        c.verdict, c.note = "not comparable", f"{t.fabric} is {'RDMA' if fab.rdma else 'TCP'}, run used {arm}"
    else:
        c.measured = float(fit["beta_GBps"])
        c.measured_basis = (f"measured: run {run['id']}, {kind.replace('_', '-')} over {fit['ranks']} ranks ({arm}), peak busbw "
                            f"at {fit.get('peak_size_bytes') or 'large sizes'} B")
        c.judge()
    return c


def _ddp_comparable(t: Target, run: dict) -> str | None:
    p, setup = run.get("params") or {}, (run.get("artifacts") or {}).get("ddp_setup") or {}
    lay = t.layout
    if (lay.get("tp") or 1) > 1 or (lay.get("pp") or 1) > 1:
        return f"the plan's layout tp={lay.get('tp')} pp={lay.get('pp')} is not what rax bench ddp runs (DP/FSDP)"
    wants = {"workload": (run.get("workload"), t.workload), "ranks": (p.get("ranks"), t.gpus),
             "batch per rank": (setup.get("batch_per_rank") or p.get("batch"), lay.get("micro_batch")),
             "precision": (p.get("precision"), t.precision), "FSDP": (bool(p.get("fsdp")), (lay.get("zero") or 0) == 3)}
    bad = [f"{k} {got} (plan: {want})" for k, (got, want) in wants.items() if want is not None and got != want]
    return f"run {run['id']} differs: " + ", ".join(bad) if bad else None


def ddp_checks(t: Target, run: dict | None) -> list[Check]:
    band = t.band
    comp = Check("compute_step", "compute step per GPU", "s")
    step = Check("ddp_step", "DDP training step", "s")
    thr = Check("throughput", "training throughput", "samples/s", direction="min")
    comp.projected = t.projected.get("compute_step_s") or compute_step_s(t)
    step.projected, thr.projected = t.projected.get("step_time_s"), t.projected.get("samples_per_s")
    for c in (comp, step, thr):
        _bound(c, band)
    comp.projected_basis = f"{t.basis.get('made_by')}, compute basis: {t.basis.get('compute_basis') or 'N/A'}"
    step.projected_basis = thr.projected_basis = f"projected by {t.basis.get('made_by')}"
    if run is None:
        return [comp, step, thr]
    why = _ddp_comparable(t, run)
    for c in (comp, step, thr):
        c.run = run["id"]
        if why:
            c.verdict, c.note = "not comparable", why
    return [comp, step, thr] if why else _ddp_measured(t, run, comp, step, thr)


def _bound(c: Check, band) -> None:
    if c.projected is None:
        c.verdict, c.note = "n/a", "the plan has no such projection"
        return
    if band is None:
        c.bound, c.tolerance = c.projected, "no error band in the plan: the projection itself"
        return
    c.bound = c.projected / (1 + band.low) if c.direction == "max" else c.projected * (1 + band.low)
    sign = "<=" if c.direction == "max" else ">="
    c.tolerance = f"{sign} projected within the model's error band ({band.low:+.0%}/{band.high:+.0%}) = {c.bound:.4g}"


def _ddp_measured(t: Target, run: dict, comp: Check, step: Check, thr: Check) -> list[Check]:
    d = (run.get("artifacts") or {}).get("ddp") or {}
    single, sync, nosync = _median(d.get("single_step")), _median(d.get("step")), _median(d.get("nosync_step"))
    accum = t.grad_accum
    where = f"run {run['id']}, {t.gpus} ranks"
    comp.measured = single
    comp.measured_basis = (f"measured: {where}, median 1-rank step (rank 0 alone, micro-batch "
                           f"{t.layout.get('micro_batch')})")
    if sync is not None and (accum == 1 or nosync is not None):
        step.measured = (accum - 1) * (nosync or 0.0) + sync
        step.measured_basis = (f"measured: {where}, {accum - 1} x median no_sync step + median synced step"
                               if accum > 1 else f"measured: {where}, median synced step")
        gb = t.layout.get("global_batch") or t.gpus * (t.layout.get("micro_batch") or 1) * accum
        thr.measured, thr.measured_basis = gb / step.measured, f"global batch {gb} / the measured DDP step"
    for c in (comp, step, thr):
        if c.measured is not None and c.verdict != "n/a":
            c.judge()
    return [comp, step, thr]


def memory_check(t: Target) -> Check:
    c = Check("memory_per_gpu", "memory per GPU", "GiB", projected=t.projected.get("memory_per_gpu_gib"),
              verdict="not measured")
    c.note = "rax bench ddp records no device memory yet; shown, not judged"
    c.projected_basis = "projected: parameters, gradients, optimizer state and activations"
    return c


def overall(checks: list[Check]) -> tuple[str, str]:
    """(verdict, sentence): fail if any check fails; incomplete if one could not be compared."""
    failed = [c for c in checks if c.verdict == "fail"]
    if failed:
        return "fail", "FAIL: " + "; ".join(
            f"{c.name} {c.measured:.4g} {c.unit} vs projected {c.projected:.4g} ({c.deviation:+.0%}), "
            f"tolerance {c.tolerance}" for c in failed)
    open_ = [c for c in checks if c.verdict == "not comparable"
             or (c.verdict == "not measured" and c.key != "memory_per_gpu")]
    if open_:
        return "incomplete", "INCOMPLETE: " + "; ".join(f"{c.name}: {c.note or c.verdict}" for c in open_)
    passed = [c for c in checks if c.verdict == "pass"]
    return "pass", f"PASS: {len(passed)} checks within tolerance" + "".join(
        f"; {c.name} {c.deviation:+.0%}" for c in passed if c.deviation is not None)
