"""Shared timing core: every measurement goes through `measure(spec, policy)`.

Method (../shared/reference/measurement.md §4.3, §6):
- warm up until two consecutive samples agree within 10 % (or a cap), so lazy
  initialisation, allocator growth and autotuning stay out of the samples;
- calibrate `inner` (ops per sample) so one sample lasts >= `min_sample_s`, as
  pytest-benchmark and torch.utils.benchmark do, so timer overhead stays small;
- repeat until IQR/median < `target_rel_iqr` (torch's 10 % threshold) after
  `min_reps`, or until the rep or time cap;
- CPU: `perf_counter_ns`; CUDA: events around the body, then synchronise
  (host timers on async kernels are wrong, per the PyTorch CUDA notes).
Raw samples are kept; statistics are derived from them (`raxlab.stats`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from raxlab.stats import Summary, summarize


@dataclass
class Spec:
    """One measured operation: `setup()` builds state, `run(state)` is the timed body."""

    name: str
    run: Callable[[Any], Any]
    setup: Callable[[], Any] = lambda: None
    bytes_per_op: float | None = None  # bytes moved per run(), for bandwidth
    flops_per_op: float | None = None  # FLOPs per run(), for FLOP/s
    device: str = "cpu"  # "cuda..." switches to CUDA-event timing
    calibrate: bool = True  # False: one op per sample (e.g. a whole training step)


@dataclass
class Policy:
    min_reps: int = 5
    max_reps: int = 200
    max_seconds: float = 10.0
    target_rel_iqr: float = 0.10
    warmup_min: int = 1
    warmup_max: int = 20
    warmup_seconds: float = 3.0
    min_sample_s: float = 1e-3


@dataclass
class Result:
    name: str
    samples_s: list[float]
    summary: Summary
    inner: int
    warmup_s: list[float]
    stop_reason: str
    bytes_per_op: float | None = None
    flops_per_op: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def bandwidth_Bps(self) -> float | None:
        return self.bytes_per_op / self.summary.median if self.bytes_per_op else None

    @property
    def flop_rate(self) -> float | None:
        return self.flops_per_op / self.summary.median if self.flops_per_op else None

    def to_dict(self) -> dict:
        return {
            "name": self.name, "summary": self.summary.to_dict(), "inner": self.inner,
            "n_warmup": len(self.warmup_s), "stop_reason": self.stop_reason,
            "bytes_per_op": self.bytes_per_op, "flops_per_op": self.flops_per_op,
            "bandwidth_Bps": self.bandwidth_Bps, "flop_rate": self.flop_rate, **self.extra,
        }


def make_timer(device: str) -> Callable[[Callable[[], Any]], float]:
    """A function timing one call of `body` in seconds on `device`."""
    if device.startswith("cuda"):
        import torch

        dev = torch.device(device)

        def cuda_time(body):
            # The events go on the current stream *of the timed device*: a bare record() uses the
            # current device's, which for "cuda:1" timed from a process on cuda:0 is the wrong GPU.
            stream = torch.cuda.current_stream(dev)
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record(stream)
            body()
            end.record(torch.cuda.current_stream(dev))
            end.synchronize()
            return start.elapsed_time(end) / 1e3  # ms -> s

        return cuda_time

    def cpu_time(body):
        t0 = time.perf_counter_ns()
        body()
        return (time.perf_counter_ns() - t0) / 1e9

    return cpu_time


def _warmup(one: Callable[[], float], p: Policy) -> list[float]:
    times: list[float] = []
    t_end = time.perf_counter() + p.warmup_seconds
    while len(times) < p.warmup_max:
        times.append(one())
        steady = len(times) >= 2 and abs(times[-1] - times[-2]) <= 0.10 * times[-2]
        if len(times) >= p.warmup_min and (steady or time.perf_counter() > t_end):
            break
    return times


def _calibrate(spec: Spec, state: Any, timer, p: Policy, last: float) -> int:
    """Ops per sample so a sample lasts at least `min_sample_s` (x10 steps, then estimate)."""
    if not spec.calibrate or last >= p.min_sample_s:
        return 1
    inner = 1
    while inner < 1_000_000:
        inner *= 10
        t = timer(lambda: _repeat(spec.run, state, inner))
        if t >= p.min_sample_s:
            return max(1, int(inner * p.min_sample_s / t) + 1)
    return inner


def _repeat(fn, state, n: int) -> None:
    for _ in range(n):
        fn(state)


def measure(spec: Spec, policy: Policy | None = None) -> Result:
    """Time `spec` with warm-up and adaptive repetition; returns raw samples + summary."""
    p = policy or Policy()
    state = spec.setup()
    timer = make_timer(spec.device)
    warm = _warmup(lambda: timer(lambda: spec.run(state)), p)
    inner = _calibrate(spec, state, timer, p, warm[-1])
    samples: list[float] = []
    t_end = time.perf_counter() + p.max_seconds
    reason = "rep_cap"
    while len(samples) < p.max_reps:
        samples.append(timer(lambda: _repeat(spec.run, state, inner)) / inner)
        if len(samples) >= p.min_reps:
            if summarize(samples).rel_iqr < p.target_rel_iqr:
                reason = "converged"
                break
            if time.perf_counter() > t_end:
                reason = "time_cap"
                break
    return Result(spec.name, samples, summarize(samples), inner, warm, reason,
                  spec.bytes_per_op, spec.flops_per_op)
