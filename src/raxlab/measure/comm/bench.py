"""The rank-side sweep: every collective x dtype x size, timed like nccl-tests -I.

Per point (../shared/reference/measurement.md §1.2, §1.5):
- `warmup` untimed calls, then `iters` timed calls, each started from a barrier so a
  rank's time does not include its peers' earlier lateness;
- a call's time on a rank comes from the shared timer (`timing.make_timer`: CUDA events
  on GPUs, perf_counter on CPU); the iteration's time is the slowest rank's, taken with
  one all-reduce(MAX) of the per-rank times *after* the timed loop (nccl-tests -I:
  "each iteration's time is the max over the GPUs and processes");
- the reported time is the median of those (the project's convention, stats §6;
  nccl-tests prints the mean, which is kept in the stats as mean_us);
- correctness: fresh verifiable data, one more call, exact comparison, outside timing;
  the count of wrong elements is summed over ranks (the nccl-tests #wrong column).
Only out-of-place runs are timed: in-place moves the same bytes over the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.distributed as dist

from raxlab.measure.comm.collectives import COLLS, DTYPES, TYPE_NAMES, count_wrong, init_bufs
from raxlab.measure.comm.options import SweepOptions, format_size
from raxlab.measure.comm.rank import RankContext
from raxlab.measure.timing import make_timer
from raxlab.stats import summarize

Sink = Callable[[dict], None]


@dataclass(frozen=True)
class Point:
    collective: str
    dtype: str
    requested: int
    size_bytes: int  # S actually moved (rounded as nccl-tests does)

    @property
    def what(self) -> str:
        return f"{self.collective} {format_size(self.size_bytes)} {self.dtype}"


def plan(opts: SweepOptions, world: int) -> list[Point]:
    """All points of the sweep; sizes too small for the rank count, or repeated after
    rounding, are dropped (nccl-tests would run them with zero elements)."""
    out = []
    for name in opts.collectives:
        if name == "send_recv" and world < 2:
            continue  # needs a peer
        for dt in opts.dtypes:
            es = torch.empty((), dtype=DTYPES[dt]).element_size()
            seen: set[int] = set()
            for size in opts.sizes():
                actual = COLLS[name].size_bytes(size, es, world)
                if actual > 0 and actual not in seen:
                    seen.add(actual)
                    out.append(Point(name, dt, size, actual))
    return out


def _call(ctx: RankContext, fn: Callable[[], object]) -> None:
    ctx.progress.enter()
    fn()
    ctx.progress.done()


def _barrier(ctx: RankContext) -> None:
    if ctx.backend == "nccl":
        _call(ctx, lambda: dist.barrier(device_ids=[ctx.local_rank]))
    else:
        _call(ctx, dist.barrier)


def time_point(ctx: RankContext, point: Point, iters: int, warmup: int) -> list[float]:
    """Per-iteration seconds of the slowest rank (same list on every rank)."""
    coll = COLLS[point.collective]
    bufs = init_bufs(coll, point.requested, DTYPES[point.dtype], ctx.rank, ctx.world_size, ctx.device)
    timer = make_timer(ctx.device.type)
    run = lambda: coll.run(bufs)  # noqa: E731
    for _ in range(warmup):
        _call(ctx, run)
    mine = []
    for _ in range(iters):
        _barrier(ctx)
        ctx.progress.enter()
        mine.append(timer(run))
        ctx.progress.done()
    slowest = torch.tensor(mine, dtype=torch.float64, device=ctx.device)
    _call(ctx, lambda: dist.all_reduce(slowest, op=dist.ReduceOp.MAX))
    return slowest.tolist()


def check_point(ctx: RankContext, point: Point) -> int:
    """Wrong elements over all ranks for one call on fresh verifiable data."""
    coll = COLLS[point.collective]
    bufs = init_bufs(coll, point.requested, DTYPES[point.dtype], ctx.rank, ctx.world_size, ctx.device)
    _call(ctx, lambda: coll.run(bufs))
    if ctx.device.type == "cuda":
        torch.cuda.synchronize()
    wrong = torch.tensor([count_wrong(coll, bufs)], dtype=torch.int64, device=ctx.device)
    _call(ctx, lambda: dist.all_reduce(wrong))
    return int(wrong.item())


def make_row(point: Point, world: int, transport: str, samples: list[float], wrong: int | None,
             opts: SweepOptions) -> dict:
    """One result row: nccl-tests columns plus the statistics of the slowest-rank times."""
    coll, s = COLLS[point.collective], summarize(samples)
    es = torch.empty((), dtype=DTYPES[point.dtype]).element_size()
    algbw = point.size_bytes / s.median / 1e9  # GB/s = 1e9 B/s (nccl-tests)
    us = lambda v: v * 1e6  # noqa: E731
    return {
        "collective": point.collective, "size_bytes": point.size_bytes, "count": point.size_bytes // es,
        "dtype": point.dtype, "type": TYPE_NAMES[point.dtype], "ranks": world, "transport": transport,
        "requested_bytes": point.requested, "time_us": us(s.median), "algbw_GBps": algbw,
        "busbw_GBps": coll.busbw(algbw, world), "busbw_factor": coll.factor(world),
        "correct": None if wrong is None else wrong == 0, "wrong": wrong,
        "iters": opts.iters, "warmup": opts.warmup,
        "stats": {"median_us": us(s.median), "mean_us": us(s.mean), "min_us": us(s.min), "max_us": us(s.max),
                  "iqr_us": us(s.iqr), "p95_us": us(s.p95), "p99_us": us(s.p99), "cv": s.cv,
                  "rel_iqr": s.rel_iqr, "noisy": s.noisy, "outliers": s.outliers, "n": s.n},
    }


def run_sweep(ctx: RankContext, opts: SweepOptions, sink: Sink,
              after_first: Callable[[str], None] | None = None) -> int:
    """Measure every point; rank 0 sends a "begin" and a "row" event per point to `sink`.

    `after_first(collective)` runs on every rank after each collective's first point
    (transport verification); returns the number of points measured.
    """
    points = plan(opts, ctx.world_size)
    seen: set[str] = set()
    for k, point in enumerate(points):
        if ctx.is_root:
            sink({"ev": "begin", "what": point.what, "point": k, "of": len(points),
                  "collective": point.collective, "dtype": point.dtype, "size_bytes": point.size_bytes})
        samples = time_point(ctx, point, opts.iters, opts.warmup)
        wrong = check_point(ctx, point) if opts.check else None
        if after_first and point.collective not in seen:
            after_first(point.collective)
        seen.add(point.collective)
        if ctx.is_root:
            row = make_row(point, ctx.world_size, opts.transport, samples, wrong, opts)
            sink({"ev": "row", "row": row, "samples": samples})
    return len(points)
