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
from raxlab.workload.spec import WorkloadSpec, load_spec_file

PRESET_DIR = Path(__file__).parent / "presets"
SAMPLE_DIR = Path(__file__).parent / "samples"

# Bundled samples: name -> path inside the package (all written or generated for RA:X).
SAMPLES = {
    "tiny-text": SAMPLE_DIR / "tiny-text.txt",   # original prose about sizing clusters
    "shapes": SAMPLE_DIR / "shapes",             # procedurally drawn PNGs, see _make_shapes.py
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


def is_sample_name(ref: str) -> bool:
    return ref in SAMPLES


def sample_path(ref: str) -> Path:
    if ref not in SAMPLES:
        raise unknown_name("bundled sample", ref, list(SAMPLES), field="data")
    return SAMPLES[ref]


def looks_like_path(ref: str) -> bool:
    """True when `ref` can only be meant as a file path (separator or suffix)."""
    return "/" in ref or "\\" in ref or Path(ref).suffix != "" or ref.startswith("~")
