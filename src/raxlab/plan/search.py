"""Best parallel layout for every hardware option, vectorised over the whole space.

A hardware option is a base (accelerator, server, precision) × node count × variant (fabric,
rails). Its layouts (TP within the node, PP, DP, ZeRO stage 0/1/3, micro-batch, recompute
none/selective/full; `predict.vectorized.candidate_grid`) are searched, not assumed. Two
stages keep the work linear in the space instead of in its product:

A. every possible layout of each (base, node count) group is evaluated on the group's fastest
   and slowest variants (its best- and worst-connected fabric and rails): memory fit and layout
   problems do not depend on the fabric, so this stage also records every pruning reason;
B. the layouts that could win anywhere — the overall best few, and the best of each pipeline
   depth, tensor-parallel width and ZeRO stage on either reference (the axes a slower network
   shifts the optimum along: more pipeline and less data-parallel traffic) — are re-evaluated on
   every variant, and each option keeps its fastest. Variants with the same scale-out bandwidth
   and latency (roce-200 x 4 rails, roce-800 x 1) project identically and are evaluated once.

All evaluations of a stage go through one `evaluate_training` call with per-row hardware
(`hardware.stack_hardware` / `take`), so Python cost is per group, not per candidate.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field, fields

import numpy as np

from raxlab.predict.hardware import stack_hardware, take
from raxlab.predict.layout import PROBLEMS, LayoutArrays, layout_problems, make_arrays
from raxlab.predict.vectorized import context_options, evaluate_training, expert_options

# Layouts within 0.1 % of each other are not worth the complexity: the simpler one is kept
# (no ZeRO, no recompute, no pipeline, less tensor parallelism). Reported times are unpenalised.
SIMPLER = 1e-3
TOP_K = 3
BEATEN_MARGIN = 0.02  # overall best layouts carried to stage B, besides the best per pp / tp / ZeRO stage
COMM = ("tp_comm", "pp_p2p", "dp_comm", "fsdp_comm", "ep_all_to_all", "etp_comm", "expert_dp_comm", "cp_comm")
# the terms a scale-out fabric can change (EP all-to-all and CP only once their groups leave the node)
NET_COMM = ("pp_p2p", "dp_comm", "fsdp_comm", "ep_all_to_all", "expert_dp_comm", "cp_comm")
LAYOUT_COLS = ("tp", "pp", "dp", "mb", "zero", "recompute", "sp", "vpp", "ep", "etp", "cp")



@dataclass
class Model:
    """What the search needs of the workload: the projection model and the batch."""

    core: object  # TransformerShape or CardNums
    transformer: bool
    global_batch: int
    micro_batches: tuple[int, ...]
    heads: int | None = None
    kv_heads: int | None = None
    layers: int | None = None
    seq: int | None = None  # tokens per sample (None: not a language model)
    w_bytes: float = 2.0  # weight bytes (fp8 recipes keep 16-bit weights; fp32/tf32 4)
    lora_rank: int = 0  # LoRA fine-tuning: adapters of this rank, base frozen (0: all weights trained)
    experts: int | None = None  # routed experts per MoE block (None: dense)


@dataclass
class SearchResult:
    """One row per hardware option (numpy columns); `ok` False where no layout can run."""

    cols: dict[str, np.ndarray]
    variants: list  # flat list of space.Variant, indexed by cols['variant']
    pruned_layouts: Counter = field(default_factory=Counter)
    no_layout: int = 0
    evaluated: int = 0
    space_size: int = 0
    stages: dict = field(default_factory=dict)  # rows evaluated per stage (A0, A1, B)

    def __len__(self) -> int:
        return len(self.cols["base"])


def _layout_grid(model: Model, gpus: int, g: int, cache: dict) -> tuple[LayoutArrays, Counter]:
    """Possible layouts for `gpus` GPUs, `g` per node, and the count of impossible ones by reason."""
    key = (gpus, g)
    if key not in cache:
        la = layout_grid(gpus, g, model.global_batch, model.micro_batches, model.transformer)
        la.lora = np.full(len(la), float(model.lora_rank))
        code = layout_problems(la, gpus, g, heads=model.heads, layers=model.layers, transformer=model.transformer)
        kv_bad = (code == 0) & _kv_problem(la, model.kv_heads)
        why = Counter({f"layout: {PROBLEMS[c]}": int(n) for c, n in zip(*np.unique(code[code > 0], return_counts=True))})
        if kv_bad.any():
            why["layout: kv_heads cannot be split over tp"] = int(kv_bad.sum())
        keep = (code == 0) & ~kv_bad
        cache[key] = (_subset(la, np.nonzero(keep)[0]), why)
    return cache[key]


def _divisors(n: int, cap: int) -> list[int]:
    return [d for d in range(1, min(n, cap) + 1) if n % d == 0]


def layout_grid(gpus: int, g: int, global_batch: int, micro_batches, transformer: bool = True,
                experts: int | None = None, seq: int | None = None) -> LayoutArrays:
    """The layouts of `predict.vectorized.candidate_grid` (TP <= a node, PP <= 64, micro-batch,
    recompute none/selective/full, ZeRO 0/1/3, sequence parallel on), built with numpy; for a MoE
    model also EP with expert TP 1 or = TP, for long sequences also CP (`vectorized.expert_options`,
    `vectorized.context_options`). Impossible combinations are flagged by `layout_problems`."""
    tps = _divisors(gpus, g) if transformer else [1]
    quads = [(tp, pp, cp, ep, etp) for tp in tps for cp in context_options(gpus, seq, transformer)
             if (gpus // tp) % cp == 0
             for pp in (_divisors(gpus // (tp * cp), 64) if transformer else [1])
             for ep, etp in expert_options(experts, tp)]
    pairs = np.array(quads, float)
    rest = np.array(list(itertools.product(micro_batches, (0, 1, 2), (0, 1, 3))), float)
    tp, pp, cp, ep, etp = (np.repeat(pairs[:, i], len(rest)) for i in range(5))
    mb, rc, zero = (np.tile(rest[:, i], len(pairs)) for i in (0, 1, 2))
    # attn 3: the generation's native fused attention kernel (cuDNN / FlashAttention-3 class on
    # Hopper and Blackwell as Transformer Engine uses it; FlashAttention-2 on Ampere)
    return make_arrays(tp=tp, pp=pp, dp=gpus / (tp * pp * cp), mb=mb, gb=global_batch, recompute=rc, zero=zero,
                       vpp=1, sp=1, attn=3, ep=ep, etp=etp, cp=cp)



def _kv_problem(la: LayoutArrays, kv: int | None) -> np.ndarray:
    """check_layout's KV-head rule, which the vectorised problem codes leave out."""
    if not kv:
        return np.zeros(len(la), bool)
    return (la.tp > kv) & (np.mod(la.tp, kv) != 0)


def _subset(la: LayoutArrays, idx) -> LayoutArrays:
    return LayoutArrays(**{f.name: np.asarray(getattr(la, f.name))[idx] for f in fields(LayoutArrays)})


def _concat(parts: list[LayoutArrays]) -> LayoutArrays:
    return LayoutArrays(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(LayoutArrays)})


@dataclass
class _Group:
    base: int
    nodes: int
    gpus: int
    layouts: LayoutArrays
    variants: list[int]  # flat variant indices
    refs: list[int]  # the fastest and the slowest variant (stage A)


def _groups(space, model: Model, precision: str, index: dict, res: SearchResult, cache: dict) -> list[_Group]:
    out = []
    for bi, base in enumerate(space.bases):
        if base.precision != precision:
            continue
        for nodes in space.nodes:
            vs = [index[id(v)] for v in space.variants_for(base, nodes)]
            if not vs:
                continue
            la, why = _layout_grid(model, nodes * base.g, base.g, cache)
            res.space_size += (len(la) + sum(why.values())) * len(vs)
            for k, n in why.items():
                res.pruned_layouts[k] += n * len(vs)
            if len(la) == 0:
                res.no_layout += len(vs)
                continue
            bw = sorted(vs, key=lambda i: _node_bw(res.variants[i]))
            out.append(_Group(bi, nodes, nodes * base.g, la, vs, list(dict.fromkeys([bw[-1], bw[0]]))))
    return out


def _node_bw(v) -> float:
    """Achievable scale-out bandwidth of one node on this variant (0 for a single node)."""
    if v.fabric is None:
        return 0.0
    eff = v.measured.efficiency if v.measured is not None else v.hw.fabric_eff
    return v.rails * v.hw.rail_bw * eff


def _evaluate(model: Model, space, flat, la: LayoutArrays, base_idx, var_idx, gpus, hc_cache: dict) -> dict:
    """One vectorised evaluation; row i runs on base `base_idx[i]` joined by variant `var_idx[i]`."""
    code = np.asarray(base_idx, np.int64) * len(flat) + np.asarray(var_idx, np.int64)
    keys, inv = np.unique(code, return_inverse=True)
    consts = []
    for key in keys:
        k = divmod(int(key), len(flat))
        if k not in hc_cache:
            hc_cache[k] = space.bases[k[0]].consts(flat[k[1]])
        consts.append(hc_cache[k])
    hc = take(stack_hardware(consts), inv.ravel())
    return evaluate_training(model.core, hc, la, gpus=gpus, mem_bytes=np.asarray(hc.mem_bytes), w_bytes=model.w_bytes)


def _complexity(la: LayoutArrays) -> np.ndarray:
    """1 + SIMPLER x (how much machinery the layout needs), to rank near-equal layouts."""
    c = la.zero / 3 + la.recompute / 2 + (la.pp > 1) + 0.5 * (la.tp > 1)
    return 1.0 + SIMPLER * c


def _pick(gid: np.ndarray, step: np.ndarray, la: LayoutArrays) -> np.ndarray:
    """Rows worth re-evaluating on every variant: per group the TOP_K fastest and the fastest
    of each pipeline depth, tensor-parallel width and ZeRO stage."""
    keep = np.zeros(len(step), bool)
    fin = np.flatnonzero(np.isfinite(step))  # layouts that cannot run never win: sort only the others
    if not len(fin):
        return keep
    gid, step = gid[fin], step[fin]
    cols = [np.asarray(c)[fin] for c in (la.pp, la.tp, la.zero * 1024 + la.mb, la.zero * 1024 + la.pp,
                                          la.ep * 64 + la.cp)]
    by_step = np.argsort(step)
    order = _then_by(by_step, gid)
    gs = gid[order]
    start = np.r_[0, np.flatnonzero(np.diff(gs)) + 1]
    rank = np.arange(len(order)) - np.repeat(start, np.diff(np.r_[start, len(order)]))
    keep[fin[order[rank < TOP_K]]] = True
    for col in cols:
        key = gid.astype(np.int64) * 2**22 + col.astype(np.int64)  # every col < 4 * 1024
        o = _then_by(by_step, key)
        keep[fin[o[np.r_[True, np.diff(key[o]) != 0]]]] = True
    return keep


def _then_by(order: np.ndarray, key: np.ndarray) -> np.ndarray:
    """`order` re-sorted by integer `key`, keeping `order` within equal keys (a stable radix sort)."""
    return order[np.argsort(key[order], kind="stable")]


def _stage_a(space, model, flat, groups, hc_cache, res):
    n = np.array([len(g.layouts) for g in groups])
    gid = np.repeat(np.arange(len(groups)), n)
    la = _concat([g.layouts for g in groups])
    keep, ran = np.zeros(len(la), bool), np.ones(len(la), bool)
    fast = np.full(len(la), np.inf)
    for r in (0, 1):  # the fastest variant, then the slowest (where the group has two)
        ref = np.array([g.refs[min(r, len(g.refs) - 1)] for g in groups])
        rows = np.flatnonzero(np.repeat([len(g.refs) > r for g in groups], n) & ran)
        if not len(rows):
            continue
        sub = _subset(la, rows)
        out = _evaluate(model, space, flat, sub, np.repeat([g.base for g in groups], n)[rows], np.repeat(ref, n)[rows],
                        np.repeat([float(g.gpus) for g in groups], n)[rows], hc_cache)
        res.evaluated += len(rows)
        res.stages[f"A{r}"] = res.stages.get(f"A{r}", 0) + len(rows)
        if r == 0:  # memory does not depend on the fabric: count it once, for every variant of the group
            nv = np.array([len(g.variants) for g in groups])
            res.pruned_layouts["memory does not fit"] += int(((~out["fits"]) * nv[gid]).sum())
            # a projection that is not a number (a zero or missing catalogue figure) is dropped, and said so
            bad = out["ok"] & ~np.isfinite(out["step_time_s"])
            if bad.any():
                res.pruned_layouts["step time not finite (a zero or missing hardware number)"] += int(
                    (bad * nv[gid[rows]]).sum())
                out["ok"] = out["ok"] & ~bad
            ran[rows] = out["ok"]  # the slowest variant re-runs only the layouts that fit
        step = np.where(out["ok"], out["step_time_s"] * _complexity(sub), np.inf)
        keep[rows[_pick(gid[rows], step, sub)]] = True
        if r == 0:
            fast[rows] = step
        else:
            keep &= ~_beaten(gid, fast, rows, step, len(groups))
    sel = np.flatnonzero(keep)
    counts = np.bincount(gid[sel], minlength=len(groups))
    return la, np.split(sel, np.cumsum(counts)[:-1])


def _beaten(gid, fast, rows, slow_step, n_groups) -> np.ndarray:
    """Layouts that cannot win on any variant between the two references: a layout's step only
    grows as the network slows, so one slower on the fastest fabric than the best layout on the
    slowest (with a margin for the latency differences between fabric families) never wins."""
    best_slow = np.full(n_groups, np.inf)
    np.minimum.at(best_slow, gid[rows], slow_step)
    return fast > best_slow[gid] * (1.0 + BEATEN_MARGIN)


def _segment_argmin(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Index of the (first) minimum of each contiguous segment beginning at `starts`."""
    lows = np.minimum.reduceat(values, starts)
    seg = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(values)]))
    hit = np.flatnonzero(values == lows[seg])
    return hit[np.r_[True, np.diff(seg[hit]) != 0]]


def _comm_key(space, flat, base: int, v: int, hc_cache: dict) -> tuple:
    """What a variant changes in the projection: variants with equal scale-out bandwidth and
    latency (roce-200 x 4 rails and roce-800 x 1) project the same step, so one is evaluated."""
    k = (base, v)
    if k not in hc_cache:
        hc_cache[k] = space.bases[base].consts(flat[v])
    c = hc_cache[k]
    return (float(c.inter_bw), float(c.alpha_inter), float(c.oversub), float(c.nodes_per_leaf), float(c.ll128_net),
            float(c.regime))


def _stage_b(space, model, flat, groups, la_a, chosen, hc_cache, res) -> dict:
    sels, rep_var, rep_grp, members = [], [], [], []
    for gi, (g, sel) in enumerate(zip(groups, chosen)):
        if len(sel) == 0:
            res.no_layout += len(g.variants)
            continue
        reps: dict = {}
        for v in g.variants:
            reps.setdefault(_comm_key(space, flat, g.base, v, hc_cache), []).append(v)
        for vs in reps.values():
            sels.append(sel)
            rep_var.append(vs[0])
            rep_grp.append(gi)
            members.append(vs)
    if not sels:
        return _empty_cols()
    lens = np.array([len(x) for x in sels])
    rows = np.concatenate(sels)
    var, grp, opt = np.repeat(rep_var, lens), np.repeat(rep_grp, lens), np.repeat(np.arange(len(sels)), lens)
    la = _subset(la_a, rows)
    gpus = np.array([g.gpus for g in groups], float)[grp]
    out = _evaluate(model, space, flat, la, np.array([g.base for g in groups])[grp], var, gpus, hc_cache)
    res.evaluated += len(la)
    res.stages["B"] = res.stages.get("B", 0) + len(la)
    step = np.where(out["ok"], out["step_time_s"] * _complexity(la), np.inf)
    best = _segment_argmin(step, np.r_[0, np.cumsum(lens)[:-1]])  # each option's rows are contiguous
    best = best[np.isfinite(step[best])]
    counts = [len(members[int(opt[b])]) for b in best]
    variants = np.array([v for b in best for v in members[int(opt[b])]], int)
    return _columns(model, groups, grp, variants, la, out, np.repeat(best, counts))


def _columns(model, groups, grp, variants, la, out, best) -> dict:
    """Option columns from evaluated rows `best` (one per option; `variants` aligned with it)."""
    comm = sum(out["terms"].get(k, 0.0) for k in COMM)  # the generic (data-parallel) model has no tp/pp terms
    net = sum(out["terms"].get(k, 0.0) for k in NET_COMM)
    a2a = out["terms"].get("ep_all_to_all", 0.0)
    cols = {"base": np.array([g.base for g in groups])[grp[best]], "nodes": np.array([g.nodes for g in groups])[grp[best]],
            "gpus": np.array([g.gpus for g in groups])[grp[best]], "variant": variants,
            "step_time_s": out["step_time_s"][best], "samples_per_s": out["samples_per_s"][best],
            "mfu": out["mfu"][best], "memory_bytes": out["memory_bytes"][best],
            "comm_s": np.broadcast_to(comm, la.tp.shape)[best], "net_comm_s": np.broadcast_to(net, la.tp.shape)[best],
            "a2a_s": np.broadcast_to(a2a, la.tp.shape)[best]}
    cols["tokens_per_s"] = cols["samples_per_s"] * (model.seq or 0)
    for c in LAYOUT_COLS:
        cols[c] = np.asarray(getattr(la, c))[best]
    return cols


def _empty_cols() -> dict:
    keys = ("base", "nodes", "gpus", "variant", "step_time_s", "samples_per_s", "mfu", "memory_bytes", "comm_s",
            "net_comm_s", "a2a_s", "tokens_per_s", *LAYOUT_COLS)
    return {k: np.zeros(0) for k in keys}


def search(space, models: dict) -> SearchResult:
    """Best layout per hardware option of `space` (see the module docstring). `models` maps
    each precision to its `Model` (weight and activation bytes differ by precision)."""
    flat = space.flat_variants()
    res = SearchResult({}, flat)
    index = {id(v): i for i, v in enumerate(flat)}
    hc_cache: dict = {}
    grids: dict = {}  # layouts depend on GPUs, GPUs per node and the batch, not on the precision
    parts = []
    for precision, model in models.items():
        groups = _groups(space, model, precision, index, res, grids)
        if groups:
            la_a, chosen = _stage_a(space, model, flat, groups, hc_cache, res)
            parts.append(_stage_b(space, model, flat, groups, la_a, chosen, hc_cache, res))
    res.cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else _empty_cols()
    return res


def models_for(card, spec, precisions) -> dict:
    """The projection model per precision (weight bytes differ; activations for non-transformers)."""
    from raxlab.predict.api import dtype_bytes
    from raxlab.predict.generic import CardNums
    from raxlab.predict.shape import shape_from_card

    shape = shape_from_card(card, seq=spec.seq_len)
    gb = spec.effective_global_batch
    mbs = tuple(sorted({b for b in (1, 2, 4, 8, spec.micro_batch) if b <= gb}))
    out = {}
    for p in precisions:
        w = max(dtype_bytes(p), 2.0)
        if shape is not None:
            out[p] = Model(shape, True, gb, mbs, heads=shape.heads, kv_heads=shape.kv, layers=shape.layers,
                           seq=shape.seq, w_bytes=w, lora_rank=int(getattr(spec, "lora_rank", None) or 0),
                           experts=shape.moe.experts if shape.moe else None)
        else:
            traced = 4.0 if card.trace.get("dtype", "float32") == "float32" else 2.0
            mbs_g = tuple(sorted({b for b in (1, 2, 4, 8, 16, 32, 64, 128, spec.micro_batch) if b <= gb}))
            out[p] = Model(CardNums.from_card(card, act_scale=w / traced), False, gb, mbs_g,
                           seq=card.tokens_per_sample, w_bytes=w)
    return out
