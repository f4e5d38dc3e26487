"""Hugging Face model sources: configs from a dict, a config.json or a model folder.

Models are always built from the config (`from_config`), never downloaded: weights do
not change FLOPs, bytes or memory, and this lab runs offline. Attention is built eager
(`attn_implementation="eager"`) so QK^T and PV are plain matmuls that FlopCounterMode
counts (it counts 0 for CPU `scaled_dot_product_attention`; see DESIGN.md "Training FLOPs").
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from raxlab.errors import RaxError
from raxlab.workload.hfcheck import check_config, check_fields
from raxlab.workload.paths import path_kind


def _quiet_transformers() -> None:
    # Config validation warnings (e.g. eos id outside a tiny vocab) are noise for a card.
    from transformers.utils import logging

    logging.set_verbosity_error()


def read_config_file(path: Path) -> dict[str, Any]:
    """The dict in a config.json (or a model folder's config.json)."""
    from raxlab.infile import MiB, read_input

    kind = path_kind(path, "model")
    if kind == "dir":
        path = path / "config.json"
        kind = path_kind(path, "model")
    if kind is None:
        raise RaxError(f"no Hugging Face config at {path}", field="model")
    raw = read_input(path, "model", limit=16 * MiB, what="model config")  # no FIFO, device or huge file
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON, ints past 4300 digits, deep nesting
        raise RaxError(f"cannot read {path} as a JSON config: {str(exc)[:200]}", field="model") from None
    if not isinstance(data, dict) or "model_type" not in data:
        raise RaxError(f"{path} is not a Hugging Face config (no model_type key)", field="model")
    return data


def make_config(fields: dict[str, Any]):
    """A transformers config from plain fields; one-line errors for bad types/values."""
    from transformers import AutoConfig
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    _quiet_transformers()
    fields = dict(fields)
    model_type = fields.pop("model_type")
    fields.pop("architectures", None)  # we pick the head from the task, not the checkpoint
    if not isinstance(model_type, str):  # a YAML/JSON number or list: name it, do not hash it
        raise RaxError(f"must be a model type name such as llama or gpt2, got {model_type!r}", field="model.model_type")
    if model_type not in CONFIG_MAPPING_NAMES:
        raise _unknown_type(model_type)
    check_fields(fields)  # sizes, heads, ids, flags: before transformers or torch see them
    try:
        config = AutoConfig.for_model(model_type, **fields)
    except Exception as exc:  # transformers raises many types for bad field values
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise RaxError(f"invalid {model_type} config: {first}", field="model") from None
    if hf_kind_or_none(config) is not None:
        check_config(config)  # the core sizes as the config resolved them, its defaults included
    return config


COMMON_TYPES = ("llama", "mistral", "mixtral", "qwen2", "qwen3", "qwen3_moe", "gemma", "gemma2", "gemma3_text",
                "phi3", "gpt2", "gpt_neox", "falcon", "deepseek_v3", "olmo2", "vit", "convnext", "resnet", "swin")


def _unknown_type(model_type: str) -> RaxError:
    """Names the closest types and the common ones RA:X builds (transformers knows hundreds)."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES,
    )

    from raxlab.errors import closest

    usable = sorted({*MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, *MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES})
    near = closest(model_type, usable)
    common = [t for t in COMMON_TYPES if t in usable]
    return RaxError(f"unknown Hugging Face model_type {model_type!r}" + (f"; did you mean {', '.join(near)}?" if near
                    else "") + f" Known: {', '.join(common)} and {len(usable) - len(common)} more causal-LM and"
                    " image-classification types of transformers", field="model.model_type")


def hf_kind_or_none(config) -> str | None:
    try:
        return hf_kind(config)
    except RaxError:
        return None


def hf_kind(config) -> str:
    """'lm' for causal-LM model types, 'vision' for image classifiers."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES,
    )

    if config.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return "lm"
    if config.model_type in MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES:
        return "vision"
    raise RaxError(f"{config.model_type!r} has no causal-LM or image-classification head in transformers;"
                   " RA:X builds those two families from a config", field="model.model_type")


def with_layers(config, n: int):
    """A copy of `config` with `n` transformer layers (same width, vocab, heads)."""
    c = copy.deepcopy(config)
    c.num_hidden_layers = n  # attribute_map turns this into n_layer for GPT-2 style configs
    if isinstance(getattr(c, "layer_types", None), list):
        c.layer_types = c.layer_types[:n]
    return c


def num_layers(config) -> int | None:
    return getattr(config, "num_hidden_layers", None)


def build(config, kind: str, dtype):
    """A fresh model on the current default device (callers wrap in `torch.device`)."""
    from transformers import AutoModelForCausalLM, AutoModelForImageClassification

    from raxlab.workload import moe

    _quiet_transformers()
    auto = AutoModelForCausalLM if kind == "lm" else AutoModelForImageClassification
    extra = moe.build_kwargs() if kind == "lm" else {}  # balanced routing inside card traces on meta
    return auto.from_config(config, dtype=dtype, attn_implementation="eager", **extra)


def layer_shape(config, seq_len: int | None) -> dict[str, Any] | None:
    """Transformer layer shape (hidden, layers, heads, kv_heads, ffn, vocab, seq), or None; MoE
    configs add a `moe` block and MLA configs an `mla` block (`workload/moe.py`)."""
    hidden = getattr(config, "hidden_size", None)
    layers = num_layers(config)
    heads = getattr(config, "num_attention_heads", None)
    if not (hidden and layers and heads):
        return None
    ffn = getattr(config, "intermediate_size", None) or getattr(config, "n_inner", None) or 4 * hidden
    shape = {
        "hidden": int(hidden),
        "layers": int(layers),
        "heads": int(heads),
        "kv_heads": int(getattr(config, "num_key_value_heads", None) or heads),
        "head_dim": int(getattr(config, "head_dim", None) or hidden // heads),
        "ffn": int(ffn),
        "vocab": getattr(config, "vocab_size", None),
        "seq": seq_len,
        "tied_embeddings": bool(getattr(config, "tie_word_embeddings", False)),
    }
    return _moe_and_mla(config, shape)


def _moe_and_mla(config, shape: dict[str, Any]) -> dict[str, Any]:
    """Add the MoE/MLA blocks where the config has them (dense shapes stay as they were)."""
    from raxlab.workload import moe

    block, mla = moe.moe_block(config), moe.mla_block(config)
    if block is not None:
        shape["ffn"] = block["dense_ffn"]
        shape["gated_mlp"] = True  # every MoE family transformers ships has SwiGLU experts and MLPs
        shape["moe"] = block
    if mla is not None:
        shape["head_dim"] = mla["qk_nope_head_dim"] + mla["qk_rope_head_dim"]  # the Q·Kᵀ width per head
        shape["mla"] = mla
    return shape


def max_positions(config) -> int | None:
    return getattr(config, "max_position_embeddings", None)


def input_expectations(config, kind: str) -> dict[str, Any]:
    """What data the model accepts, straight from the config (no model build)."""
    if kind == "lm":
        return {"vocab": getattr(config, "vocab_size", None)}
    return {
        "in_channels": getattr(config, "num_channels", None),
        "num_classes": getattr(config, "num_labels", None),
        "image_size": getattr(config, "image_size", None),
    }
