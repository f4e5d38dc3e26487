"""Built-in presets and bundled data samples.

A preset is a complete `WorkloadSpec` stored as `presets/<name>.yaml` in the package
(model, data sample, default targets). Bundled samples live in `samples/` and are named
in specs by their bare name (`data: tiny-text`); a name with a path separator or a
suffix is always a path.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from raxlab.errors import RaxError, unknown_name
from raxlab.workload.spec import WorkloadSpec, load_spec_file, path_kind, user_path

PRESET_DIR = Path(__file__).parent / "presets"
SAMPLE_DIR = Path(__file__).parent / "samples"

# Bundled samples: name -> path inside the package (all written or generated for RA:X).
SAMPLES = {
    "tiny-text": SAMPLE_DIR / "tiny-text.txt",   # original prose about sizing clusters
    "shapes": SAMPLE_DIR / "shapes",             # procedurally drawn PNGs, see _make_shapes.py
    # tiny-text.txt repeated 15 times (132,495 bytes), so long-context presets (131,072-token
    # sequences under the byte tokenizer) have one window; tests check it stays derived.
    "long-text": SAMPLE_DIR / "long-text.txt",
}


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


@lru_cache(maxsize=None)
def load_preset(name: str) -> WorkloadSpec:
    """The preset's spec; unknown names list the known ones."""
    path = PRESET_DIR / f"{name}.yaml"
    if not path.is_file():
        raise unknown_name("preset", name, preset_names(), field="workload")
    spec = load_spec_file(path)
    if spec.name != name:  # guards copy-paste slips between preset files
        raise RaxError(f"preset file {path.name} is named {spec.name!r}", field="name")
    return spec


PROXY_SUFFIX = "@proxy"


def resolve_spec(ref: str, trust_flag: bool = False) -> tuple[WorkloadSpec, bool]:
    """(spec, proxy) for a spec file path or a preset name, as `load_workload` reads it: the
    suffix '@proxy' (when no file has that name) gives the spec's runnable stand-in. No torch."""
    proxy = ref.endswith(PROXY_SUFFIX) and path_kind(user_path(ref, "workload"), "workload") is None
    spec = _spec(ref[: -len(PROXY_SUFFIX)] if proxy else ref, trust_flag)
    return (spec.proxy_spec() if proxy else spec), proxy


def _spec(ref: str, trust_flag: bool) -> WorkloadSpec:
    path = user_path(ref, "workload")
    kind = path_kind(path, "workload")
    if kind == "file":
        return load_spec_file(path, trust_flag=trust_flag)
    if ref in preset_names():
        return load_preset(ref)
    if kind == "dir":
        raise RaxError(f"{ref} is a folder; give a spec file (.yaml) or a preset name", field="workload")
    if path.suffix.lower() in (".yaml", ".yml") or "/" in ref or "\\" in ref:
        raise RaxError(f"no such spec file: {ref}", field="workload")
    raise unknown_name("preset", ref, preset_names(), field="workload")


def is_sample_name(ref: str) -> bool:
    return ref in SAMPLES


def sample_path(ref: str) -> Path:
    if ref not in SAMPLES:
        raise unknown_name("bundled sample", ref, list(SAMPLES), field="data")
    return SAMPLES[ref]



SAMPLE_KINDS = {"tiny-text": "lm", "shapes": "vision", "long-text": "lm"}
_HIDDEN, _LAYERS, _HEADS = ("hidden_size", "n_embd"), ("num_hidden_layers", "n_layer"), ("num_attention_heads", "n_head")


def _first(d: dict, keys: tuple[str, ...]):
    return next((d[k] for k in keys if k in d), None)


def _shape(spec: WorkloadSpec) -> str:
    parts = []
    if isinstance(spec.model, dict):
        h, layers, heads = (_first(spec.model, k) for k in (_HIDDEN, _LAYERS, _HEADS))
        if h and layers:
            parts.append(f"h {h} x L {layers}" + (f", {heads} heads" if heads else ""))
    if spec.seq_len:
        parts.append(f"seq {spec.seq_len}")
    if spec.image_size:
        parts.append(f"{spec.image_size}px")
    return ", ".join(parts)


def preset_rows() -> list[dict]:
    """One summary row per preset, without building models (fast: no torch import)."""
    rows = []
    for name in preset_names():
        spec = load_preset(name)
        model = spec.model["model_type"] if isinstance(spec.model, dict) else spec.model
        rows.append({
            "name": name, "kind": spec.kind or SAMPLE_KINDS.get(spec.data.path, "?"),
            "model_summary": model, "shape": _shape(spec), "description": spec.description,
            "source": spec.source, "meta_only": spec.meta_only, "data": spec.data.path,
            "seq_len": spec.seq_len, "image_size": spec.image_size, "micro_batch": spec.micro_batch,
            "global_batch": spec.effective_global_batch, "precisions": list(spec.precisions),
            "targets": spec.targets.model_dump(exclude_none=True),
        })
    return rows
