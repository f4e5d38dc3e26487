"""Trace one training step and count FLOPs, bytes and saved activations per op class.

`trace_step` runs forward (with the loss), backward and an Adam step under three hooks:

* a `TorchDispatchMode` that sees every aten op. FLOPs use PyTorch's own formulas
  (`torch.utils.flop_counter.flop_registry`: mm/addmm 2*M*N*K, bmm 2*B*M*N*K, conv
  2*out*kernel*Cin, SDPA as its two bmm terms with no causal discount). CPU flash
  attention has no formula there (FlopCounterMode counts 0 for it), so we register
  the same SDPA formulas for it. Hugging Face models are built with eager attention
  anyway, so QK^T and PV appear as plain bmm ops.
  Bytes: every non-view op counts the sizes of its tensor inputs and outputs. This is a
  fusion-free upper bound on memory traffic (a fused kernel keeps intermediates on
  chip; an expanded operand is counted at its logical size).
* module hooks in the forward that give each op its class from the module it runs in;
  each autograd node created by a forward op is tagged with that op's class, and
  backward ops take the class of the node executing them
  (`torch._C._current_autograd_node()`), which stays exact when module hooks cannot
  follow the backward (modules called with keyword arguments).
* `torch.autograd.graph.saved_tensors_hooks` in the forward: activation bytes are the
  unique storages saved for backward, excluding parameters and buffers.

Op classes: matmul (weights x activations: linear, projections, lm head), attention
(activation x activation matmuls inside an attention module, SDPA kernels and the
elementwise work around them), conv, norm, other (embeddings, activations, loss, ...),
and optimizer (the Adam step).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import flop_registry, sdpa_backward_flop_count, sdpa_flop_count

aten = torch.ops.aten
CLASSES = ("matmul", "attention", "conv", "norm", "other")
FLOP_CLASSES = ("matmul", "attention", "conv", "other")
MATMUL_OPS = {aten.mm, aten.addmm, aten.bmm, aten.baddbmm, aten._scaled_mm}
CONV_OPS = {aten.convolution, aten.convolution_backward, aten._convolution}
SDPA_FWD = {aten._scaled_dot_product_flash_attention_for_cpu, aten._scaled_dot_product_fused_attention_overrideable}
SDPA_BWD = {aten._scaled_dot_product_flash_attention_for_cpu_backward,
            aten._scaled_dot_product_fused_attention_overrideable_backward}
ATTENTION_OPS = SDPA_FWD | SDPA_BWD | {p for p in flop_registry if "scaled_dot_product" in str(p)}
NO_TRAFFIC = {aten.detach, aten.alias, aten.lift_fresh, aten.empty, aten.empty_like, aten.empty_strided,
              aten.new_empty, aten.new_empty_strided, aten._local_scalar_dense}


def _flops(packet, args, kwargs, out) -> int:
    if packet in SDPA_FWD:
        return sdpa_flop_count(args[0].shape, args[1].shape, args[2].shape)
    if packet in SDPA_BWD:
        return sdpa_backward_flop_count(args[0].shape, args[1].shape, args[2].shape, args[3].shape)
    if packet in flop_registry:
        return int(flop_registry[packet](*args, **kwargs, out_val=out))
    return 0


def _nbytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors if isinstance(t, torch.Tensor))


def _storage_key(t: torch.Tensor) -> int:
    # StorageWeakRef.cdata identifies a storage even on meta, where data_ptr() is 0.
    return StorageWeakRef(t.untyped_storage()).cdata


def _name_has(mod, *words: str) -> bool:
    name = type(mod).__name__.lower()
    return any(w in name for w in words)


def module_class(stack: list[torch.nn.Module]) -> str:
    """Class of non-matmul work from the forward module stack (innermost last)."""
    inner = stack[-1] if stack else None
    if inner is not None and any(True for _ in inner.parameters(recurse=False)):
        if isinstance(inner, torch.nn.modules.conv._ConvNd):
            return "conv"
        if _name_has(inner, "norm"):
            return "norm"
        if isinstance(inner, torch.nn.Embedding) or _name_has(inner, "embedding"):
            return "other"
        return "attention" if _name_has(inner, "attention", "attn") else "matmul"
    if any(_name_has(m, "attention", "attn") for m in stack):
        return "attention"
    return "norm" if inner is not None and _name_has(inner, "norm") else "other"


@dataclass
class StepCounts:
    """Counts for one traced step at one batch size (ints; bytes and FLOPs)."""

    fwd_flops: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FLOP_CLASSES, 0))
    bwd_flops: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FLOP_CLASSES, 0))
    fwd_bytes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLASSES, 0))
    bwd_bytes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLASSES, 0))
    optimizer_bytes: int = 0
    activation_bytes: int = 0
    gradient_bytes: int = 0
    params: int = 0
    trainable_params: int = 0
    weight_bytes: int = 0


class _Counter(TorchDispatchMode):
    def __init__(self, counts: StepCounts, weight_keys: set[int]):
        super().__init__()
        self.counts, self.weight_keys = counts, weight_keys
        self.phase = "fwd"
        self.stack: list[torch.nn.Module] = []
        self.tags: dict = {}          # autograd node -> class of the forward op that made it
        self.pending: list = []       # (outputs, class, age) awaiting their grad_fn

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.phase == "fwd":
            self._tag_pending()
        out = func(*args, **kwargs)
        cls = self._classify(func._overloadpacket, args, kwargs)
        self._count(func, cls, args, kwargs, out)
        if self.phase == "fwd":
            self.pending.append((tree_flatten(out)[0], cls, 0))
        return out

    def _tag_pending(self) -> None:
        keep = []
        for outs, cls, age in self.pending:
            fns = [o.grad_fn for o in outs if isinstance(o, torch.Tensor) and o.grad_fn is not None]
            for fn in fns:
                self.tags.setdefault(fn, cls)
            if not fns and age < 2:  # autograd may attach grad_fn after a nested op; look again
                keep.append((outs, cls, age + 1))
        self.pending = keep

    def _classify(self, packet, args, kwargs) -> str:
        if self.phase == "opt":
            return "optimizer"
        if packet in CONV_OPS:
            return "conv"
        if packet in ATTENTION_OPS:
            return "attention"
        if self.phase == "bwd":
            node = torch._C._current_autograd_node()
            return self.tags.get(node, "other") if node is not None else "other"
        if packet in MATMUL_OPS:
            weights = any(isinstance(a, torch.Tensor) and _storage_key(a) in self.weight_keys for a in args)
            attn = any(_name_has(m, "attention", "attn") for m in self.stack)
            return "attention" if attn and not weights else "matmul"
        return module_class(self.stack)

    def _count(self, func, cls, args, kwargs, out) -> None:
        packet = func._overloadpacket
        if cls == "optimizer":
            if not (func.is_view or packet in NO_TRAFFIC):
                self.counts.optimizer_bytes += _nbytes(tree_flatten((args, kwargs, out))[0])
            return
        flops = _flops(packet, args, kwargs, out)
        fcls = cls if cls in FLOP_CLASSES else "other"
        (self.counts.fwd_flops if self.phase == "fwd" else self.counts.bwd_flops)[fcls] += flops
        if not (func.is_view or packet in NO_TRAFFIC):
            moved = _nbytes(tree_flatten((args, kwargs))[0]) + _nbytes(tree_flatten(out)[0])
            (self.counts.fwd_bytes if self.phase == "fwd" else self.counts.bwd_bytes)[cls] += moved


def _weight_keys(model: torch.nn.Module) -> set[int]:
    return {_storage_key(t) for t in list(model.parameters()) + list(model.buffers())}


class _SavedBytes:
    """Unique storages packed for backward, parameters and buffers excluded."""

    def __init__(self, weight_keys: set[int]):
        self.weight_keys, self.seen = weight_keys, {}

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        key = _storage_key(t)
        if key not in self.weight_keys:
            self.seen[key] = t.untyped_storage().nbytes()
        return t

    @property
    def total(self) -> int:
        return sum(self.seen.values())


def trace_step(workload, model: torch.nn.Module, batch: dict[str, torch.Tensor], *,
               optimizer: bool = True) -> StepCounts:
    """Counts for forward+loss, backward and (optionally) one Adam step of `model` on `batch`."""
    counts, keys = StepCounts(), _weight_keys(model)
    counter, saved = _Counter(counts, keys), _SavedBytes(keys)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params) if optimizer and params else None
    hooks = _module_hooks(counter.stack)
    try:
        with counter:
            with torch.autograd.graph.saved_tensors_hooks(saved.pack, lambda t: t):
                loss = workload.loss(model, batch)
            counter._tag_pending()
            counter.phase = "bwd"
            loss.backward()
            counter.phase = "opt"
            if opt is not None:
                opt.step()
    finally:
        for h in hooks:
            h.remove()
    counts.activation_bytes = saved.total
    counts.gradient_bytes = _nbytes(p.grad for p in params if p.grad is not None)
    uniq = list(model.parameters())  # parameters() de-duplicates tied weights
    counts.params = sum(p.numel() for p in uniq)
    counts.trainable_params = sum(p.numel() for p in params)
    counts.weight_bytes = _nbytes(uniq)
    return counts


def _module_hooks(stack: list) -> list:
    # Global forward hooks: a plain stack is exact in the forward (modules nest properly).
    from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook

    def push(mod, args):
        stack.append(mod)

    def pop(mod, args, out):
        if stack and stack[-1] is mod:
            stack.pop()

    return [register_module_forward_pre_hook(push), register_module_forward_hook(pop)]
