"""Every number of a Hugging Face config checked before transformers or torch see it.

transformers validates only some model types, and torch turns a bad size into a RuntimeError
deep inside a layer (issue 20: a negative size or `num_key_value_heads` that does not divide
`num_attention_heads` reached torch as a traceback). `check_fields(fields)` runs on the user's
dict (inline, config.json, proxy overrides) and again on the built config's resolved attributes
(`check_config`), so defaults combined with the user's values are checked too:

- sizes (`SIZES`, and any other `num_*`/`n_*`/`*_size`/`*_dim`/`*_heads`/`*_layers` number):
  whole numbers (not true/false, not 2.5), >= 1 for the named sizes (>= 0 for other counts),
  at most the bound in `SIZES` (far above any model built so far, so a typo like an extra three
  zeros fails in one line instead of stalling a build), 2**31 - 1 for the rest; lists of sizes
  (`hidden_sizes`, `depths`, `image_size: [h, w]`) element by element;
- heads divide: `num_attention_heads` divides `hidden_size` unless `head_dim` is given;
  `num_key_value_heads` divides `num_attention_heads`; `num_experts_per_tok` <= experts;
- `pad_token_id` in 0..vocab_size-1 (the embedding's padding row), bos/eos ids whole numbers >= 0;
- epsilons finite and > 0, dropouts and probabilities in [0, 1], `rope_theta` > 0, other floats finite;
- flags (`use_*`, `tie_*`, `is_*`, `*_bias`) true/false, not "false".
"""

from __future__ import annotations

import math
import re
from typing import Any

from raxlab.errors import RaxError

# name -> upper bound (sources: the largest public configs are ~25 k hidden, 128-160 layers, 256 k vocab,
# 10 M context, 256-384 experts; each bound is 10-100x that)
SIZES = {
    "hidden_size": 2**18, "n_embd": 2**18, "d_model": 2**18, "dim": 2**18,
    "intermediate_size": 2**21, "n_inner": 2**21, "ffn_dim": 2**21, "moe_intermediate_size": 2**21,
    "shared_expert_intermediate_size": 2**21,
    "num_hidden_layers": 4096, "n_layer": 4096, "num_layers": 4096,
    "num_attention_heads": 16384, "n_head": 16384, "num_heads": 16384, "num_key_value_heads": 16384,
    "head_dim": 8192, "qk_rope_head_dim": 8192, "qk_nope_head_dim": 8192, "v_head_dim": 8192,
    "kv_lora_rank": 2**18, "q_lora_rank": 2**18,
    "vocab_size": 2**24, "max_position_embeddings": 2**27, "n_positions": 2**27, "n_ctx": 2**27,
    "num_experts": 2**16, "n_routed_experts": 2**16, "num_local_experts": 2**16, "num_experts_per_tok": 2**16,
    "num_channels": 4096, "image_size": 2**16, "patch_size": 2**16, "num_labels": 2**24,
    "sliding_window": 2**27,
}
COUNT = re.compile(r"^(num|n)_\w+$|_(size|sizes|dim|dims|heads|layers|depths|experts|channels|length)$|^depths$")
FLAG = re.compile(r"^(use|tie|is|add|output|return)_\w+$|_bias$")
EPS = re.compile(r"(_eps|_epsilon|^eps)$")
PROB = re.compile(r"(dropout|_prob|_pdrop|_drop_rate)$")
TOKEN_IDS = ("pad_token_id", "bos_token_id", "eos_token_id")
INT_MAX = 2**31 - 1


def _bad(name: str, value: Any, allowed: str) -> RaxError:
    return RaxError(f"{value!r} is not allowed; {allowed}", field=f"model.{name}")


def _whole(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer() and math.isfinite(value):
            raise _bad(name, value, f"a size is a whole number: write {int(value)}")
        raise _bad(name, value, f"a whole number from {low} to {high:,}")
    if not low <= value <= high:
        raise _bad(name, value, f"a whole number from {low} to {high:,}")


def _size(name: str, value: Any) -> None:
    if value is None and name not in ("hidden_size", "num_hidden_layers", "vocab_size"):
        return
    low, high = (1, SIZES[name]) if name in SIZES else (0, INT_MAX)
    low = 0 if name == "sliding_window" else low  # 0: no window (Qwen2)
    if isinstance(value, dict):  # per-part sizes (e.g. lxmert's layers per encoder)
        for v in value.values():
            _size(name, v)
        return
    if isinstance(value, (list, tuple)):  # per-stage or per-layer sizes (Swin heads, Gemma-3n FFN widths)
        if not value or len(value) > 2**16:
            raise _bad(name, value, "a whole number or a non-empty list of them")
        for v in value:
            _whole(name, v, max(low, 1 if name in ("hidden_sizes", "image_size", "patch_size") else 0), high)
        return
    _whole(name, value, low, high)


def _number(name: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _bad(name, value, "a finite number")
    if EPS.search(name) and value <= 0:
        raise _bad(name, value, "an epsilon is a number > 0 (e.g. 1e-5)")
    if PROB.search(name) and not 0 <= value <= 1:
        raise _bad(name, value, "a probability from 0 to 1")
    if name == "rope_theta" and value <= 0:
        raise _bad(name, value, "a number > 0 (e.g. 10000)")


def check_fields(fields: dict[str, Any]) -> None:
    """One-line RaxError for the first bad number in a config dict (see the module docstring)."""
    for name, value in fields.items():
        if not isinstance(name, str):
            raise RaxError(f"config keys must be text, got {name!r}", field="model")
        if name in SIZES or (COUNT.search(name) and (isinstance(value, (int, float, list, tuple)) or value is None)):
            _size(name, value)
        elif FLAG.search(name) and value is not None and not isinstance(value, (bool, str, dict, list)):
            raise _bad(name, value, "true or false")
        elif FLAG.search(name) and isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
            raise _bad(name, value, f"true or false without quotes ({value.lower() in ('true', 'yes')})")
        elif (EPS.search(name) or PROB.search(name) or name == "rope_theta") and not isinstance(value, dict):
            _number(name, value)
        elif isinstance(value, float) and not math.isfinite(value):
            raise _bad(name, value, "a finite number")
    _consistent(fields)


def _consistent(f: dict[str, Any]) -> None:
    hidden = _first(f, "hidden_size", "n_embd", "d_model")
    heads = _first(f, "num_attention_heads", "n_head", "num_heads")
    kv = f.get("num_key_value_heads")
    if _ints(hidden, heads) and f.get("head_dim") is None and hidden % heads:
        raise RaxError(f"hidden_size {hidden} is not a multiple of num_attention_heads {heads} (or give head_dim)",
                       field="model.num_attention_heads")
    if _ints(heads, kv) and heads % kv:
        raise RaxError(f"num_key_value_heads {kv} must divide num_attention_heads {heads} (grouped-query "
                       "attention shares each key/value head among a whole number of query heads)",
                       field="model.num_key_value_heads")
    experts = _first(f, "num_experts", "n_routed_experts", "num_local_experts")
    k = f.get("num_experts_per_tok")
    if _ints(experts, k) and k > experts:
        raise RaxError(f"num_experts_per_tok {k} is more than the {experts} experts", field="model.num_experts_per_tok")
    vocab, pad = f.get("vocab_size"), f.get("pad_token_id")  # the padding row of the embedding (torch checks it)
    if pad is not None and (isinstance(pad, bool) or not isinstance(pad, int) or pad < 0
                            or (_ints(vocab) and pad >= vocab)):
        top = f"0 to {vocab - 1}" if _ints(vocab) else "0 or more"
        raise _bad("pad_token_id", pad, f"a token id from {top} (vocab_size {vocab}), or null")
    for name in ("bos_token_id", "eos_token_id"):  # used only to generate: any whole number >= 0 or null
        ids = f.get(name)
        for i in ids if isinstance(ids, (list, tuple)) else [ids]:
            if i is not None and (isinstance(i, bool) or not isinstance(i, int) or i < 0):
                raise _bad(name, ids, "a token id (a whole number >= 0), a list of them, or null")


def _first(f: dict, *names: str):
    return next((f[n] for n in names if f.get(n) is not None), None)


def _ints(*values) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values)


CORE = ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "intermediate_size",
        "vocab_size", "pad_token_id")


def check_config(config) -> None:
    """The core sizes of a built transformers config (its defaults combined with the user's values):
    positive and bounded, key/value heads dividing the heads, the pad id inside the vocabulary. The
    full rules apply to what the user wrote (`check_fields`); defaults of exotic model types are
    the library's business."""
    resolved = {}
    for n in CORE:
        try:
            v = getattr(config, n)
        except Exception:  # an attribute_map alias whose target this config does not have
            continue
        if v is not None:
            resolved[n] = v
    for name in CORE[:-1]:
        if name in resolved:
            _size(name, resolved[name])
    heads, kv = resolved.get("num_attention_heads"), resolved.get("num_key_value_heads")
    if _ints(heads, kv) and heads % kv:
        raise RaxError(f"num_key_value_heads {kv} must divide num_attention_heads {heads}",
                       field="model.num_key_value_heads")
    pad, vocab = resolved.get("pad_token_id"), resolved.get("vocab_size")
    if _ints(vocab) and isinstance(pad, int) and not 0 <= pad < vocab:
        raise _bad("pad_token_id", pad, f"a token id from 0 to {vocab - 1} (vocab_size {vocab}), or null")
