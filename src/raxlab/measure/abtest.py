"""`rax abtest`: the customer's training step on two or more network set-ups, and a verdict.

    arms = parse_arms(["fast=emulate:4gbit", "slow=emulate:1gbit"])
    run = run_abtest(DdpOptions("my.yaml").validate(), arms, AbOptions(reps=7, steps=3), ranks=2)

Design (../shared/reference/measurement.md §2.4, §6): every arm's ranks start together and
warm up; then repetitions run in turns A B A B ... (`reps` per arm), so drift and other
load hit every arm alike. A repetition is `rep_warmup` untimed and `steps` timed rounds
of a synced DDP step and a no_sync step (ddp_train); its sample is the median of its
synced steps, and the raw steps are kept. `ab_stats.decide` turns the samples into the
verdict; its docstring defines tie, threshold and significance.

Stored (run kind "abtest"): params (options, arms with transport, link, environment,
fabric, price), the host fingerprint; points "ARM warm-up" and "ARM rep K" as they
complete (samples: the slowest rank's synced step times; result: medians, no_sync times,
exposed share); artifacts "abtest_setup", "abtest_transport" (per arm and rank),
"abtest_analysis" (verdict, per-arm figures, costs, design) and "abtest" (the summary the
planner reads, plan/measured.py). A dead or hung rank ends the experiment: every arm is
stopped, the repetition in flight is stored with the reason, completed ones stay.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable

from raxlab.errors import RaxError
from raxlab.measure.abtest_arms import ArmProcess, ArmSpec, RepResult
from raxlab.measure.comm import transports
from raxlab.measure.comm.launch import KILL_GRACE_S, RankFailure
from raxlab.measure.ddp import prepare, round_times
from raxlab.measure.ddp_options import DdpOptions
from raxlab.netemu.cleanup import terminate_as_interrupt
from raxlab.store import Store

RUN_KIND, POINT_KIND = "abtest", "abtest"
ABORT_GRACE_S = 5.0  # idle arms leave at once; a running one finishes its round first
ENV_PREFIXES = ("NCCL_", "GLOO_", "OMP_", "MKL_", "TORCH_", "CUDA_VISIBLE_DEVICES")


@dataclass
class AbOptions:
    reps: int = 7  # per arm; 7 lets one overlap pass α = 0.01 (ab_stats docstring)
    steps: int = 3  # timed rounds per repetition
    rep_warmup: int = 1  # untimed rounds before each repetition
    threshold: float = 0.05
    alpha: float = 0.01
    horizon_years: float = 3.0  # amortisation horizon of the cost per unit of work

    def validate(self) -> "AbOptions":
        if self.reps < 2 or self.steps < 1 or self.rep_warmup < 0:
            raise RaxError(f"need --reps >= 2 (5 or more for a verdict), --steps >= 1, --rep-warmup >= 0; got "
                           f"{self.reps}, {self.steps}, {self.rep_warmup}", field="--reps")
        if not 0 < self.threshold < 1 or not 0 < self.alpha < 1:
            raise RaxError("--threshold and --alpha are fractions in (0, 1), e.g. 0.05 and 0.01",
                           field="--threshold")
        if self.horizon_years <= 0:
            raise RaxError(f"must be positive, got {self.horizon_years}", field="--horizon-years")
        return self


@dataclass
class AbRun:
    run_id: str
    status: str
    analysis: dict
    params: dict
    wall_s: float
    store_path: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def inherited_env() -> dict[str, str]:
    """Variables of this process that change how ranks compute or communicate."""
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith(ENV_PREFIXES)}


def run_abtest(opts: DdpOptions, arms: list[ArmSpec], ab: AbOptions, *, ranks: int = 2,
               store: Store | str | None = None, notes: list[str] | None = None,
               on_event: Callable[[dict], None] | None = None) -> AbRun:
    """Run the interleaved experiment and store it; raises RaxError/RankFailure on failure."""
    ab.validate()
    if ranks < 2:
        raise RaxError(f"an A/B test of the network needs >= 2 ranks, got {ranks}", field="--ranks")
    opts.steps, opts.baseline = ab.steps, False  # a repetition's timed rounds; no 1-rank step in an A/B
    wl, _ = prepare(opts.validate(), arms[0].transport, ranks)
    for arm in arms[1:]:
        transports.require_available(transports.get_arm(arm.transport), ranks)
    exp = _Experiment(Store(store) if not isinstance(store, Store) else store, wl, opts, arms, ab, ranks,
                      on_event, notes or [])
    with contextlib.ExitStack() as stack:
        stack.enter_context(terminate_as_interrupt())  # SIGTERM unwinds: ranks killed, fabrics removed
        work = tempfile.mkdtemp(prefix="rax-abtest-")
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        try:
            exp.start(stack, work)
            exp.interleave()
        except RankFailure as exc:
            exp.abort("failed", str(exc), exc.status)
            raise
        except KeyboardInterrupt:
            exp.abort("interrupted", "interrupted (Ctrl-C or SIGTERM)", "killed")
            raise
        except BaseException as exc:
            exp.abort("failed", str(exc), "failed")
            raise
    return exp.finish()


class _Experiment:
    """State of one A/B run: the arms' processes, the event queue, results as they come."""

    def __init__(self, db: Store, wl, opts: DdpOptions, arms: list[ArmSpec], ab: AbOptions, ranks: int,
                 on_event, notes: list[str]):
        self.db, self.wl, self.opts, self.ab, self.ranks = db, wl, opts, ab, ranks
        self.arms, self.notes = arms, notes
        self.on_event = on_event or (lambda ev: None)
        self.events: queue.Queue = queue.Queue()
        self.procs: dict[str, ArmProcess] = {}
        self.results: list[RepResult] = []
        self.current: tuple[str, int] | None = None
        self.run_id, self.t0 = "", time.perf_counter()

    # -- start, turns, stop ----------------------------------------------------------
    def start(self, stack: contextlib.ExitStack, work: str) -> None:
        for arm in self.arms:
            self.procs[arm.name] = ArmProcess(arm, self.opts, self.ranks, self.events, work, self.ab.rep_warmup)
        for proc in self.procs.values():
            proc.start(stack)
        params = {**self.opts.to_dict(), "ranks": self.ranks, "design": self._design(),
                  "arms": [p.describe() for p in self.procs.values()], "inherited_env": inherited_env(),
                  "notes": self.notes}
        self.run_id = self.db.new_run(RUN_KIND, workload=self.wl.name, spec=self.wl.spec.model_dump(), params=params)
        from raxlab.measure.fingerprint import fingerprint

        self.fingerprint = fingerprint()
        self.db.add_fingerprint(self.run_id, self.fingerprint, role="host")
        for proc in self.procs.values():
            proc.go()
        ready: set[str] = set()
        while len(ready) < len(self.procs):
            name, _ = self._next(lambda n, ev: ev["ev"] == "ready")
            ready.add(name)

    def _design(self) -> dict:
        return {"reps": self.ab.reps, "steps_per_rep": self.ab.steps, "rep_warmup": self.ab.rep_warmup,
                "order": " ".join(a.name for a in self.arms) + " ... (interleaved, repeated)",
                "threshold": self.ab.threshold, "alpha": self.ab.alpha, "horizon_years": self.ab.horizon_years}

    def interleave(self) -> None:
        for rep in range(self.ab.reps):
            for arm in self.arms:
                self.current = (arm.name, rep)
                self.procs[arm.name].command("rep", rep)
                _, ev = self._next(lambda n, e, a=arm.name: n == a and e["ev"] == "rep")
                self._store_rep(RepResult(arm.name, rep, ev["sync_s"], ev.get("nosync_s") or [],
                                          ev.get("a2a_sync_s") or [], ev.get("a2a_nosync_s") or []))
                self.current = None
        for proc in self.procs.values():
            proc.command("stop")
        left = set(self.procs)
        while left:
            left.discard(self._next(lambda n, ev: ev["ev"] == "_exit", stopping=True)[0])

    def _next(self, want, stopping: bool = False) -> tuple[str, dict]:
        """Handle events until one satisfies `want(name, event)`; a failed arm raises."""
        while True:
            try:
                name, ev = self.events.get(timeout=0.5)  # a timeout keeps Ctrl-C responsive
            except queue.Empty:
                continue
            kind = ev.get("ev")
            if kind == "_failed":
                raise _arm_error(name, ev["error"])
            if kind == "_exit" and not stopping:
                raise RaxError(f"arm {name}: its ranks ended before the experiment did")
            self._record(name, ev)
            if want(name, ev):
                return name, ev

    def abort(self, status: str, error: str, point_status: str) -> None:
        for proc in self.procs.values():
            proc.command("abort")
        for proc in self.procs.values():
            if not proc.join(ABORT_GRACE_S):
                proc.kill_leftovers()  # its launch then sees the deaths and returns
                proc.join(KILL_GRACE_S + 5)
        if not self.run_id:
            return
        if self.current:
            arm, rep = self.current
            self.db.add_point(self.run_id, POINT_KIND, f"{arm} rep {rep}", point_status, error=error,
                              params={"arm": arm, "rep": rep})
        self.db.put_artifact(self.run_id, "abtest_analysis", self._analysis(complete=False))
        self.db.finish_run(self.run_id, status, summary={"error": error, "reps_completed": len(self.results)})

    # -- records -----------------------------------------------------------------------
    def _record(self, name: str, ev: dict) -> None:
        kind, info = ev.get("ev"), self.procs[name].info
        if kind == "transport":
            info["transport"][str(ev.get("rank", 0))] = ev["info"]
            seen = {n: p.info["transport"] for n, p in self.procs.items()}
            self.db.put_artifact(self.run_id, "abtest_transport", seen)
        elif kind == "warm":
            info["warm"].append(round_times(ev))
        elif kind == "setup":
            info["setup"] = ev["info"]
            self.db.put_artifact(self.run_id, "abtest_setup", {n: p.info["setup"] for n, p in self.procs.items()})
            self.db.add_point(self.run_id, POINT_KIND, f"{name} warm-up", "ok", params={"arm": name},
                              samples=[w["sync_s"] for w in info["warm"]], result={"rounds": info["warm"]})
        elif kind == "done":
            info["loss"] = {k: v for k, v in ev.items() if k.startswith("loss")}
        self.on_event({**ev, "arm": name})

    def _store_rep(self, r: RepResult) -> None:
        self.results.append(r)
        sync = statistics.median(r.sync_s)
        nosync = statistics.median(r.nosync_s) if r.nosync_s else None
        comp = statistics.median(r.compute_s()) if r.nosync_s else None  # less the all-to-all under EP
        result = {"median_s": sync, "nosync_median_s": nosync, "nosync_s": r.nosync_s,
                  "exposed_comm_share": 1 - comp / sync if comp else None, "steps": len(r.sync_s),
                  **({"a2a_sync_s": r.a2a_sync_s, "a2a_nosync_s": r.a2a_nosync_s} if r.a2a_sync_s else {})}
        self.db.add_point(self.run_id, POINT_KIND, f"{r.arm} rep {r.rep}", "ok", samples=r.sync_s, result=result,
                          params={"arm": r.arm, "rep": r.rep, "position": len(self.results) - 1})
        self.on_event({"ev": "rep_stored", "arm": r.arm, "rep": r.rep, **result})

    # -- analysis ----------------------------------------------------------------------
    def _analysis(self, complete: bool) -> dict:
        from raxlab.measure.abtest_report import analyse

        return analyse(self.results, self.arms, self.ab, self.ranks, self.opts.batch, self.wl.tokens_per_sample,
                       complete=complete, notes=self.notes)

    def finish(self) -> AbRun:
        from raxlab.measure.abtest_report import planner_summary

        wall = time.perf_counter() - self.t0
        analysis = {**self._analysis(complete=True), "wall_s": wall}
        self.db.put_artifact(self.run_id, "abtest_analysis", analysis)
        self.db.put_artifact(self.run_id, "abtest", planner_summary(analysis, self.arms, self.wl.name, self.ranks,
                                                                    self.opts.precision, self.fingerprint))
        v = analysis.get("verdict") or {}
        self.db.finish_run(self.run_id, "complete", summary={
            "verdict": v.get("verdict"), "recommended": v.get("recommended"), "wall_s": wall,
            "comparisons": [{k: c[k] for k in ("arm", "versus", "ratio", "ci", "p_value")}
                            for c in v.get("comparisons", [])]})
        params = self.db.get_run(self.run_id)["params"]
        return AbRun(self.run_id, "complete", analysis, params, wall, str(self.db.path), self.notes)


def _arm_error(name: str, exc: BaseException) -> BaseException:
    if isinstance(exc, RankFailure):
        return RankFailure(f"arm {name}: {exc}", rank=exc.rank, status=exc.status, what=exc.what)
    if isinstance(exc, RaxError):
        return RaxError(f"arm {name}: {exc}")  # str(exc) already names the field
    return exc
