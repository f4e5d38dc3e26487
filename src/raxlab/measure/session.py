"""A measurement session: one stored run, its fingerprint, and points saved as they finish.

Every benchmark command runs inside `Session`: the run row is created first, the
host fingerprint attached, each point is measured in an isolated child and written
to the store in its own transaction before the next starts. Ctrl-C or SIGTERM marks
the run `interrupted` (every finished point stays); an unexpected error marks it
`failed`. A progress bar shows long sweeps.
"""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

from raxlab.measure.isolate import Outcome, run_isolated
from raxlab.store import Store


@dataclass
class Job:
    """One point to measure: `fn(*args)` runs in a child within `timeout_s`."""

    kind: str
    name: str
    fn: Callable
    args: tuple = ()
    params: dict = field(default_factory=dict)
    timeout_s: float = 600.0


class Session:
    def __init__(self, kind: str, *, store: Store | str | None = None, workload: str | None = None,
                 spec: Any = None, params: Any = None, total: int | None = None,
                 quiet: bool = False, run_id: str | None = None):
        self.store = store if isinstance(store, Store) else Store(store)
        self.kind, self.workload, self.spec, self.params = kind, workload, spec, params
        self.total, self.quiet, self.resume_id = total, quiet or not sys.stderr.isatty(), run_id
        self.outcomes: list[tuple[Job, Outcome]] = []
        self.quiet_warnings = quiet

    def __enter__(self) -> "Session":
        from raxlab.measure.fingerprint import fingerprint

        if self.resume_id:
            self.run_id = self.store.resolve(self.resume_id)
            self.store.reopen_run(self.run_id)
        else:
            self.run_id = self.store.new_run(self.kind, workload=self.workload, spec=self.spec, params=self.params)
        fp = fingerprint()
        self.store.add_fingerprint(self.run_id, fp)
        if fp["load"].get("busy") and not self.quiet_warnings:
            ld = fp["load"]
            now = f"{ld['cores_in_use']} of {ld['cores']} cores in use by other work" \
                if ld.get("cores_in_use") is not None else f"load {ld['avg_1m']} on {ld['cores']} cores"
            print(f"rax: warning: the machine is busy ({now}); timings will be noisier than on a quiet machine",
                  file=sys.stderr)
        self._old_term = signal.signal(signal.SIGTERM, _raise_interrupt)
        self._progress = None if self.quiet else _make_progress(self.kind, self.total)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        signal.signal(signal.SIGTERM, self._old_term)
        if self._progress:
            self._progress[0].stop()
        status = "complete" if exc_type is None else (
            "interrupted" if issubclass(exc_type, KeyboardInterrupt) else "failed")
        self.store.finish_run(self.run_id, status, summary=self.summary())
        return False

    def run(self, job: Job, post: Callable[[Outcome], Outcome] | None = None) -> Outcome:
        """Measure one point in a child process and store it before returning.

        `post` may derive fields or re-classify the outcome (e.g. a diverged loss)
        before it is written."""
        self._describe(job.name)
        out = run_isolated(job.fn, *job.args, timeout_s=job.timeout_s)
        if post is not None:
            out = post(out)
        self.record(job, out)
        return out

    def record(self, job: Job, out: Outcome) -> None:
        value = dict(out.value) if isinstance(out.value, dict) else out.value
        samples = value.pop("samples_s", None) if isinstance(value, dict) else None
        params = {**job.params, "timeout_s": job.timeout_s, "wall_s": round(out.wall_s, 3)}
        out.point_id = self.store.add_point(self.run_id, job.kind, job.name, out.status, params=params,
                                            result=value, samples=samples, error=out.error)
        self.outcomes.append((job, out))
        self._advance()

    def mark(self, out: Outcome, status: str, error: str) -> None:
        """Re-classify a recorded point (e.g. `inconsistent` after a later check), store and summary alike."""
        self.store.mark_point(out.point_id, status, error)
        out.status, out.error = status, error

    def skip(self, job: Job, reason: str) -> None:
        """Record a point deliberately not run (e.g. a larger size after a too-slow one)."""
        self.record(job, Outcome("skipped", None, reason))

    def summary(self) -> dict:
        counts: dict[str, int] = {}
        for _, out in self.outcomes:
            counts[out.status] = counts.get(out.status, 0) + 1
        return {"points": len(self.outcomes), "by_status": counts}

    def _describe(self, name: str) -> None:
        if self._progress:
            bar, task = self._progress
            bar.update(task, description=f"{self.kind}: {name}")

    def _advance(self) -> None:
        if self._progress:
            bar, task = self._progress
            bar.advance(task)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _make_progress(kind: str, total: int | None):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from raxlab.textsafe import safe_console

    # markup off: a point name is text ("[/x]" in a workload name must not raise MarkupError)
    bar = Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), transient=False, console=safe_console())
    task = bar.add_task(kind, total=total)
    bar.start()
    return bar, task
