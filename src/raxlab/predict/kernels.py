"""Kernel-level efficiency per accelerator family, as data (`data/kernels.yaml`).

`kernel_params(accelerator)` gives the family's SM count, the GEMM pipeline-fill and fixed
time per dtype, the fused-attention curves per kernel generation and pass, each from published kernel measurements (fitted by `kernelfit.py`), plus the
notes a projection must carry when a family's evidence is borrowed or missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import yaml

from raxlab.errors import RaxError
from raxlab.safe_yaml import PACKAGE_LOADER

KERNELS_PATH = Path(__file__).parent / "data" / "kernels.yaml"
EVIDENCE_LEVELS = ("kernel", "borrowed", "none")


@dataclass(frozen=True)
class Curve:
    """e(s) = e_inf · s / (s + s0) of the 16-bit peak (s0 = 0: flat)."""

    e_inf: float
    s0: float = 0.0


@dataclass(frozen=True)
class KernelParams:
    family: str
    evidence: str  # kernel | borrowed | none
    sms: int  # 0: no wave quantization modelled
    gemm: Mapping[str, tuple[float, float]]  # dtype -> (k0 elements, fixed seconds)
    attention: Mapping[str, Mapping[str, Curve]] = field(default_factory=dict)  # kernel -> pass -> curve
    notes: tuple[str, ...] = ()

    def gemm_for(self, dtype: str) -> tuple[float, float]:
        if dtype in self.gemm:
            return self.gemm[dtype]
        return self.gemm.get("bf16") or _default_gemm()


@lru_cache(maxsize=1)
def load_kernels() -> dict[str, Any]:
    try:
        return yaml.load(KERNELS_PATH.read_text(), Loader=PACKAGE_LOADER)
    except (OSError, yaml.YAMLError) as e:
        raise RaxError(f"cannot read {KERNELS_PATH}: {e}", field="kernels") from e


def _value(node: Mapping[str, Any], where: str) -> float:
    if not isinstance(node, Mapping) or "value" not in node or not (node.get("source") or node.get("estimate")):
        raise RaxError(f"{where}: needs value and source or estimate", field="kernels")
    return float(node["value"])


def _default_gemm() -> tuple[float, float]:
    d = load_kernels()["default_gemm"]
    return _value(d["k0"], "default_gemm.k0"), _value(d["fixed_us"], "default_gemm.fixed_us") * 1e-6


def family_of(accelerator: str) -> tuple[str, Mapping[str, Any]] | None:
    for name, fam in load_kernels()["families"].items():
        if accelerator in fam.get("members", ()):
            return name, fam
    return None


def _curves(fam: Mapping[str, Any], where: str) -> dict[str, dict[str, Curve]]:
    out: dict[str, dict[str, Curve]] = {}
    for kernel, passes in (fam.get("attention") or {}).items():
        if passes == "same_as_flash":
            continue
        out[kernel] = {p: Curve(float(c["e_inf"]), float(c.get("s0", 0.0))) for p, c in passes.items()}
        for p, c in passes.items():
            if not (c.get("source") or c.get("estimate")):
                raise RaxError(f"{where}.attention.{kernel}.{p}: needs source or estimate", field="kernels")
    if "flash" in out and (fam.get("attention") or {}).get("fused") == "same_as_flash":
        out["fused"] = out["flash"]
    return out


@lru_cache(maxsize=None)
def kernel_params(accelerator: str) -> KernelParams:
    """The kernel-level parameters of `accelerator` (a catalogue name)."""
    found = family_of(accelerator)
    if found is None:
        return KernelParams(family="unknown", evidence="none", sms=0, gemm={},
                            notes=(f"no kernel-level evidence for {accelerator}: GEMM shape effects and "
                                   "attention curves not modelled, widest error band",))
    name, fam = found
    where = f"kernels.{name}"
    evidence = fam.get("evidence", "none")
    if evidence not in EVIDENCE_LEVELS:
        raise RaxError(f"{where}.evidence: {evidence!r}; allowed: {', '.join(EVIDENCE_LEVELS)}", field="kernels")
    sms_node = fam["sms"]
    sms = int((sms_node.get("by_member") or {}).get(accelerator, _value(sms_node, f"{where}.sms")))
    gemm = {d: (_value(g["k0"], f"{where}.gemm.{d}.k0"), _value(g["fixed_us"], f"{where}.gemm.{d}.fixed_us") * 1e-6)
            for d, g in (fam.get("gemm") or {}).items()}
    return KernelParams(family=name, evidence=evidence, sms=sms, gemm=gemm, attention=_curves(fam, where),
                        notes=_notes(accelerator, name, evidence))


def _notes(accelerator: str, family: str, evidence: str) -> tuple[str, ...]:
    if evidence == "kernel":
        return ()
    if evidence == "borrowed":
        return (f"{accelerator} ({family}): GEMM shape parameters borrowed from another generation's kernel "
                "tables (data/kernels.yaml); band widened",)
    return (f"{accelerator} ({family}): no kernel-level shape or attention evidence; GEMM shape effects not "
            "modelled, widest error band",)
