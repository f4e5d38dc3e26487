"""`rax run`: the consulting run end to end.

card -> measurements here (compute per precision, kernels, data loading, collectives,
a DDP step over local ranks) -> calibration -> plan -> report.

One stored run of kind "run" holds the card, the plan and the artifact "stages":
{stage: {status, run_id, wall_s, error, summary}}; each measurement stage is its own
child run (what `rax bench ...` would store), linked from there. After every stage the
record is saved, so Ctrl-C or a crash keeps what was measured and `rax run --resume RUN`
continues with the stages not yet done. A failed stage is recorded and the pipeline
goes on: a plan from priors is still useful without, say, the comm stage.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from raxlab.errors import RaxError
from raxlab.store import Store

DEFAULT_WORKLOAD = "llm-1b-pretrain"
MEASURE_STAGES = ("compute", "kernels", "io", "comm", "ddp")
STAGES = ("card", *MEASURE_STAGES, "calibrate", "plan", "report")
# Share of a --max-minutes budget given to each measurement stage (the rest is card/plan/report).
BUDGET_SHARE = {"compute": 0.35, "kernels": 0.1, "io": 0.1, "comm": 0.2, "ddp": 0.15}


@dataclass
class RunOptions:
    workload: str = DEFAULT_WORKLOAD
    trust_code: bool = False
    quick: bool = False
    no_comm: bool = False
    skip: list[str] = field(default_factory=list)
    max_minutes: float | None = None
    resume: str | None = None
    store: str | None = None
    catalog_override: str | None = None
    report_format: str = "html"
    out: str | None = None


@dataclass
class StageResult:
    status: str  # ok | failed | skipped
    run_id: str | None = None
    wall_s: float = 0.0
    error: str | None = None
    summary: dict | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


class Pipeline:
    def __init__(self, opts: RunOptions, say: Callable[[str], None] = print):
        self.opts, self.say = opts, say
        self.store = Store(opts.store)
        for name in opts.skip:
            if name not in STAGES:
                raise RaxError(f"unknown stage {name!r}; stages: {', '.join(STAGES)}", field="--skip")
        if opts.max_minutes is not None and opts.max_minutes <= 0:
            raise RaxError(f"must be > 0, got {opts.max_minutes}", field="--max-minutes")

    # -- the run record ------------------------------------------------------------
    def _open(self):
        from raxlab.workload import load_workload

        if self.opts.resume:
            self.run_id = self.store.resolve(self.opts.resume)
            head = self.store.get_run(self.run_id)
            if head["kind"] != "run":
                raise RaxError(f"run {self.run_id} is a {head['kind']} run, not a `rax run`", field="--resume")
            self.opts.workload = head["params"]["workload"]
            self.stages = {k: StageResult(**v) for k, v in (head["artifacts"].get("stages") or {}).items()}
            self.store.reopen_run(self.run_id)
        self.wl = load_workload(self.opts.workload, trust_code=self.opts.trust_code)
        if not self.opts.resume:
            params = {k: v for k, v in self.opts.__dict__.items() if k != "resume"}
            self.run_id = self.store.new_run("run", workload=self.wl.name, spec=self.wl.spec.model_dump(mode="json"),
                                             params=params)
            self.stages = {}
            from raxlab.measure.fingerprint import fingerprint

            self.store.add_fingerprint(self.run_id, fingerprint())

    def _save(self) -> None:
        self.store.put_artifact(self.run_id, "stages", {k: v.to_dict() for k, v in self.stages.items()})

    # -- driving ---------------------------------------------------------------------
    def run(self) -> dict:
        self._open()
        self.t0 = time.monotonic()
        self.say(f"rax run {self.run_id}: {self.wl.name}" + (" (resumed)" if self.opts.resume else ""))
        try:
            for i, name in enumerate(STAGES[:-1], 1):
                self._stage(i, name)
        except KeyboardInterrupt:
            self._save()
            self.store.finish_run(self.run_id, "interrupted", summary=self._summary())
            raise
        self.store.finish_run(self.run_id, "complete", summary=self._summary())
        self._stage(len(STAGES), "report")  # rendered from the finished record (artifacts stay writable)
        self.store.finish_run(self.run_id, "complete", summary=self._summary())
        return self._summary()

    def _stage(self, i: int, name: str) -> None:
        done = self.stages.get(name)
        if done is not None and done.status == "ok":
            self.say(f"[{i}/{len(STAGES)}] {name}: kept from the interrupted run ({done.run_id or 'artifact'})")
            return
        why = self._skip_reason(name)
        if why:
            self.stages[name] = StageResult("skipped", error=why)
            self.say(f"[{i}/{len(STAGES)}] {name}: skipped ({why})")
            self._save()
            return
        self.say(f"[{i}/{len(STAGES)}] {name} ...")
        t0 = time.monotonic()
        try:
            res = getattr(self, f"_do_{name}")()
        except RaxError as exc:  # recorded; later stages still run (a plan from priors beats none)
            res = StageResult("failed", error=str(exc))
        res.wall_s = round(time.monotonic() - t0, 2)
        self.stages[name] = res
        self._save()
        self.say(f"    {name}: {res.status}" + (f" - {res.error}" if res.error else "")
                 + (f" (run {res.run_id})" if res.run_id else "") + f" in {res.wall_s:.0f} s")

    def _skip_reason(self, name: str) -> str | None:
        if name in self.opts.skip:
            return "--skip"
        if name in ("comm", "ddp") and self.opts.no_comm:
            return "--no-comm"
        if name in MEASURE_STAGES and self.opts.max_minutes is not None:
            spent = (time.monotonic() - self.t0) / 60
            if spent >= self.opts.max_minutes:
                return f"--max-minutes {self.opts.max_minutes:g} spent"
        return None

    def _budget_s(self, name: str, default: float) -> float:
        """Seconds for a stage: its share of --max-minutes, else the default (smaller with --quick)."""
        if self.opts.max_minutes is not None:
            return max(5.0, self.opts.max_minutes * 60 * BUDGET_SHARE[name])
        return default / 3 if self.opts.quick else default

    def _summary(self) -> dict:
        return {"run_id": self.run_id, "workload": self.wl.name,
                "stages": {k: v.status for k, v in self.stages.items()},
                "answer": self._answer(),
                "report": (self.stages.get("report") or StageResult("skipped")).summary}

    def _answer(self) -> dict | None:
        """The plan's answer (plan/answer.py), from the plan this run stored (a resumed run's too)."""
        from raxlab.plan.answer import answer

        if (self.stages.get("plan") or StageResult("skipped")).status != "ok":
            return None
        return answer(self.store.get_run(self.run_id)["artifacts"].get("plan"))

    # -- stages --------------------------------------------------------------------------
    def _do_card(self) -> StageResult:
        from raxlab.workload import build_card
        from raxlab.workload.cardcache import card_for

        # traced here, and kept in the card cache so a `rax predict` of this workload afterwards is warm
        card = card_for(self.opts.workload, trust_code=self.opts.trust_code, build=lambda: build_card(self.wl),
                        refresh=True)[0].to_dict()
        self.store.put_artifact(self.run_id, "card", card)
        return StageResult("ok", summary={"params": card["params"], "train_flops_per_sample": card["train_flops_per_sample"]})

    def _do_compute(self) -> StageResult:
        from raxlab.measure.compute_cli import run_compute
        from raxlab.measure.options import ComputeOptions

        quick = self.opts.quick
        opts = ComputeOptions(self.opts.workload, self.opts.trust_code, precisions="fp32" if quick else None,
                              batch_sizes="1,2,4", modes="train" if quick else "train,infer",
                              max_seconds=self._budget_s("compute", 150), point_seconds=1.0 if quick else 3.0,
                              store=self.opts.store)
        out = run_compute(opts)
        ok = sum(p["status"] == "ok" for p in out["points"])
        return StageResult("ok" if ok else "failed", out["run_id"], error=None if ok else "no compute point succeeded",
                           summary={"points": len(out["points"]), "ok": ok, "proxy": out["proxy"]})

    def _do_kernels(self) -> StageResult:
        from raxlab.measure.kernels_cli import run_kernels
        from raxlab.measure.options import KernelOptions

        precs = "fp32" if self.opts.quick else ",".join(self.wl.spec.precisions)
        out = run_kernels(KernelOptions(precisions=precs, max_seconds=min(3.0, self._budget_s("kernels", 40) / 8),
                                        store=self.opts.store))
        return StageResult("ok", out["run_id"], summary={"gemm_flops": out["ceilings"]["gemm_flops"]})

    def _do_io(self) -> StageResult:
        from raxlab.measure.io_cli import run_io
        from raxlab.measure.options import IOOptions

        out = run_io(IOOptions(self.opts.workload, self.opts.trust_code, max_workers=None if not self.opts.quick else 1,
                               seconds=min(3.0, self._budget_s("io", 30) / 4), store=self.opts.store))
        return StageResult("ok", out["run_id"], summary={"best_samples_per_s": out["best_samples_per_s"],
                                                          "verdict": out["starvation"]["verdict"]})

    def _do_comm(self) -> StageResult:
        from raxlab.measure.comm.driver import run_comm
        from raxlab.measure.comm.options import SweepOptions

        quick = self.opts.quick
        sweep = SweepOptions(collectives=["all_reduce"] if quick else ["all_reduce", "all_gather", "reduce_scatter"],
                             max_bytes=(1 if quick else 16) * 2**20, iters=10 if quick else 20).validate()
        res = run_comm(sweep, ranks=2, ifname="lo", store=self.opts.store)
        return StageResult("ok" if res.status == "complete" else "failed", res.run_id, error=res.error,
                           summary={"fits": len(res.fits), "transport": res.transport.get("verified")
                                    if isinstance(res.transport, dict) else None})

    def _do_ddp(self) -> StageResult:
        from raxlab.measure.ddp import run_ddp
        from raxlab.measure.ddp_options import DdpOptions

        ref = self.opts.workload + ("@proxy" if self.wl.meta_only and self.wl.spec.proxy else "")
        opts = DdpOptions(ref, self.opts.trust_code, steps=4 if self.opts.quick else 8,
                          max_seconds=self._budget_s("ddp", 60))
        res = run_ddp(opts, ranks=2, transport="gloo", store=self.opts.store)
        return StageResult("ok" if res.status == "complete" else "failed", res.run_id, error=res.error,
                           summary=_pick(res.to_dict(), ("derived",)))

    def _child(self, stage: str) -> str | None:
        res = self.stages.get(stage)
        return res.run_id if res is not None and res.status == "ok" else None

    def _do_calibrate(self) -> StageResult:
        from raxlab.predict.calibrate_run import calibrate_compute_run
        from raxlab.predict.commfit import calibrate_comm_run

        out, errors = {}, []
        for stage, fn in (("compute", calibrate_compute_run), ("comm", calibrate_comm_run)):
            child = self._child(stage)
            if child is None:
                continue
            try:
                out[stage] = fn(self.store, child)
            except RaxError as exc:  # e.g. too few batch sizes to hold some out
                errors.append(f"{stage}: {exc}")
        if not out:
            return StageResult("failed" if errors else "skipped", error="; ".join(errors) or "nothing measured to calibrate on")
        self.store.put_artifact(self.run_id, "calibration", out)
        held = {k: v.get("held_out") for k, v in out.items()}
        return StageResult("ok", error="; ".join(errors) or None, summary={"held_out": held})

    def _do_plan(self) -> StageResult:
        from raxlab.catalog import load_catalog
        from raxlab.plan.entry import plan_workload

        runs = [self.run_id] + [self._child(s) for s in MEASURE_STAGES if self._child(s)]
        cat = load_catalog(override=self.opts.catalog_override)
        plan = plan_workload(self.opts.workload, cat, runs=runs, store=self.store, trust_code=self.opts.trust_code)
        self.store.put_artifact(self.run_id, "plan", plan)
        rec = plan.get("recommendation") or {}
        return StageResult("ok", summary={k: rec.get(k) for k in ("accelerator", "nodes", "gpus", "fabric", "rails",
                                                                   "precision", "time_to_target_s", "capex_usd")})

    def _do_report(self) -> StageResult:
        from raxlab.report import write_report

        self._save()  # the report reads the stages record
        path = write_report(self.store, self.run_id, self.opts.report_format, self.opts.out)
        return StageResult("ok", summary={"path": str(path), "format": self.opts.report_format})


def _pick(d: dict, keys: tuple) -> dict:
    return {k: d.get(k) for k in keys if k in d}
