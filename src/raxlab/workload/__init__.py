"""Workload intake: what the customer brings (a model and a sample of data), made runnable.

Entry points::

    from raxlab.workload import load_workload, build_card
    wl = load_workload("tiny-lm")            # a preset name or a spec file path
    card = build_card(wl)                    # WorkloadCard, see raxlab.workload.card

`load_workload(ref: str, *, trust_code=False) -> Workload` accepts a WorkloadSpec YAML
path or a preset name (`rax presets`); an unknown preset is a RaxError listing the known
ones. `package.module:factory` models run only with `trust_code=True` (CLI
`--trust-code`) or `trust_code: true` in the spec.

The `Workload` contract (what the measurement layer may rely on):

  .spec            WorkloadSpec (pydantic, frozen): model, data, task, seq_len, image_size,
                   micro_batch, global_batch, precisions, targets, meta_only
  .name            str
  .kind            'lm' | 'vision' | 'tabular' | 'other'
  .meta_only       bool: card only, never built on a real device
  .tokens_per_sample   seq_len for LMs, else None
  .build_model(device="cpu", dtype=torch.float32) -> nn.Module
                   a fresh model (random init) in train mode (eval for task 'infer');
                   device="meta" allocates no weights. Hugging Face models use eager
                   attention. Meta-only workloads refuse any device but 'meta'.
  .make_batch(batch_size: int, device="cpu", seed=0) -> dict[str, Tensor]
                   a real batch from the data sample:
                     lm       input_ids, labels        int64 [B, seq_len]
                     vision   pixel_values [B, C, S, S] float32 0..1, labels int64 [B]
                     tabular  features [B, F] float32, targets [B] (int64 or float32)
                     other    inputs [B, ...], targets [B, ...] when present
                   A sample that cannot feed the model (too short, wrong channels, wrong
                   columns, token ids beyond the vocab) raises a one-line RaxError.
  .loss(model, batch) -> Tensor     scalar loss; a training step is
                                    loss -> backward -> optimizer.step
  .forward(model, batch) -> Tensor  inference logits
  .dataset() -> torch.utils.data.Dataset   items decoded from disk on access (same
                   per-sample dicts as make_batch; default_collate gives a batch)
  .sample_bytes_per_sample   float, bytes on disk per sample
  .decode_s_per_sample       float, measured here: seconds to decode one sample
  .layer_shape     dict (hidden, layers, heads, kv_heads, head_dim, ffn, vocab, seq,
                   tied_embeddings) for transformer configs, else None
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_workload", "Workload", "WorkloadSpec", "Targets", "build_card", "WorkloadCard",
           "preset_names", "load_preset"]

_LAZY = {
    "load_workload": "raxlab.workload.workload",
    "Workload": "raxlab.workload.workload",
    "WorkloadSpec": "raxlab.workload.spec",
    "Targets": "raxlab.workload.spec",
    "build_card": "raxlab.workload.card",
    "WorkloadCard": "raxlab.workload.card",
    "preset_names": "raxlab.workload.presets",
    "load_preset": "raxlab.workload.presets",
}


def __getattr__(name: str) -> Any:
    # Lazy: `raxlab.workload.spec` must stay importable without torch (CLI help, catalogue tools).
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)
