"""The acceptance block of a plan file, checked strictly before anything is measured.

A plan file is the user's to keep and may be edited; `rax accept` starts long measurements from
it. So every field is typed and bounded (issue 20: `nodes: 1.5` was taken as 1 node and the
measurement started): counts are JSON integers (not 1.5, not 2.0, not true), names are text,
precision and layout enums are the known ones, layout fields are `predict.layout.Layout`'s and
must make a layout that runs on nodes x gpus_per_node GPUs, numbers are finite, and unknown keys
are errors listing the known ones. The writers are `plan.detail.acceptance` and (emulated clusters)
`accept.emulated.emulated_plan`; `KEYS`/`PROJECTED` must name every key they write (tests hold them
together).
"""

from __future__ import annotations

import dataclasses
import math
import re

from raxlab.errors import RaxError, unknown_name

KEYS = ("workload", "workload_ref", "workload_sha256", "accelerator", "server", "nodes", "gpus", "gpus_per_node",
        "fabric", "rails", "precision", "layout", "seq_len", "projected", "label", "thresholds")
PROJECTED = ("step_time_s", "tokens_per_s", "samples_per_s", "mfu", "memory_per_gpu_gib", "error_band",
             "step_time_band_s", "compute_step_s", "ddp_model")  # the last two: accept.emulated's plans
PRECISIONS = ("fp32", "tf32", "bf16", "fp16", "fp8", "fp4")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _fail(path: str, where: str, what: str, value) -> RaxError:
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return RaxError(f"{path}: acceptance.{where} must be {what}, got {shown}", field="PLAN")


def whole(value, where: str, path: str, low: int = 1, high: int = 2**31 - 1) -> int:
    """A JSON integer in [low, high]: 1.5 is refused, and so are 2.0 and true (a count is a count)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(path, where, f"a whole number from {low} to {high:,}", value)
    return value


def text(value, where: str, path: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 4096:
        raise _fail(path, where, "a name (text)" + (" or null" if optional else ""), value)
    return value


def finite(value, where: str, path: str, *, low: float = 0.0, optional: bool = True):
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < low:
        raise _fail(path, where, f"a finite number >= {low:g}" + (" or null" if optional else ""), value)
    return value


def _known(keys, known, where: str, path: str) -> None:
    bad = [k for k in keys if k not in known]
    if bad:
        err = unknown_name(f"key in acceptance{'.' + where if where else ''} of {path}", str(bad[0]), list(known),
                           field="PLAN")
        raise err


def check_acceptance(acc: dict, path: str) -> None:
    """One-line RaxError for the first field of `acc` that is not what `rax plan` writes."""
    _known(acc, KEYS, "", path)
    text(acc.get("workload"), "workload", path)
    text(acc.get("workload_ref"), "workload_ref", path, optional=True)
    sha = acc.get("workload_sha256")
    if sha is not None and not (isinstance(sha, str) and SHA256.match(sha)):
        raise _fail(path, "workload_sha256", "64 hex digits (SHA-256) or null", sha)
    text(acc.get("accelerator"), "accelerator", path)
    text(acc.get("server"), "server", path, optional=True)
    text(acc.get("fabric"), "fabric", path, optional=True)
    nodes = whole(acc.get("nodes"), "nodes", path, 1, 100_000)
    per_node = whole(acc.get("gpus_per_node"), "gpus_per_node", path, 1, 1024)
    if acc.get("gpus") is not None and whole(acc["gpus"], "gpus", path) != nodes * per_node:
        raise _fail(path, "gpus", f"nodes x gpus_per_node = {nodes * per_node}", acc["gpus"])
    if acc.get("rails") is not None:
        whole(acc["rails"], "rails", path, 0, 256)
    if acc.get("precision") not in PRECISIONS:
        raise _fail(path, "precision", f"one of {', '.join(PRECISIONS)}", acc.get("precision"))
    if acc.get("seq_len") is not None:
        whole(acc["seq_len"], "seq_len", path, 1, 2**27)
    if acc.get("label") not in (None, "projected"):
        raise _fail(path, "label", "'projected'", acc.get("label"))
    if "layout" in acc:
        check_layout_block(acc["layout"], nodes * per_node, per_node, path)


def check_projected(proj: dict, path: str) -> None:
    _known(proj, PROJECTED, "projected", path)
    finite(proj.get("step_time_s"), "projected.step_time_s", path, optional=False, low=1e-12)
    for k in ("tokens_per_s", "samples_per_s", "mfu", "memory_per_gpu_gib", "compute_step_s"):
        finite(proj.get(k), f"projected.{k}", path)
    model = proj.get("ddp_model")
    if model is not None and not (isinstance(model, dict) and all(
            finite(v, f"projected.ddp_model.{k}", path) is not None or v is None for k, v in model.items())):
        raise _fail(path, "projected.ddp_model", "a mapping of numbers", model)
    band = proj.get("step_time_band_s")
    if band is not None and not (isinstance(band, list) and len(band) == 2 and all(
            finite(v, "projected.step_time_band_s", path, optional=False) is not None for v in band)):
        raise _fail(path, "projected.step_time_band_s", "[low, high] in seconds or null", band)


def _layout_types() -> dict[str, tuple[type, ...]]:
    from raxlab.predict.layout import Layout

    kinds = {"int": (int,), "bool": (bool,), "str": (str,), "int | None": (int, type(None))}
    out = {f.name: kinds.get(str(f.type), (object,)) for f in dataclasses.fields(Layout)}
    return out | {"grad_accum": (int,)}


def check_layout_block(lay, gpus: int, per_node: int, path: str) -> None:
    """Every layout field typed as `Layout` declares it, and the layout runs on `gpus` GPUs."""
    from raxlab.predict.layout import Layout, check_layout

    if not isinstance(lay, dict):
        raise _fail(path, "layout", "a mapping", lay)
    types = _layout_types()
    _known(lay, types, "layout", path)
    for k, v in lay.items():
        want = types[k]
        if (isinstance(v, bool) and bool not in want) or not isinstance(v, want):
            raise _fail(path, f"layout.{k}", " or ".join(t.__name__ if t is not type(None) else "null" for t in want), v)
        if isinstance(v, int) and not isinstance(v, bool) and not -1 < v < 2**31:
            raise _fail(path, f"layout.{k}", "a whole number from 0 to 2,147,483,647", v)
    fields = {k: v for k, v in lay.items() if k != "grad_accum"}
    try:
        layout = Layout(**fields)
        check_layout(layout, gpus=gpus, gpus_per_node=per_node)
    except RaxError as exc:
        raise RaxError(f"{path}: acceptance.layout: {exc}", field="PLAN") from None
    if "grad_accum" in lay and lay["grad_accum"] != layout.grad_accum:
        raise _fail(path, "layout.grad_accum", f"global_batch / (micro_batch x dp) = {layout.grad_accum}",
                    lay["grad_accum"])
