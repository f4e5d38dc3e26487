"""The sequential design of an A/B run: how many rounds the budget allows, and when to look.

After the first round, its wall time fixes the most rounds that fit in what is left of
`--max-minutes` (at most `--reps`); looks come after `--min-reps` rounds and then every
~30 % more (few looks: each one spends a little alpha), the last at the most rounds.
The nominal level of each look is `equivalence.Spending`'s (measure/abtest_report).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class SequentialPlan:
    """The most rounds the budget allows (fixed after the first round) and the looks."""

    n_max: int
    looks: tuple[int, ...]
    round_s: float
    estimate_s: float  # wall time if no look decides: start-up and warm-up so far + n_max rounds
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


LOOK_GROWTH = 1.3  # each look after ~30 % more rounds: few looks, little alpha spent in between


def plan_rounds(ab, round_s: float, elapsed_s: float) -> SequentialPlan:
    """Fix the most rounds from the first round's pace and the budget left; schedule the looks."""
    left = ab.max_minutes * 60 - elapsed_s
    fit = 1 + int(max(left, 0.0) / max(round_s, 1e-3))
    n_max = max(2, min(ab.reps, fit))
    notes = [] if fit >= ab.min_reps else [
        f"the budget (--max-minutes {ab.max_minutes:g}) allows only {fit} rounds at {round_s:.3g} s each, fewer "
        f"than --min-reps {ab.min_reps}: expect an inconclusive result"]
    looks, n = [], min(ab.min_reps, n_max)
    while n < n_max:
        looks.append(n)
        n = max(n + 2, math.ceil(n * LOOK_GROWTH))
    looks.append(n_max)
    return SequentialPlan(n_max, tuple(looks), round_s, elapsed_s + (n_max - 1) * round_s, notes)
