"""The parent side of an expert-parallel `rax bench ddp` run: its rounds as stored points and figures.

Each measured round of an EP run (moe_train) carries, besides the step times, per step kind
(`sync`, `nosync`): the seconds inside the all-to-all calls of the rank whose step was slowest
(`a2a_sync_s`: the exchanges themselves), their mean over ranks, that rank's seconds inside the
calls waiting for the last peer to arrive (`a2a_sync_wait_s`, moe_train), the bytes all ranks sent and the part bound for
other ranks, the calls; and the token copies each expert received in the synced step, per MoE block,
summed over the ranks (`tokens_per_expert`). Stored as points of the run (kind "ddp"):

  "ep all-to-all (synced step)"    samples: a2a seconds per round; result: their summary, bytes
  "ep all-to-all (no_sync step)"   the same in the step without gradient communication
  "ep tokens per expert"           samples: the round's load imbalance (max / mean tokens per
                                   expert, the worst block); result: tokens per expert per round

and the figures of the "ddp" artifact (`derive`), which refine the DDP split: with all-to-all in
both step kinds, compute = median over rounds of (no_sync step - its all-to-all), exposed all-to-all
= median all-to-all seconds of the synced step, exposed gradient sync = median(synced) -
median(no_sync), exposed communication = median(synced) - compute. The waits for a later peer
stay in compute (they are the peers' compute, or other work on the host) and are shown on their
own (`ep_wait_s`).
"""

from __future__ import annotations

import statistics

KINDS = ("sync", "nosync")
POINT_NAMES = {"sync": "ep all-to-all (synced step)", "nosync": "ep all-to-all (no_sync step)"}
TOKENS_POINT = "ep tokens per expert"
SPLIT_METHOD = ("expert parallel: each round times a synced step and a no_sync step (no gradient communication; "
                "the all-to-alls stay); all-to-all seconds = the dispatch/combine calls (and their backward and "
                "count exchange) on the rank whose step was slowest, each from the last peer's entry to its exit "
                "(waiting for a later peer stays in compute); compute = median(no_sync - its all-to-all), exposed "
                "all-to-all = median(all-to-all of the synced step), exposed gradient sync = median(synced) - "
                "median(no_sync), exposed communication = median(synced) - compute")


def is_ep_round(ev: dict) -> bool:
    return ev.get("a2a_sync_s") is not None


def round_record(ev: dict) -> dict:
    """The EP fields of one round event."""
    return {k: v for k, v in ev.items() if k.startswith("a2a_") or k == "tokens_per_expert"} | \
        {"sync_s": ev.get("sync_s"), "nosync_s": ev.get("nosync_s")}


def imbalance(tokens: list[list[int]]) -> float | None:
    """max / mean token copies per expert, the worst MoE block (1 = perfectly balanced)."""
    worst = None
    for block in tokens or []:
        mean = sum(block) / len(block) if block else 0
        if mean > 0:
            worst = max(worst or 0.0, max(block) / mean)
    return worst


def store_points(store, run_id: str, kind: str, rounds: list[dict], status: str = "ok",
                 error: str | None = None) -> None:
    from raxlab.stats import summarize

    for step, name in POINT_NAMES.items():
        got = [r[f"a2a_{step}_s"] for r in rounds if r.get(f"a2a_{step}_s") is not None]
        if not got and status == "ok":
            continue
        result = {"summary": summarize(got).to_dict() if got else None,
                  "bytes_per_step": _median(r.get(f"a2a_{step}_bytes") for r in rounds),
                  "bytes_off_rank_per_step": _median(r.get(f"a2a_{step}_bytes_off_rank") for r in rounds),
                  "calls_per_step": _median(r.get(f"a2a_{step}_calls") for r in rounds),
                  "wait_for_peers_s": [r.get(f"a2a_{step}_wait_s") for r in rounds],
                  "in_calls_s": [r.get(f"a2a_{step}_in_calls_s") for r in rounds],
                  "mean_over_ranks_s": [r.get(f"a2a_{step}_mean_s") for r in rounds]}
        store.add_point(run_id, kind, name, status, samples=got, params={"rounds": len(got)}, result=result,
                        error=error)
    tokens = [r.get("tokens_per_expert") for r in rounds if r.get("tokens_per_expert")]
    if tokens or status != "ok":
        store.add_point(run_id, kind, TOKENS_POINT, status, samples=[imbalance(t) for t in tokens],
                        params={"rounds": len(tokens), "basis": "synced step, all ranks, per MoE block"},
                        result={"tokens_per_expert": tokens}, error=error)


def _median(values) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def derive(rounds: list[dict], setup: dict) -> dict:
    """The EP figures of the "ddp" artifact (module docstring); {} for a run without EP rounds."""
    from raxlab.stats import ratio_of_medians_ci, summarize

    sync = [r["sync_s"] for r in rounds if r.get("sync_s") is not None]
    if not rounds or not sync:
        return {}
    step = statistics.median(sync)
    out = {"ep": setup.get("ep"), "exposed_a2a_s": _median(r.get("a2a_sync_s") for r in rounds),
           "a2a_mean_over_ranks_s": _median(r.get("a2a_sync_mean_s") for r in rounds),
           "a2a_bytes_per_step": _median(r.get("a2a_sync_bytes") for r in rounds),
           "a2a_bytes_off_rank_per_step": _median(r.get("a2a_sync_bytes_off_rank") for r in rounds),
           "a2a_calls_per_step": _median(r.get("a2a_sync_calls") for r in rounds),
           "ep_wait_s": _median(r.get("a2a_sync_wait_s") for r in rounds)}
    out["exposed_a2a_share"] = out["exposed_a2a_s"] / step if out["exposed_a2a_s"] is not None else None
    imb = [imbalance(r.get("tokens_per_expert")) for r in rounds]
    imb = [v for v in imb if v is not None]
    out["load_imbalance"] = summarize(imb).to_dict() if imb else None
    comp = [r["nosync_s"] - r["a2a_nosync_s"] for r in rounds
            if r.get("nosync_s") is not None and r.get("a2a_nosync_s") is not None]
    nosync = [r["nosync_s"] for r in rounds if r.get("nosync_s") is not None]
    if comp and len(sync) >= 2:
        compute = statistics.median(comp)
        out.update(compute_s=compute, exposed_comm_s=step - compute, exposed_comm_share=1 - compute / step,
                   exposed_grad_sync_s=step - statistics.median(nosync), split_method=SPLIT_METHOD)
        _, lo, hi = ratio_of_medians_ci(sync, comp)
        out["exposed_comm_share_ci"] = [1 - 1 / lo, 1 - 1 / hi]
    return out
