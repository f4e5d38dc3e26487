"""Loss and forward per workload kind: the model-call conventions in one place.

Hugging Face models take keyword inputs and compute their own loss (`labels=`; causal LMs
shift the labels inside). Other models are called positionally and return logits (a
tensor, or an output with `.logits`, or a tuple whose first item is the logits); the loss
is cross-entropy for integer targets and mean squared error for real-valued ones. A
sample without targets (kind 'other') trains on mean(output^2): a stand-in objective
that still runs the full backward and optimizer step, which is all the sizing needs.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from raxlab.errors import RaxError

INPUT_KEY = {"lm": "input_ids", "vision": "pixel_values", "tabular": "features", "other": "inputs"}
TARGET_KEY = {"lm": "labels", "vision": "labels", "tabular": "targets", "other": "targets"}


def logits_of(out: Any) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out
    if getattr(out, "logits", None) is not None:
        return out.logits
    if isinstance(out, dict) and out:
        return out.get("logits", next(iter(out.values())))
    if isinstance(out, (tuple, list)) and out:
        return logits_of(out[0])
    raise RaxError(f"the model returned {type(out).__name__}; expected a tensor of logits", field="model")


def _x(wl, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    key = INPUT_KEY[wl.kind]
    if key not in batch:
        raise RaxError(f"a {wl.kind} batch needs {key!r}, has {', '.join(batch)}", field="batch")
    return batch[key]


def _hf_extra(wl, batch: dict[str, torch.Tensor]) -> dict:
    """No KV cache in a training/prefill step; an explicit attention mask (all ones for packed
    windows) also keeps transformers from probing position ids with data-dependent checks
    that cannot run on meta tensors."""
    if wl.kind != "lm":
        return {}
    mask = batch.get("attention_mask")
    if mask is None:
        mask = torch.ones_like(batch["input_ids"])
    return {"use_cache": False, "attention_mask": mask}


def forward(wl, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    x = _x(wl, batch)
    if wl.source.origin == "hf":
        return logits_of(model(**{INPUT_KEY[wl.kind]: x}, **_hf_extra(wl, batch)))
    return logits_of(model(x))


def loss(wl, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    x, y = _x(wl, batch), batch.get(TARGET_KEY[wl.kind])
    if wl.source.origin == "hf":
        return model(**{INPUT_KEY[wl.kind]: x, "labels": y}, **_hf_extra(wl, batch)).loss
    out = logits_of(model(x))
    if wl.kind == "lm":  # next-token prediction: position t predicts token t+1
        return F.cross_entropy(out[:, :-1].flatten(0, 1).float(), y[:, 1:].flatten())
    return objective(out, y)


def objective(out: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    if y is None:
        return out.float().pow(2).mean()
    if not y.is_floating_point() and out.dim() >= 2 and out.shape[0] == y.shape[0]:
        if y.dim() != 1:
            raise RaxError(f"integer targets must be one class label per sample, got shape {tuple(y.shape)}",
                           field="data")
        if y.device.type != "meta" and (int(y.max()) >= out.shape[-1] or int(y.min()) < 0):
            bad = int(y.max()) if int(y.max()) >= out.shape[-1] else int(y.min())
            raise RaxError(f"label {bad} but the model has classes 0..{out.shape[-1] - 1}", field="data")
        return F.cross_entropy(out.float(), y.long())
    if out.numel() != y.numel():
        raise RaxError(f"model output {tuple(out.shape)} does not match targets {tuple(y.shape)}", field="data")
    return F.mse_loss(out.float().reshape(y.shape), y.float())
