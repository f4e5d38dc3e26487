"""Measurements from stored runs that replace priors in the plan, each labelled measured.

Three kinds, each from a run in the results store (`rax plan --run RUN`, repeatable):

- **Fabric fit** (`rax bench comm`, artifact `comm_fit`: one α-β fit per collective ×
  transport × ranks × dtype, α in µs for the whole collective, β = peak busbw in GB/s). The
  all-reduce over the most ranks gives the network's achieved bus bandwidth; per rail that is
  an efficiency of the fabric's line rate (nccl-tests busbw across nodes ≈ the node's NIC
  bandwidth: 8 × HDR DGX A100 nodes reach ~192 GB/s = 8 × 24 GB/s, predict/collectives.py).
  It applies to the catalogue fabric the customer names (`--measured-fabric`, with
  `--measured-rails`): every candidate on that fabric then uses the measured efficiency and
  per-step latency instead of the catalogue prior. Loopback runs (ranks on one host) measure no
  network and are not applied; the plan says why.
- **Compute calibration** (`rax bench compute`, kind `compute` points + artifact `peaks`
  naming the catalogue accelerator it ran on): `predict.calibrate.fit` turns the measured
  step times into efficiencies that replace that accelerator's priors. A CPU run calibrates
  no catalogue accelerator and is reported as such.
- **Fabric A/B** (`rax abtest`, artifact `abtest`; issue 5): the same workload's measured step
  time per fabric on the customer's cluster. Shape read here (extra keys are ignored)::

      {"workload": "llama3-8b", "accelerator": "h100-sxm", "nodes": 2, "precision": "bf16",
       "arms": [{"fabric": "ib-ndr", "rails": 8, "median_s": 1.20, "n": 20},
                {"fabric": "roce-400", "rails": 8, "median_s": 1.22, "n": 20}],
       "comparison": {"ratio_median": 1.017, "ci": [0.99, 1.04], "p_value": 0.31, "tie": true}}

  It overrides the projected network verdict when the recommendation has the same accelerator
  and node count (`verdicts.network`), labelled measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from raxlab.errors import RaxError, unknown_name


@dataclass(frozen=True)
class FabricFit:
    """A measured fabric: achieved fraction of line rate per rail and per-ring-step latency."""

    fabric: str
    efficiency: float
    alpha_step_s: float | None
    busbw_Bps: float
    ranks: int
    run_id: str
    source: str

    def to_dict(self) -> dict:
        return {"fabric": self.fabric, "efficiency": self.efficiency, "alpha_step_s": self.alpha_step_s,
                "busbw_GBps": self.busbw_Bps / 1e9, "ranks": self.ranks, "run": self.run_id, "label": "measured"}


@dataclass
class Measured:
    fabric_fits: dict = field(default_factory=dict)  # fabric name -> FabricFit
    calibrations: dict = field(default_factory=dict)  # accelerator name -> predict.calibrate.Calibration
    abtests: list = field(default_factory=list)  # dicts, see the module docstring
    card: object | None = None  # a stored workload card for the plan's workload, if any
    runs: list = field(default_factory=list)
    notes: list = field(default_factory=list)  # what was applied, what was not and why

    def to_dict(self) -> dict:
        cals = {a: {"source": c.eff.source, "residuals": c.residuals, "fitted_on": c.fitted_on, "label": "measured"}
                for a, c in self.calibrations.items()}
        return {"runs": self.runs, "fabric_fits": {k: v.to_dict() for k, v in self.fabric_fits.items()},
                "calibrations": cals, "abtests": self.abtests, "notes": self.notes}


def load_measured(store, run_refs, cat, workload: str, *, fabric: str | None = None, rails: int | None = None,
                  card=None) -> Measured:
    """Read every run in `run_refs` and keep what applies to this plan (see the module docstring)."""
    out = Measured()
    if rails is not None and rails < 1:
        raise RaxError(f"must be >= 1, got {rails}", field="--measured-rails")
    if fabric is not None and fabric not in cat.names("fabric"):
        raise unknown_name("fabric", fabric, cat.names("fabric"), field="--measured-fabric")
    for ref in run_refs or ():
        run = store.get_run(ref)
        out.runs.append({"id": run["id"], "kind": run["kind"], "workload": run["workload"]})
        arts = run.get("artifacts") or {}
        if arts.get("comm_fit"):
            _fabric_fit(out, run, cat, fabric, rails)
        if any(p["kind"] == "compute" for p in run["points"]):
            _calibration(out, run, cat, card)
        if arts.get("abtest"):
            _abtest(out, run, workload)
        if arts.get("card") and run["workload"] == workload and out.card is None:
            out.card = arts["card"]
    if fabric and fabric not in out.fabric_fits and run_refs:
        out.notes.append(f"--measured-fabric {fabric}: no inter-node all-reduce fit in the given runs; priors used")
    return out


def _fabric_fit(out: Measured, run: dict, cat, fabric: str | None, rails: int | None) -> None:
    fits = [f for f in run["artifacts"]["comm_fit"] if f.get("collective") == "all_reduce" and f.get("beta_GBps")]
    if not fits:
        out.notes.append(f"run {run['id']}: no all-reduce fit to apply")
        return
    best = max(fits, key=lambda f: (f.get("ranks") or 0, f["beta_GBps"]))
    params = run.get("params") or {}
    where = _where(params)
    if params.get("source") == "imported" and where is None:
        out.notes.append(f"run {run['id']}: the imported nccl-tests log ran on one host ({', '.join(params.get('hosts') or ['?'])}): "
                         "it measures that node's scale-up links, not the network between nodes; not applied")
        return
    if where is None:
        out.notes.append(f"run {run['id']}: collectives between processes on one host (loopback) measure no network "
                         "between nodes; not applied (run `rax bench comm --torchrun` across nodes)")
        return
    if fabric is None and params.get("fabric"):  # `rax import nccl-tests --fabric F --rails N` said which
        fabric, rails = params["fabric"], rails or params.get("rails")
    if fabric is None:
        kinds = sorted({str(v.get("kind")) for v in (run["artifacts"].get("comm_transport") or {}).values()})
        out.notes.append(f"run {run['id']}: all-reduce over {best['ranks']} ranks across {where} ({best['transport']}, "
                         f"{', '.join(kinds) or 'transport unrecorded'}) reached {best['beta_GBps']:.3g} GB/s busbw; "
                         "say which catalogue fabric this is with --measured-fabric (and --measured-rails) to apply it")
        return
    _apply_fit(out, run, cat, fabric, rails or 1, best, where)


def _where(params: dict) -> str | None:
    """Across what a comm run measured: emulated links, nodes, or None (one host)."""
    if params.get("emulate"):
        return "emulated links"
    if params.get("torchrun_args") is not None:
        return "nodes"
    if params.get("source") == "imported" and len(params.get("hosts") or []) > 1:
        return f"{len(params['hosts'])} nodes (imported nccl-tests log)"
    return None


def _apply_fit(out: Measured, run: dict, cat, fabric: str, rails: int, fit: dict, where: str) -> None:
    line = cat.fabric(fabric).line_rate_Bps
    busbw = float(fit["beta_GBps"]) * 1e9
    eff = busbw / (rails * line)
    if eff > 1.05:
        out.notes.append(f"run {run['id']}: {busbw / 1e9:.3g} GB/s busbw exceeds {rails} x {fabric} line rate "
                         f"({rails * line / 1e9:.3g} GB/s): wrong --measured-fabric or --measured-rails; not applied")
        return
    ranks = int(fit.get("ranks") or 2)
    alpha = fit.get("alpha_us")
    step = alpha * 1e-6 / max(2 * (ranks - 1), 1) if alpha else None  # CommFit.from_collective_fit
    src = (f"measured: run {run['id']}, all-reduce over {ranks} ranks across {where}, {busbw / 1e9:.3g} GB/s busbw "
           f"= {eff:.0%} of {rails} x {cat.fabric(fabric).line_rate_gbit_s:g} Gb/s")
    out.fabric_fits[fabric] = FabricFit(fabric, eff, step, busbw, ranks, run["id"], src)
    out.notes.append(f"{fabric}: {src}; replaces the catalogue efficiency "
                     f"{cat.fabric(fabric).effective_fraction:.2f}" + ("" if step else " (latency: prior, no small sizes)"))


def _calibration(out: Measured, run: dict, cat, card) -> None:
    from raxlab.predict import calibrate, priors
    from raxlab.predict.calibrate_run import skipped_note

    peaks = (run.get("artifacts") or {}).get("peaks") or {}
    entry = peaks.get("catalog_entry")
    if not entry:
        device = next((p["params"].get("device") for p in run["points"] if p["kind"] == "compute"), "?")
        out.notes.append(f"run {run['id']}: compute measured on {device}, not a catalogue accelerator: it calibrates "
                         "no candidate; priors used")
        return
    acc = cat.accelerator(entry)
    results = [{"point": p["params"], "summary": (p["result"] or {}).get("summary") or {}}
               for p in run["points"] if p["kind"] == "compute" and p["status"] == "ok"]
    card = card or _card(run)
    points = calibrate.points_from_compute_results(results, card) if card is not None else []
    if not points:
        out.notes.append(f"run {run['id']}: no successful training points on {entry}; priors used")
        return
    peaks_si = {d: acc.peak_flops(d) for d in acc.dtypes}
    prior, _ = priors.efficiency_prior(entry, peaks=peaks_si)
    out.calibrations[entry] = calibrate.fit(points, peaks_si, acc.mem_bw_Bps, prior)
    out.notes.append(f"{entry}: compute efficiencies calibrated on {len(points)} measured points of run {run['id']} "
                     f"(workload {run['workload']}); replace the priors for every {entry} candidate")
    skipped = skipped_note([run])  # points the fit left out because they contradict their series
    if skipped:
        out.notes.append(f"{entry}: {skipped}")


def _card(run: dict):
    from raxlab.workload.card import WorkloadCard

    data = (run.get("artifacts") or {}).get("card")
    return WorkloadCard.from_dict(data) if data else None


def _abtest(out: Measured, run: dict, workload: str) -> None:
    ab = run["artifacts"]["abtest"]
    arms = [a for a in ab.get("arms") or [] if a.get("fabric") and a.get("median_s")]
    why = _ab_unusable(ab, arms, workload)
    if why:
        out.notes.append(f"run {run['id']}: measured A/B ({ab.get('verdict') or 'no verdict'}) {why}; "
                         "shown in the run, not applied to the plan")
        return
    out.abtests.append({**ab, "arms": arms, "run": run["id"]})
    out.notes.append(f"run {run['id']}: measured A/B of {', '.join(a['fabric'] for a in arms)} on {ab['nodes']} x "
                     f"{ab['accelerator']} nodes; overrides the projected network verdict for that hardware")


def _ab_unusable(ab: dict, arms: list, workload: str) -> str | None:
    """Why an A/B cannot stand in for the projected network comparison, or None."""
    if ab.get("workload") not in (None, workload):
        return f"was of workload {ab['workload']}, not {workload}"
    if ab.get("emulated"):
        return "ran on emulated links, not on a catalogue fabric"
    if not ab.get("accelerator"):
        return "ran on a device that is not a catalogue accelerator (a CPU run sizes no GPU cluster)"
    if len(arms) < 2 or not ab.get("nodes"):
        return "has fewer than two arms on catalogue fabrics"
    return None
