"""`rax abtest`: the customer's training step on two or more network set-ups, and a verdict.

    arms = parse_arms(["fast=emulate:4gbit", "slow=emulate:1gbit"])
    run = run_abtest(DdpOptions("my.yaml").validate(), arms, AbOptions(max_minutes=5), ranks=2)

Design (../shared/reference/measurement.md §2.4, §6; DESIGN.md "Second wave"): every arm's
ranks start together and warm up; then the experiment runs *rounds*, one repetition per
arm; each block of two rounds runs the arms in a random order and then reversed (A B, B A
or B A, A B), so the repetitions of a round form a pair that shares the machine's state,
linear drift cancels within a block, and no arm keeps a fixed phase against periodic load.
Crossover: when every arm is an emulated fabric of one shape (they differ only in rates),
block b runs arm i on the process set of arm (i + b) mod k, whose fabric is reshaped to the
arm's rates (`tc qdisc change`), so an effect that sticks to one set of processes (seen on a
busy host: two identical fabrics 5-10 % apart for tens of seconds) falls on every arm alike. A repetition is
`rep_warmup` untimed and `steps` timed rounds of a synced DDP step and a no_sync step
(ddp_train); its sample is the median of its synced steps, and the raw steps are kept.

Sequential: after the first round the pace fixes the most rounds the budget allows
(`max_minutes`, at most `reps`); the verdict is looked at after `min_reps` rounds and then
every ~30 % more, each look at the nominal level of the alpha-spending function
(`equivalence.Spending`), and the run stops at the first decision (pays, tie, cheaper
faster) or at the budget with **inconclusive** and how many more rounds would likely
settle it. `ab_stats.decide` defines the verdict. A `BusySampler` records other work on
the machine through the run: it warns on stderr, is stored, and widens the interval by the
processor-sharing stretch it implies (`busyness.stretch`, `equivalence.load_adjusted`).

Stored (run kind "abtest"): params (options, arms with transport, link or topology,
environment, fabric, price), the host fingerprint; points "ARM warm-up" and "ARM rep K" as
they complete (samples: the slowest rank's synced step times; result: medians, no_sync
times, exposed share); artifacts "abtest_setup", "abtest_transport" (per arm and rank),
"abtest_looks" (each look's verdict), "busyness", "abtest_analysis" (verdict, per-arm
figures, costs, design) and "abtest" (the summary the planner reads, plan/measured.py).
A dead or hung rank ends the experiment: every arm is stopped, the repetition in flight
is stored with the reason, completed ones stay.
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
from raxlab.measure.ab_plan import SequentialPlan, plan_rounds
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
    reps: int = 40  # most rounds (repetitions per arm); the sequential design usually stops earlier
    min_reps: int = 4  # first look; a paired t interval on fewer pairs is too wide to decide anything
    max_minutes: float = 10.0  # budget of the whole run, start-up included
    steps: int = 3  # timed rounds per repetition
    rep_warmup: int = 1  # untimed rounds before each repetition
    threshold: float = 0.05
    alpha: float = 0.05  # one-sided level of each TOST test (a 90 % interval), over all looks
    spending: str = "obrien-fleming"  # alpha-spending function over the looks (equivalence.Spending)
    seed: int = 0  # the random order of the arms in each block of two rounds
    horizon_years: float = 3.0  # amortisation horizon of the cost per unit of work
    node_price_usd: float | None = None  # declared price per node added to catalogue prices (--node-price)

    def validate(self) -> "AbOptions":
        if self.min_reps < 2 or self.reps < self.min_reps or self.steps < 1 or self.rep_warmup < 0:
            raise RaxError(f"need --min-reps >= 2, --reps >= --min-reps, --steps >= 1, --rep-warmup >= 0; got "
                           f"{self.min_reps}, {self.reps}, {self.steps}, {self.rep_warmup}", field="--reps")
        if not 0 < self.threshold < 1 or not 0 < self.alpha < 0.5:
            raise RaxError("--threshold is a fraction in (0, 1) and --alpha in (0, 0.5), e.g. 0.05 and 0.05",
                           field="--threshold")
        if self.max_minutes <= 0:
            raise RaxError(f"must be positive, got {self.max_minutes}", field="--max-minutes")
        if self.spending not in ("pocock", "obrien-fleming"):
            raise RaxError(f"unknown {self.spending!r}; known: pocock, obrien-fleming", field="--spending")
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
        from raxlab.measure.busyness import BusySampler

        self.db, self.wl, self.opts, self.ab, self.ranks = db, wl, opts, ab, ranks
        self.arms, self.notes = arms, notes
        self.on_event = on_event or (lambda ev: None)
        self.events: queue.Queue = queue.Queue()
        self.procs: dict[str, ArmProcess] = {}
        self.results: list[RepResult] = []
        self.current: tuple[str, int] | None = None
        self.run_id, self.t0 = "", time.perf_counter()
        self.busy = BusySampler(label="A/B test")
        self.plan: SequentialPlan | None = None
        self.looks: list[dict] = []
        self.verdict: dict | None = None
        self.reps_t0: float | None = None
        self.holder = {a.name: a.name for a in arms}  # arm -> the process set (and fabric) running it now
        self.configs: dict[str, dict] = {}  # arm -> its fabric's tiers, when the arms can swap fabrics

    # -- start, turns, stop ----------------------------------------------------------
    def start(self, stack: contextlib.ExitStack, work: str) -> None:
        self.busy.start()
        stack.callback(self.busy.stop)
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
        import scipy.stats  # noqa: F401  (seconds on a busy host: imported while the ranks start, not at a look)

        ready: set[str] = set()
        while len(ready) < len(self.procs):
            name, _ = self._next(lambda n, ev: ev["ev"] == "ready")
            ready.add(name)
        self.configs = crossover_configs(self.procs)

    def _cross(self, block: int) -> None:
        """Block b runs arm i on process set (i + b) mod k, its fabric reshaped to the arm's rates: an
        effect that sticks to one set of processes for a while (seen here: two identical emulated
        fabrics 5-10 % apart for tens of seconds on a busy host) then falls on every arm alike."""
        if not self.configs:
            return
        names = [a.name for a in self.arms]
        for i, arm in enumerate(names):
            holder = names[(i + block) % len(names)]
            self.procs[holder].placement.fabric.reshape(self.configs[arm])  # only the tiers that differ
            self.holder[arm] = holder
        self.on_event({"ev": "crossover", "block": block, "holders": dict(self.holder)})

    def _design(self) -> dict:
        ab = self.ab
        return {"max_reps": ab.reps, "min_reps": ab.min_reps, "max_minutes": ab.max_minutes, "steps_per_rep": ab.steps,
                "rep_warmup": ab.rep_warmup, "order": "rounds of one repetition per arm; each block of two rounds "
                "in a random order of " + " ".join(a.name for a in self.arms) + " (seed " + str(ab.seed) + "), then "
                "reversed; pairs = the arms' repetitions of one round",
                "threshold": ab.threshold, "alpha": ab.alpha, "spending": ab.spending, "order_seed": ab.seed,
                "horizon_years": ab.horizon_years, "node_price_usd": ab.node_price_usd}

    def _order(self, rnd: int) -> list[ArmSpec]:
        """Each block of two rounds runs the arms in a random order, then reversed: linear drift
        cancels within the block, and no arm keeps a fixed phase against periodic load of others
        (another benchmark's cycle would otherwise favour one arm for many rounds)."""
        import random

        perm = list(self.arms)
        random.Random(self.ab.seed * 100_003 + rnd // 2).shuffle(perm)
        return perm if rnd % 2 == 0 else perm[::-1]

    def interleave(self) -> None:
        rnd, self.reps_t0 = 0, time.perf_counter()
        while True:
            t_round = time.perf_counter()
            if rnd % 2 == 0:
                self._cross(rnd // 2)
            for arm in self._order(rnd):
                self.current, holder = (arm.name, rnd), self.holder[arm.name]
                self.procs[holder].command("rep", rnd)
                _, ev = self._next(lambda n, e, h=holder: n == h and e["ev"] == "rep")
                self._store_rep(RepResult(arm.name, rnd, ev["sync_s"], ev.get("nosync_s") or [],
                                          ev.get("a2a_sync_s") or [], ev.get("a2a_nosync_s") or []), holder)
                self.current = None
            rnd += 1
            if self.plan is None:
                self.plan = plan_rounds(self.ab, time.perf_counter() - t_round, time.perf_counter() - self.t0)
                self.on_event({"ev": "plan", **self.plan.to_dict()})
            final = rnd >= self.plan.n_max or (rnd >= 2 and self._out_of_time(rnd))
            if (rnd in self.plan.looks or final) and self._look(rnd, final):
                break
        self._stop_arms()

    def _out_of_time(self, rounds: int) -> bool:
        now = time.perf_counter()
        pace = (now - self.reps_t0) / rounds
        return now - self.t0 + pace > self.ab.max_minutes * 60

    def _look(self, rounds: int, final: bool) -> bool:
        """Look at the verdict after `rounds` rounds; True when the experiment should stop."""
        from raxlab.measure.abtest_report import sequential_verdict

        done = [n for n in self.plan.looks if n < rounds]
        v = sequential_verdict(self.results, self.arms, self.ab, self.plan, tuple(done) + (rounds,), final,
                               self._stretch())
        self.looks.append({"rounds": rounds, "final": final, "level": v["level"], "verdict": v["verdict"],
                           "comparisons": [{k: c[k] for k in ("arm", "ratio", "ci", "decision")}
                                           for c in v["comparisons"]]})
        self.db.put_artifact(self.run_id, "abtest_looks", self.looks)
        self.on_event({"ev": "look", "rounds": rounds, "final": final, "verdict": v["verdict"],
                       "comparisons": self.looks[-1]["comparisons"]})
        if v["decision"] != "inconclusive" or final:
            self.verdict = v
            return True
        return False

    def _stretch(self) -> dict:
        from raxlab.measure.busyness import stretch

        w = self.busy.window(self.reps_t0 or self.t0, time.perf_counter())
        threads = next((p.info["setup"] or {}).get("threads") or 1 for p in self.procs.values())
        demand = self.ranks * threads  # only the arm whose turn it is computes; the others poll a file
        s = stretch(w["others_cores"], demand, self.busy.usable)
        return {"stretch": s, "others_cores": w["others_cores"], "demand_cores": demand, "cores": self.busy.usable}

    def _stop_arms(self) -> None:
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
        self.db.put_artifact(self.run_id, "busyness", self.busy.stop())
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

    def _store_rep(self, r: RepResult, holder: str) -> None:
        self.results.append(r)
        sync = statistics.median(r.sync_s)
        nosync = statistics.median(r.nosync_s) if r.nosync_s else None
        comp = statistics.median(r.compute_s()) if r.nosync_s else None  # less the all-to-all under EP
        result = {"median_s": sync, "nosync_median_s": nosync, "nosync_s": r.nosync_s,
                  "exposed_comm_share": 1 - comp / sync if comp else None, "steps": len(r.sync_s),
                  **({"a2a_sync_s": r.a2a_sync_s, "a2a_nosync_s": r.a2a_nosync_s} if r.a2a_sync_s else {})}
        self.db.add_point(self.run_id, POINT_KIND, f"{r.arm} rep {r.rep}", "ok", samples=r.sync_s, result=result,
                          params={"arm": r.arm, "rep": r.rep, "round": r.rep, "position": len(self.results) - 1,
                                  "process_set": holder})
        self.on_event({"ev": "rep_stored", "arm": r.arm, "rep": r.rep, **result})

    # -- analysis ----------------------------------------------------------------------
    def _analysis(self, complete: bool) -> dict:
        from raxlab.measure.abtest_report import analyse

        out = analyse(self.results, self.arms, self.ab, self.ranks, self.opts.batch, self.wl.tokens_per_sample,
                      complete=complete, notes=self.notes, verdict=self.verdict, plan=self.plan, looks=self.looks,
                      busy=self.busy.summary(), setup={n: p.info["setup"] for n, p in self.procs.items()})
        out["crossover"] = bool(self.configs)
        if self.configs:
            out["notes"].append("crossover: the arms swapped process sets every two rounds (their fabrics' rates "
                                "reshaped with tc), so an effect that sticks to one set of processes falls on every "
                                "arm alike")
        return out

    def finish(self) -> AbRun:
        from raxlab.measure.abtest_report import planner_summary

        wall = time.perf_counter() - self.t0
        self.db.put_artifact(self.run_id, "busyness", self.busy.stop())
        analysis = {**self._analysis(complete=True), "wall_s": wall}
        self.db.put_artifact(self.run_id, "abtest_analysis", analysis)
        self.db.put_artifact(self.run_id, "abtest", planner_summary(analysis, self.arms, self.wl.name, self.ranks,
                                                                    self.opts.precision, self.fingerprint))
        v = analysis.get("verdict") or {}
        self.db.finish_run(self.run_id, "complete", summary={
            "verdict": v.get("verdict"), "decision": v.get("decision"), "recommended": v.get("recommended"),
            "wall_s": wall, "rounds": len(self.results) // max(1, len(self.arms)),
            "comparisons": [{k: c[k] for k in ("arm", "versus", "ratio", "ci", "decision", "noise_cv")}
                            for c in v.get("comparisons", [])]})
        params = self.db.get_run(self.run_id)["params"]
        return AbRun(self.run_id, "complete", analysis, params, wall, str(self.db.path), self.notes)


def crossover_configs(procs: dict) -> dict[str, dict]:
    """Each arm's fabric tiers when every arm is an emulated fabric of one shape on one transport
    (they differ only in rates, so any process set can run any arm); else {} (no crossover)."""
    fabrics = {name: p.placement.fabric if p.placement else None for name, p in procs.items()}
    if any(f is None for f in fabrics.values()):
        return {}
    if len({f.shape_key() for f in fabrics.values()}) != 1 or len({p.arm.transport for p in procs.values()}) != 1:
        return {}
    return {name: f.tiers() for name, f in fabrics.items()}


def _arm_error(name: str, exc: BaseException) -> BaseException:
    if isinstance(exc, RankFailure):
        return RankFailure(f"arm {name}: {exc}", rank=exc.rank, status=exc.status, what=exc.what)
    if isinstance(exc, RaxError):
        return RaxError(f"arm {name}: {exc}")  # str(exc) already names the field
    return exc
