"""From a workload reference (preset or spec file) and stored runs to a plan: what `rax plan` calls.

Target overrides (`KEY=VALUE`, keys of the spec's `targets` block) are validated by the same
schema as the spec file, so a typo is a one-line error naming `targets.KEY`.
"""

from __future__ import annotations

from raxlab.errors import RaxError
from raxlab.plan.measured import load_measured
from raxlab.plan.planner import PlanOptions, make_plan


def with_targets(spec, overrides: list[str] | None):
    """`spec` with targets replaced by KEY=VALUE strings (KEY=none removes one), validated like the spec file."""
    if not overrides:
        return spec
    from raxlab.workload.spec import parse_spec

    targets = spec.targets.model_dump(exclude_none=True)
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise RaxError(f"expected KEY=VALUE, got {item!r}", field="--target")
        if value.strip().lower() == "none":  # KEY=none removes a target of the spec
            targets.pop(key, None)
            continue
        try:
            targets[key] = float(value)
        except ValueError:
            raise RaxError(f"not a number: {value!r}", field=f"targets.{key}") from None
    data = spec.model_dump(mode="json", exclude={"base_dir"})
    data["targets"] = targets
    return parse_spec(data, base_dir=spec.base_dir, where="--target")


def _card(wl, measured, ref: str, trust_code: bool):
    from raxlab.workload import build_card
    from raxlab.workload.card import WorkloadCard
    from raxlab.workload.cardcache import card_for

    if measured.card:
        try:
            return WorkloadCard.from_dict(measured.card)
        except RaxError:
            measured.notes.append("the stored card is from another card schema: rebuilt from the workload")
    return card_for(ref, trust_code=trust_code, build=lambda: build_card(wl))[0]  # traced once per content


def with_candidates(options: PlanOptions, spec, cat) -> PlanOptions:
    """The spec's `candidates` block fills what the command line left open (flags win)."""
    import dataclasses

    from raxlab.errors import unknown_name

    cand = spec.candidates
    if cand is None:
        return options
    space, changes = options.space, {}
    for kind, field in (("accelerator", "accelerators"), ("server", "servers"), ("fabric", "fabrics")):
        wanted = getattr(cand, field)
        if wanted is None or getattr(space, field) is not None:
            continue
        for name in wanted:
            if name not in cat.names(kind):
                raise unknown_name(kind, name, cat.names(kind), field=f"candidates.{field}")
        changes[field] = tuple(wanted)
    if cand.max_nodes is not None and space.max_nodes == type(space)().max_nodes:
        changes["max_nodes"] = cand.max_nodes
    return dataclasses.replace(options, space=dataclasses.replace(space, **changes))


def plan_workload(ref: str, cat, *, runs=(), store=None, targets: list[str] | None = None,
                  measured_fabric: str | None = None, measured_rails: int | None = None,
                  options: PlanOptions | None = None, trust_code: bool = False) -> dict:
    """Load the workload, its card and the measurements of `runs`, and make the plan."""
    from raxlab.workload import load_workload

    from raxlab.plan.objective import objective_from_spec
    from raxlab.plan.space import check_options

    wl = load_workload(ref, trust_code=trust_code)
    spec = with_targets(wl.spec, targets)
    objective_from_spec(spec, wl.tokens_per_sample)  # bad targets and names fail before the card is traced
    options = with_candidates(options or PlanOptions(), spec, cat)
    check_options(cat, options.space)
    db = None
    if runs:
        from raxlab.store import Store

        db = store if hasattr(store, "get_run") else Store(store, readonly=True)
    measured = load_measured(db, runs, cat, wl.name, fabric=measured_fabric, rails=measured_rails)
    card = _card(wl, measured, ref, trust_code)  # a compute run calibrates with the card it stored alongside its points
    plan = make_plan(spec, card, cat, workload_ref=ref, measured=measured, options=options)
    plan["launch"] = _launch(plan, card, spec, cat)
    if spec.candidates is not None:
        c = spec.candidates
        limits = "; ".join(f"{k}: {', '.join(v)}" for k, v in
                           (("accelerators", c.accelerators), ("servers", c.servers), ("fabrics", c.fabrics)) if v)
        plan.setdefault("assumptions", []).append(
            f"candidates limited by the workload spec ({limits or 'node count'})" + (f": {c.reason}" if c.reason else ""))
    return plan


def _launch(plan: dict, card, spec, cat) -> dict:
    """The recommendation as launch settings (plan/launch_target.py): what `--artefacts DIR` writes out."""
    from raxlab.plan.launch_target import from_plan
    from raxlab.predict.shape import shape_from_card

    return from_plan(plan, shape_from_card(card, seq=spec.seq_len), cat, getattr(card, "moe", None))
