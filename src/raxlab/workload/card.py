"""`WorkloadCard`: hardware-independent facts about a workload, from tracing one real step.

`build_card(workload)` traces forward + loss, backward and an Adam step of the real model
(see `trace.py` for what is counted and how) on meta tensors, so nothing is allocated and
a 405B model is carded on a laptop; a model that cannot run on meta is traced on the CPU.

Batch and depth are separated exactly rather than assumed:
* every quantity is traced at batch 2 and 3; cost at batch B = B * per_sample + fixed
  (fixed = batch-independent work per step, e.g. reading the weights). Batch 1 is avoided:
  some reshapes are free views there and copies at B > 1, which would skew the split;
* transformer configs with >= 3 identical layers are traced at 1 and 2 layers (same width,
  vocab, seq) and per-layer costs extrapolated linearly to L layers, exact for identical
  layers (`tests/workload/test_card.py` checks it against a full-depth trace). Stacks that are
  a prefix of d different blocks followed by a repeating period of p blocks (DeepSeek-V3: 3
  dense blocks, then MoE blocks; Qwen-MoE with decoder_sparse_step 2) are traced at d+p and
  d+2p blocks and extrapolated by (L−d)/p periods, exact in the same way.

Mixture-of-experts models are traced on meta with balanced routing (`workload/moe.py`); where
that is impossible (experts outside transformers' experts interface, a failing meta trace and a
model too large for the CPU) the card is derived from the config (`card_moe.analytic_card`) and
says so. Either way `moe` summarises the routing facts (`card_moe.summary`).

JSON keys (per sample unless named `_fixed`, per step):
  params, trainable_params, weight_bytes, gradient_bytes, optimizer_state_bytes
  fwd_flops_per_sample, train_flops_per_sample (fwd + bwd), fwd_flops_fixed, train_flops_fixed
  flops_by_class / fwd_flops_by_class          {matmul, attention, conv, other}
  bytes_by_class / fwd_bytes_by_class          {matmul, attention, conv, norm, other}
  bytes_fixed_by_class / fwd_bytes_fixed_by_class, optimizer_step_bytes
  activation_bytes_per_sample, activation_bytes_fixed
  sample_bytes (on disk per sample), decode_s_per_sample (measured here), tokens_per_sample,
  image_size, layer_shape (or null), kind, name, task, model, meta_only, trace, notes
  moe (mixture-of-experts models only; see card_moe.summary)

`layer_shape` of a MoE config adds `moe` {experts, top_k, expert_ffn, shared_experts, shared_ffn
(all shared experts together), moe_layers, dense_layers, first_dense_layers, dense_ffn, gated, router
(softmax | sigmoid), route_groups, route_group_k}, and of an MLA config `mla` {q_lora_rank (0: full
rank), kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim} (`workload/moe.py`; the
arithmetic on them is `raxlab.shape`). Dense cards have neither key.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

from raxlab.errors import RaxError
from raxlab.workload import card_moe
from raxlab.workload._lazy import torch  # imported on first use: a cached card is read without torch

SCHEMA_VERSION = 1
ADAM_STATE_BYTES_PER_PARAM = 8  # exp_avg + exp_avg_sq, fp32 each (Kingma & Ba 2015; DESIGN.md memory)
EXTRAPOLATE_MIN_LAYERS = 3
CPU_FALLBACK_MAX_WEIGHT_BYTES = 2 * 2**30  # a real trace holds weights + grads + 2 Adam states: ~4x
BATCHES = (2, 3)  # consecutive, so per-sample = m(3) - m(2) stays an exact integer


@dataclass
class WorkloadCard:
    name: str
    kind: str
    task: str
    model: str
    meta_only: bool
    params: int
    trainable_params: int
    weight_bytes: int
    gradient_bytes: int
    optimizer_state_bytes: int
    fwd_flops_per_sample: int
    train_flops_per_sample: int
    fwd_flops_fixed: int
    train_flops_fixed: int
    flops_by_class: dict[str, int]
    fwd_flops_by_class: dict[str, int]
    bytes_by_class: dict[str, int]
    fwd_bytes_by_class: dict[str, int]
    bytes_fixed_by_class: dict[str, int]
    fwd_bytes_fixed_by_class: dict[str, int]
    optimizer_step_bytes: int
    activation_bytes_per_sample: int
    activation_bytes_fixed: int
    sample_bytes: float
    decode_s_per_sample: float | None  # None: no sample window to decode (a meta-only model)
    tokens_per_sample: int | None
    image_size: int | None
    layer_shape: dict[str, Any] | None
    trace: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION
    moe: dict[str, Any] | None = None  # routing facts of a mixture of experts (card_moe.summary)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if d["moe"] is None:  # dense cards keep the keys they always had
            del d["moe"]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "WorkloadCard":
        """Inverse of `to_dict`; unknown or missing keys are one-line errors."""
        names = {f.name for f in dataclasses.fields(cls)}
        if data.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
            raise RaxError(f"card schema {data.get('schema_version')} is not {SCHEMA_VERSION}; rebuild the card",
                           field="schema_version")
        extra = sorted(set(data) - names)
        if extra:
            raise RaxError(f"unknown card key(s) {', '.join(extra)}", field="card")
        try:
            return cls(**data)
        except TypeError as exc:
            raise RaxError(f"incomplete card: {exc}", field="card") from None


# ------------------------------------------------------------------ linear algebra on counts

def _flatten(c) -> dict[str, int]:
    out: dict[str, int] = {}
    for k, v in dataclasses.asdict(c).items():
        if isinstance(v, dict):
            out.update({f"{k}.{kk}": vv for kk, vv in v.items()})
        else:
            out[k] = v
    return out


def _split_batch(lo: dict[str, int], hi: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """(per_sample, fixed) from counts at BATCHES: m(B) = fixed + B * per_sample."""
    per = {k: hi[k] - lo[k] for k in lo}
    return per, {k: lo[k] - BATCHES[0] * per[k] for k in lo}


def _extrapolate(at1: dict[str, int], at2: dict[str, int], layers: int) -> dict[str, int]:
    """m(L) = m(1) + (L - 1) * (m(2) - m(1)): exact when the layers are identical."""
    return {k: at1[k] + (layers - 1) * (at2[k] - at1[k]) for k in at1}


# ------------------------------------------------------------------ tracing

def _trace(workload, device: str, dtype: torch.dtype, num_layers: int | None, batch: int,
           optimizer: bool) -> dict[str, int]:
    from raxlab.workload.trace import trace_step

    model = workload.build_model(device, dtype, num_layers=num_layers)
    data = workload.make_batch(batch, device=device)
    data = {k: v.to(dtype) if v.is_floating_point() else v for k, v in data.items()}
    return _flatten(trace_step(workload, model, data, optimizer=optimizer))


def _trace_grid(workload, device: str, dtype: torch.dtype, depths: list[int | None]):
    """{(depth, batch): counts} over the depth x BATCHES grid.

    The optimizer step does not depend on the batch, so it runs in the first batch's trace
    only (on meta it is ~40 % of a trace) and its bytes are copied to the second.
    """
    grid = {}
    for d in depths:
        lo = grid[(d, BATCHES[0])] = _trace(workload, device, dtype, d, BATCHES[0], optimizer=True)
        hi = grid[(d, BATCHES[1])] = _trace(workload, device, dtype, d, BATCHES[1], optimizer=False)
        hi["optimizer_bytes"] = lo["optimizer_bytes"]
    return grid


def _traced(workload, dtype: torch.dtype, depths: list[int | None]) -> tuple[dict, str, list[str]]:
    """Trace on meta; fall back to real CPU tensors for models that cannot run on meta."""
    try:
        return _trace_grid(workload, "meta", dtype, depths), "meta", []
    except (RuntimeError, NotImplementedError) as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if card_moe.is_moe(workload) and (workload.meta_only or _too_big_for_cpu(workload, dtype)):
            raise card_moe.Untraceable(f"the meta trace failed: {why}") from exc
        if workload.meta_only or _too_big_for_cpu(workload, dtype):
            raise RaxError(f"cannot trace {workload.name} on meta tensors ({why}) and it is too large"
                           " (or meta_only) to trace on the CPU", field="model") from exc
    try:
        grid = _trace_grid(workload, "cpu", dtype, depths)
    except (RuntimeError, ValueError) as exc:
        if workload.source.origin in ("hf", "builtin"):
            raise
        first = str(exc).strip().splitlines()[0]
        raise RaxError(f"the sample does not fit the model: {first}", field="data") from exc
    return grid, "cpu", [f"traced on CPU with real tensors (the model does not run on meta: {why})"]


def _too_big_for_cpu(workload, dtype: torch.dtype) -> bool:
    try:
        model = workload.build_model("meta", dtype)
    except Exception:  # cannot even build on meta: size unknown, let the CPU attempt say why
        return False
    return sum(p.numel() * p.element_size() for p in model.parameters()) > CPU_FALLBACK_MAX_WEIGHT_BYTES


def _layer_plan(workload, dtype: torch.dtype) -> tuple[list[int | None], list[str]]:
    """Depths to trace: [d+p, d+2p] for deep transformers whose blocks repeat with period p
    after a prefix of d ([1, 2] when all are identical), else [None] (full depth)."""
    shape = workload.layer_shape
    if shape is None or shape["layers"] < EXTRAPOLATE_MIN_LAYERS:
        return [None], []
    with _skip_init():  # only the layer shapes matter here; init is most of a meta build's time
        model = workload.build_model("meta", dtype)
    card_moe.check_traceable(workload, model)
    plan = _periodic(model, shape["layers"])
    if plan is None:
        return [None], ["layers differ in shape: traced at full depth, no extrapolation"]
    d, p = plan
    if (d, p) == (0, 1):
        return [1, 2], [f"traced at 1 and 2 layers and extrapolated linearly to {shape['layers']}"
                        " (exact for identical layers)"]
    return [d + p, d + 2 * p], [f"traced at {d + p} and {d + 2 * p} layers ({d} leading blocks, then a period of {p})"
                                f" and extrapolated linearly to {shape['layers']} (exact for repeating blocks)"]


def _meta_params(workload, dtype) -> int | None:
    """Exact parameter count from a meta build, when the model builds on meta."""
    try:
        with _skip_init():
            model = workload.build_model("meta", dtype)
    except Exception:  # the count then comes from the config's shape
        return None
    return sum(p.numel() for p in model.parameters())


def _skip_init():
    """transformers' no_init_weights where available (it moved in v5), else a no-op context."""
    import contextlib

    for mod in ("transformers.initialization", "transformers.modeling_utils"):
        try:
            return __import__(mod, fromlist=["no_init_weights"]).no_init_weights()
        except (ImportError, AttributeError):
            continue
    return contextlib.nullcontext()


MAX_PREFIX, MAX_PERIOD = 8, 4  # leading odd blocks and repeat lengths the depth plan looks for


def _periodic(model: torch.nn.Module, layers: int) -> tuple[int, int] | None:
    """Smallest (prefix d, period p) with every layer stack repeating with period p after block d
    (and at least one period beyond the two traced), or None."""
    stacks = [m for m in model.modules() if isinstance(m, torch.nn.ModuleList) and len(m) == layers]
    if not stacks:
        return None

    def signature(block):
        return type(block).__name__, tuple((n, tuple(p.shape), p.dtype) for n, p in block.named_parameters())

    sigs = [[signature(b) for b in s] for s in stacks]
    for p in range(1, MAX_PERIOD + 1):
        for d in range(0, MAX_PREFIX + 1):
            if (layers - d) % p or layers - d < 3 * p:
                continue
            if all(all(sg[i] == sg[i + p] for i in range(d, layers - p)) for sg in sigs):
                return d, p
    return None


def _extrapolate_periodic(at1: dict[str, int], at2: dict[str, int], depths: list[int], layers: int) -> dict[str, int]:
    """m(L) = m(d+p) + ((L−d)/p − 1)·(m(d+2p) − m(d+p)): exact for blocks repeating with period p."""
    lo, hi = depths
    p = hi - lo
    periods = (layers - (lo - p)) // p
    return {k: at1[k] + (periods - 1) * (at2[k] - at1[k]) for k in at1}


def _counts_at_depth(grid: dict, depths: list[int | None], layers: int | None):
    """(per_sample, fixed) at the model's real depth."""
    lo, hi = BATCHES
    if depths == [None]:
        return _split_batch(grid[(None, lo)], grid[(None, hi)])
    a, b = depths
    per1, fix1 = _split_batch(grid[(a, lo)], grid[(a, hi)])
    per2, fix2 = _split_batch(grid[(b, lo)], grid[(b, hi)])
    if depths == [1, 2]:
        return _extrapolate(per1, per2, layers), _extrapolate(fix1, fix2, layers)
    return _extrapolate_periodic(per1, per2, depths, layers), _extrapolate_periodic(fix1, fix2, depths, layers)


def _by(prefix: str, d: dict[str, int]) -> dict[str, int]:
    return {k.split(".", 1)[1]: v for k, v in d.items() if k.startswith(prefix + ".")}


def _sum_classes(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: a[k] + b[k] for k in a}


def build_card(workload, *, dtype: torch.dtype | None = None, extrapolate: bool = True) -> WorkloadCard:
    """Trace one training step of `workload` (in `dtype`, default float32) and summarise it as a WorkloadCard."""
    t0 = time.perf_counter()
    dtype = dtype or torch.float32
    try:
        depths, notes = _layer_plan(workload, dtype) if extrapolate else ([None], [])
        if not extrapolate and card_moe.is_moe(workload):
            with _skip_init():
                card_moe.check_traceable(workload, workload.build_model("meta", dtype))
        with card_moe.routing(workload):
            grid, device, more = _traced(workload, dtype, depths)
    except card_moe.Untraceable as why:
        card = WorkloadCard(**card_moe.analytic_fields(
            workload, torch.empty((), dtype=dtype).element_size(), str(why), _meta_params(workload, dtype),
            ADAM_STATE_BYTES_PER_PARAM, list(BATCHES), _standard_notes(workload, dtype)))
        card.trace["dtype"] = str(dtype).removeprefix("torch.")
        card_moe.attach_analytic(card, workload)
        card.trace["seconds"] = round(time.perf_counter() - t0, 3)
        return card
    layers = workload.layer_shape["layers"] if workload.layer_shape else None
    per, fixed = _counts_at_depth(grid, depths, layers)
    card = WorkloadCard(
        name=workload.name, kind=workload.kind, task=workload.spec.task, model=workload.source.ref,
        meta_only=workload.meta_only,
        params=fixed["params"], trainable_params=fixed["trainable_params"], weight_bytes=fixed["weight_bytes"],
        gradient_bytes=fixed["gradient_bytes"],
        optimizer_state_bytes=ADAM_STATE_BYTES_PER_PARAM * fixed["trainable_params"],
        **_flop_fields(per, fixed), **_byte_fields(per, fixed),
        activation_bytes_per_sample=per["activation_bytes"], activation_bytes_fixed=fixed["activation_bytes"],
        sample_bytes=workload.sample_bytes_per_sample, decode_s_per_sample=workload.decode_s_per_sample,
        tokens_per_sample=workload.tokens_per_sample, image_size=workload.image_size,
        layer_shape=workload.layer_shape,
        trace={"device": device, "dtype": str(dtype).removeprefix("torch."), "batches": list(BATCHES),
               "layers": [d for d in depths if d is not None] or None},
        notes=notes + more + _standard_notes(workload, dtype) + _sample_notes(workload),
    )
    card_moe.attach(card, workload, device)
    card.trace["seconds"] = round(time.perf_counter() - t0, 3)
    return card


def _flop_fields(per: dict[str, int], fixed: dict[str, int]) -> dict[str, Any]:
    fwd, bwd = _by("fwd_flops", per), _by("bwd_flops", per)
    train = _sum_classes(fwd, bwd)
    return {
        "fwd_flops_per_sample": sum(fwd.values()), "train_flops_per_sample": sum(train.values()),
        "fwd_flops_fixed": sum(_by("fwd_flops", fixed).values()),
        "train_flops_fixed": sum(_by("fwd_flops", fixed).values()) + sum(_by("bwd_flops", fixed).values()),
        "flops_by_class": train, "fwd_flops_by_class": fwd,
    }


def _byte_fields(per: dict[str, int], fixed: dict[str, int]) -> dict[str, Any]:
    return {
        "bytes_by_class": _sum_classes(_by("fwd_bytes", per), _by("bwd_bytes", per)),
        "fwd_bytes_by_class": _by("fwd_bytes", per),
        "bytes_fixed_by_class": _sum_classes(_by("fwd_bytes", fixed), _by("bwd_bytes", fixed)),
        "fwd_bytes_fixed_by_class": _by("fwd_bytes", fixed),
        "optimizer_step_bytes": fixed["optimizer_bytes"],
    }


def _sample_notes(workload) -> list[str]:
    """What of the data sample was read, when a reader's cap cut it (a sample is a sample)."""
    cut = getattr(workload.reader, "truncated", None)
    return [f"data sample truncated: {cut}; sample_bytes and decode time are per sample of what was read"] if cut else []


def _standard_notes(workload, dtype: torch.dtype) -> list[str]:
    itemsize = torch.empty((), dtype=dtype).element_size()
    notes = [
        f"per-sample values from traces at batch {BATCHES[0]} and {BATCHES[1]}: a step at batch B costs B x per_sample + fixed",
        "bytes_by_class: sizes of every non-view op's tensor inputs and outputs, a fusion-free upper bound"
        " on memory traffic (fused kernels such as flash attention move far less)",
        f"bytes traced in {str(dtype).removeprefix('torch.')} ({itemsize} B/element); scale by element size"
        " for other precisions",
        "activation_bytes: unique storages saved for backward (saved_tensors_hooks), parameters excluded",
        "optimizer_state_bytes: Adam, 2 fp32 states per trainable parameter (analytic)",
        "decode_s_per_sample: measured on this host",
    ]
    if getattr(workload, "tokenizer_note", None):
        notes.append(f"sample_bytes: {workload.tokenizer_note}")
    if workload.source.origin == "hf":
        notes.append("attention FLOPs: eager QK^T and PV matmuls (attn_implementation='eager'), full s x s"
                     " with no causal discount, as in Megatron-LM eq. 3")
    else:
        notes.append("attention FLOPs: SDPA kernels counted with torch's SDPA formula (no causal discount);"
                     " matmuls between activations inside attention modules count as attention")
    return notes
