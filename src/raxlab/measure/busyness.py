"""How busy the machine was *during* a measurement, and how much of that was other work.

    with BusySampler(label="abtest") as busy:       # a light thread, one sample every 0.5 s
        ... run the ranks ...
        busy.window(t0, t1)                           # mean cores of other work in [t0, t1]
    busy.summary()                                    # stored as the run's "busyness" artifact

A sample reads the machine's CPU time (psutil.cpu_times: user, nice, system, irq, softirq,
steal; guest time is already inside user) and the CPU time of this process and all its
descendants (the ranks, also inside network namespaces: `ip netns exec` execs in place).
Other work = machine - ours - interrupts: on an emulated fabric the kernel's softirq time is
mostly our own TCP traffic, so it is not blamed on others (it is reported apart). Steal time
(a hypervisor running other guests) counts as other work.

One sample at the start (fingerprint.load) misses load that comes and goes, and "half the
cores" let one busy core of two pass as quiet; here the run is *busy* when other work kept at
least `fingerprint.busy_threshold(cores)` cores (0.5 on a small machine) busy on average over
any 5 s window, which is also when a warning goes to stderr (once per run).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time

from raxlab.measure.fingerprint import busy_threshold, usable_cores

PERIOD_S = 0.5
WINDOW_S = 5.0  # warn / call busy on the mean over this long: one slow sample is not load
MAX_STORED = 600  # samples kept in the artifact (thinned evenly beyond that)
SATURATED = 0.95  # the machine counts as saturated when >= 95 % of its cores are busy


def _machine_busy_s() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, interrupt seconds) since boot."""
    import psutil

    t = psutil.cpu_times()
    irq = getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)
    return t.user + t.nice + t.system + irq + getattr(t, "steal", 0.0), irq


class BusySampler:
    """A daemon thread that samples machine, own and other CPU use until `stop()`."""

    def __init__(self, *, period_s: float = PERIOD_S, label: str = "run", warn=None, cores: int | None = None):
        self.period_s, self.label = period_s, label
        self.cores = cores or os.cpu_count() or 1  # machine-wide CPU time spans every core
        self.usable = usable_cores()
        self.warn = warn if warn is not None else (lambda msg: print(f"rax: warning: {msg}", file=sys.stderr))
        self.samples: list[tuple[float, float, float, float, float]] = []  # t, machine, ours, others, irq (cores)
        self.warned = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cpu: dict[int, float] = {}

    # -- sampling ---------------------------------------------------------------------------
    def _ours_s(self) -> float:
        """CPU seconds used by this process tree since the last call (new processes from their start)."""
        import psutil

        me = psutil.Process()
        used, now = 0.0, {}
        for proc in [me, *me.children(recursive=True)]:
            try:
                t = proc.cpu_times()
                total = t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                continue
            now[proc.pid] = total
            used += total - self._cpu.get(proc.pid, 0.0 if self._cpu else total)
        self._cpu = now
        return max(used, 0.0)

    def _loop(self) -> None:
        last_t, (last_busy, last_irq) = time.perf_counter(), _machine_busy_s()
        self._ours_s()
        while not self._stop.wait(self.period_s):
            t, (busy, irq) = time.perf_counter(), _machine_busy_s()
            dt = max(t - last_t, 1e-6)
            machine, irq_c, ours = (busy - last_busy) / dt, (irq - last_irq) / dt, self._ours_s() / dt
            self.samples.append((t, machine, ours, max(machine - ours - irq_c, 0.0), irq_c))
            last_t, last_busy, last_irq = t, busy, irq
            self._maybe_warn(t)

    def _maybe_warn(self, now: float) -> None:
        if self.warned:
            return
        w = self.window(now - WINDOW_S, now)
        if w["samples"] >= int(WINDOW_S / self.period_s) - 1 and w["others_cores"] >= busy_threshold(self.usable):
            self.warned = True
            self.warn(f"other work is using {w['others_cores']:.2g} of {self.usable} cores during this {self.label} "
                      f"(this run: {w['ours_cores']:.2g}); its timings are disturbed and stored as busy")

    # -- results ----------------------------------------------------------------------------
    def window(self, t0: float, t1: float) -> dict:
        """Mean cores used by the machine, this run and other work between perf_counter t0 and t1."""
        rows = [s for s in self.samples if t0 <= s[0] <= t1]
        if not rows:
            return {"samples": 0, "machine_cores": None, "ours_cores": None, "others_cores": 0.0}
        mean = lambda i: sum(r[i] for r in rows) / len(rows)  # noqa: E731
        return {"samples": len(rows), "machine_cores": mean(1), "ours_cores": mean(2), "others_cores": mean(3)}

    def peak_others(self) -> float:
        """The highest mean of other work over any WINDOW_S window."""
        k = max(1, int(WINDOW_S / self.period_s))
        vals = [s[3] for s in self.samples]
        if len(vals) <= k:
            return sum(vals) / len(vals) if vals else 0.0
        run = sum(vals[:k])
        best = run
        for i in range(k, len(vals)):
            run += vals[i] - vals[i - k]
            best = max(best, run)
        return best / k

    def summary(self) -> dict:
        n = len(self.samples)
        mean = lambda i: sum(s[i] for s in self.samples) / n if n else None  # noqa: E731
        thin = self.samples[:: max(1, -(-n // MAX_STORED))]
        t0 = self.samples[0][0] if n else 0.0
        peak, limit = self.peak_others(), busy_threshold(self.usable)
        saturated = sum(s[1] >= SATURATED * self.usable for s in self.samples) / n if n else None
        return {"label": "measured", "period_s": self.period_s, "samples": n, "cores": self.usable,
                "machine_cores_mean": mean(1), "ours_cores_mean": mean(2), "others_cores_mean": mean(3),
                "irq_cores_mean": mean(4), "others_cores_peak_5s": peak, "busy_threshold_cores": limit,
                "busy": bool(n and peak >= limit), "saturated_share": saturated,
                "timeline": [[round(s[0] - t0, 2), round(s[1], 3), round(s[2], 3), round(s[3], 3)] for s in thin],
                "timeline_columns": ["t_s", "machine_cores", "ours_cores", "others_cores"],
                "method": "psutil CPU times every period: machine - this process tree - irq/softirq = other work"}

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> "BusySampler":
        self._thread = threading.Thread(target=self._loop, name="rax-busy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> dict:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2 * self.period_s + 1)
        return self.summary()

    def __enter__(self) -> "BusySampler":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def stretch(others_cores: float, demand_cores: float, cores: int) -> float:
    """How much other work slowed our CPU-bound ranks, by processor sharing: our `demand_cores`
    runnable threads and `others_cores` of other work share `cores`; alone we would get
    min(demand, cores) cores, with the others (demand + others) / cores per core wanted.
    An estimate (the others' demand may exceed what they got), floored at 1."""
    if demand_cores <= 0 or cores <= 0:
        return 1.0
    return max(1.0, (demand_cores + max(others_cores, 0.0)) / max(demand_cores, cores))


def describe(summary: dict) -> str | None:
    """One line for a report or a final message when the run was busy, else None."""
    if not summary or not summary.get("busy"):
        return None
    return (f"busy machine: other work used {summary['others_cores_mean']:.2g} cores on average (peak "
            f"{summary['others_cores_peak_5s']:.2g} over 5 s) of {summary['cores']}; timings are disturbed")


@contextlib.contextmanager
def recorded(db, run_id: str, label: str):
    """Sample through the block and store the summary as the run's "busyness" artifact, whatever happens."""
    sampler = BusySampler(label=label).start()
    try:
        yield sampler
    finally:
        db.put_artifact(run_id, "busyness", sampler.stop())


def warn_stored(store_path: str, run_id: str, *, link_bound: bool = False) -> None:
    """After a run: stderr lines when its stored busyness says the machine was busy, and, for a run
    that should be bound by an emulated link (`link_bound`), when the CPU was saturated instead."""
    from raxlab.store import Store

    summary = (Store(store_path).get_run(run_id)["artifacts"] or {}).get("busyness") or {}
    line = describe(summary)
    if line:
        print(f"rax: warning: {line} (stored with run {run_id})", file=sys.stderr)
    sat = summary.get("saturated_share")
    if link_bound and sat is not None and sat >= 0.5:
        print(f"rax: warning: the CPU was saturated (>= 95 % of {summary['cores']} cores busy) in {sat:.0%} of the "
              "run: the machine, not the emulated link, may set these figures", file=sys.stderr)
