"""Efficiency priors as data (`data/priors.yaml`), each number with its source or estimate.

`efficiency_prior(name, mamf=...)` gives the `Efficiency` of a catalogue accelerator and the
list of assumptions behind it (numbers that are estimates rather than published
measurements); a catalogue MAMF figure (measured achievable matmul) overrides the file's
matmul fraction for that dtype.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import yaml

from raxlab.errors import RaxError
from raxlab.predict.hardware import Efficiency
from raxlab.predict.kernels import kernel_params
from raxlab.safe_yaml import PACKAGE_LOADER

PRIORS_PATH = Path(__file__).parent / "data" / "priors.yaml"


@dataclass(frozen=True)
class Prior:
    value: float
    source: str | None = None
    estimate: str | None = None

    @property
    def provenance(self) -> str:
        return self.source or f"estimate: {self.estimate}"


@lru_cache(maxsize=1)
def load_priors() -> dict[str, Any]:
    try:
        data = yaml.load(PRIORS_PATH.read_text(), Loader=PACKAGE_LOADER)
    except (OSError, yaml.YAMLError) as e:  # a broken package file is a bug, but say which file
        raise RaxError(f"cannot read {PRIORS_PATH}: {e}", field="priors") from e
    return data


def _prior(node: Mapping[str, Any], where: str) -> Prior:
    if not isinstance(node, Mapping) or "value" not in node or not (node.get("source") or node.get("estimate")):
        raise RaxError(f"{where}: a prior needs value and source or estimate", field="priors")
    return Prior(float(node["value"]), node.get("source"), node.get("estimate"))


def scalar(section: str, key: str) -> Prior:
    """One top-level prior, e.g. scalar('nccl', 'base_s')."""
    return _prior(load_priors()[section][key], f"{section}.{key}")


def scaleup_eff(link: str) -> Prior:
    table = load_priors()["scaleup_eff"]
    if link not in table:
        raise RaxError(f"no scale-up efficiency prior for link {link!r}; known: {', '.join(table)}",
                       field="scaleup_link")
    return _prior(table[link], f"scaleup_eff.{link}")


def efficiency_prior(name: str, mamf: Mapping[str, float] | None = None,
                     peaks: Mapping[str, float] | None = None) -> tuple[Efficiency, dict[str, str]]:
    """`Efficiency` for accelerator `name` and the assumptions it rests on, keyed
    'generic', 'matmul:<dtype>', 'attention', 'mem_bw' (pick the ones that apply with
    `assumptions_for`).

    `mamf` (dtype → measured achievable FLOP/s) with `peaks` (dtype → dense peak) override the
    file's matmul fractions. An accelerator without an entry gets the generic prior."""
    data = load_priors()
    entry = data["accelerators"].get(name)
    notes: dict[str, str] = {}
    if entry is None:
        entry = data["generic"]
        notes["generic"] = (f"no published efficiency measurements for {name}: generic priors used "
                            "(measure it with `rax bench kernels` / `rax calibrate` to replace them)")
    matmul = {d: _prior(p, f"{name}.matmul.{d}") for d, p in entry["matmul"].items()}
    for dtype, flops in (mamf or {}).items():
        if flops and peaks and peaks.get(dtype):
            matmul[dtype] = Prior(flops / peaks[dtype], source=f"catalogue MAMF {flops / 1e12:.1f} TF/s")
    attention = _prior(entry["attention"], f"{name}.attention")
    mem = _prior(entry["mem_bw"], f"{name}.mem_bw")
    for key, p in [*((f"matmul:{d}", q) for d, q in matmul.items()), ("attention", attention), ("mem_bw", mem)]:
        if p.source is None and "generic" not in notes:
            notes[key] = f"{name} {key} efficiency {p.value:.2f} is an estimate: {p.estimate}"
    src = "; ".join(f"{k}: {v.provenance}" for k, v in (("matmul bf16", matmul.get("bf16")),
                                                         ("attention", attention)) if v)
    mm_f, att_f, r1 = (scalar("training", k).value for k in ("matmul_factor", "attention_factor", "flash1_ratio"))
    kp = kernel_params(name)
    notes.update({f"kernels:{i}": n for i, n in enumerate(kp.notes)})
    curves = {k: {p: (c.e_inf * att_f, c.s0) for p, c in passes.items()} for k, passes in kp.attention.items()}
    eff = Efficiency(matmul={d: p.value * mm_f for d, p in matmul.items()}, attention=attention.value * att_f,
                     attention_flash1=attention.value * att_f * r1, mem_bw=mem.value,
                     source=src + f"; in-training factors {mm_f:g}/{att_f:g} (priors.yaml training); "
                            f"kernel shapes: {kp.family} ({kp.evidence})",
                     sms=kp.sms, gemm=dict(kp.gemm), attention_curves=curves)
    return eff, notes


def assumptions_for(notes: Mapping[str, str], dtype: str, attention: bool = True) -> list[str]:
    """The assumption notes that matter for a run in `dtype`."""
    keys = ["generic", f"matmul:{dtype}", "mem_bw"] + (["attention"] if attention else [])
    return [notes[k] for k in keys if k in notes] + [v for k, v in notes.items() if k.startswith("kernels:")]
