"""Step times that contradict their neighbours in batch size: found, so they can be re-measured.

A step's time is a fixed part plus a part that grows with the batch (the roofline of
predict/compute.py: t(b) = a + c*b with a, c >= 0). Between two batch sizes b < b' of one
(mode, precision) series that gives two bounds, whatever the machine:

  more work is not faster        t(b') >= t(b)
  per-sample time does not jump  t(b')/b' <= t(b)/b * GROWTH

GROWTH leaves room for what caches and memory do to a larger batch: on the 2-core CI host the
small CNN's per-sample time grows 8.6 % from batch 16 to 32 (issue 20 notes); 1.5 per pair of
neighbouring sizes is far above any such effect. Both bounds are widened by the two points' own
spread (relative IQR), at least MIN_TOL, so ordinary noise on a busy machine never trips them.
A point timed while another job held the cores breaks them by a factor: issue 20's 600 ms at
batch 2 between 12.5 ms at batch 1 and 42.5 ms at batch 4.

When a series breaks a bound, the points kept are the largest set that holds every bound; among
equally large sets the faster one (other work on a machine only ever adds time), so two slow
points in a row are blamed rather than the two good ones around them. Pure functions;
`compute.sweep` re-measures what is found.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GROWTH = 1.5
MIN_TOL = 0.25  # 25 %: medians of one point drift this much between runs on the shared CI host
MAX_TOL = 1.0  # a point's own noise widens its bounds at most 2x: a wild point cannot excuse itself
NOISE_K = 2.0  # tolerance = NOISE_K x (sum of the two relative IQRs), within [MIN_TOL, MAX_TOL]


@dataclass(frozen=True)
class Step:
    """One measured point of a series: batch size, median step seconds, relative IQR."""

    batch: int
    median_s: float
    rel_iqr: float = 0.0


@dataclass(frozen=True)
class Finding:
    batch: int
    excess: float  # factor by which the point lies outside the bound it breaks most (> 1)
    reason: str
    against: tuple[int, ...] = ()  # batch sizes of the kept neighbours whose bounds it breaks


def _tol(a: Step, b: Step) -> float:
    spread = NOISE_K * ((a.rel_iqr or 0.0) + (b.rel_iqr or 0.0))
    return min(MAX_TOL, max(MIN_TOL, spread))


def pair_excess(lo: Step, hi: Step) -> tuple[float, str | None]:
    """(factor outside the bounds, why) for batch lo.batch < hi.batch; (1.0, None) when consistent."""
    tol = 1.0 + _tol(lo, hi)
    faster = lo.median_s / (hi.median_s * tol)
    ceiling = lo.median_s * (hi.batch / lo.batch) * GROWTH * tol
    slower = hi.median_s / ceiling
    ms = lambda s: f"{s * 1e3:.4g} ms"  # noqa: E731
    if faster > 1.0:
        return faster, (f"batch {hi.batch} took {ms(hi.median_s)}, less than batch {lo.batch}'s "
                        f"{ms(lo.median_s)}: more work cannot be faster")
    if slower > 1.0:
        per = (hi.median_s / hi.batch) / (lo.median_s / lo.batch)
        return slower, (f"batch {hi.batch} took {ms(hi.median_s)}: {per:.2g}x batch {lo.batch}'s per-sample time "
                        f"({ms(lo.median_s)} at batch {lo.batch}); per-sample time does not grow that fast")
    return 1.0, None


def find_inconsistent(steps: list[Step]) -> list[Finding]:
    """Points of one series that contradict the others (empty for a consistent series).

    Kept: the largest set of points whose neighbouring pairs all hold the bounds (a longest
    path through the pairs that agree, O(n^2)); among equally large sets, the one with the
    lower times, because another job on the machine only ever adds time. Every other point
    is a finding, with the bound it breaks against its nearest kept neighbours."""
    pts = sorted((s for s in steps if s.median_s > 0 and math.isfinite(s.median_s)), key=lambda s: s.batch)
    if len(pts) < 2:
        return []
    kept = _largest_consistent(pts)
    found = []
    for i, p in enumerate(pts):
        if i in kept:
            continue
        below = [pts[k] for k in kept if k < i][-1:]
        above = [pts[k] for k in kept if k > i][:1]
        checks = [(b.batch, *pair_excess(b, p)) for b in below] + [(a.batch, *pair_excess(p, a)) for a in above]
        broken = [(e, w, b) for b, e, w in checks if w]
        excess, why, _ = max(broken, default=(1.0, "contradicts the other points", 0))
        found.append(Finding(p.batch, excess, why, tuple(b for _, _, b in broken)))
    return found


def agree(a: Step, b: Step) -> bool:
    """Two measurements of the same point that agree within the noise tolerance (a reproduction)."""
    return max(a.median_s, b.median_s) <= min(a.median_s, b.median_s) * (1.0 + _tol(a, b))


def _largest_consistent(pts: list[Step]) -> list[int]:
    """Indices of the kept points: best[j] = (count, -sum of log times) of the best chain ending at j."""
    best = [(1, -math.log(p.median_s)) for p in pts]
    prev: list[int | None] = [None] * len(pts)
    for j in range(len(pts)):
        for i in range(j):
            if pair_excess(pts[i], pts[j])[1] is None:
                cand = (best[i][0] + 1, best[i][1] - math.log(pts[j].median_s))
                if cand > best[j]:
                    best[j], prev[j] = cand, i
    j: int | None = max(range(len(pts)), key=lambda k: best[k])
    chain = []
    while j is not None:
        chain.append(j)
        j = prev[j]
    return chain[::-1]
