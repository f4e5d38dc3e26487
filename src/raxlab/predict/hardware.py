"""The hardware a projection runs on, as plain SI numbers (no file formats, no catalogue types).

`Hardware` describes one node design joined by one fabric: per-GPU compute peaks and memory,
the scale-up domain (NVLink/NVSwitch, xGMI or PCIe) and the scale-out rails. `Efficiency`
holds the achievable fractions (of peak FLOP/s, of HBM bandwidth) for that device; they come
from `priors.yaml` (published measurements, with provenance) or from a calibration on the
customer's own hardware (`calibrate.py`). `HwConsts` is the flattened view the vectorised
core reads: every field a float or a numpy array, so the planner can stack many hardware
candidates into one evaluation (`stack_hardware`).

Bandwidth conventions (nccl-tests doc/PERFORMANCE.md): a link's `bw` is the achievable *bus*
bandwidth per GPU, so a ring collective's bandwidth term is factor × bytes / bw.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Mapping

import numpy as np

from raxlab.errors import RaxError
from raxlab.predict import nccl, regimes


@dataclass(frozen=True)
class Efficiency:
    """Achievable fractions for one device (0 < x ≤ 1) and fixed overheads (seconds)."""

    matmul: Mapping[str, float]  # per dtype: large-GEMM FLOP/s ÷ dense peak
    attention: float  # FlashAttention-2-class fwd+bwd FLOP/s ÷ 16-bit peak (causal FLOPs counted)
    attention_flash1: float  # the same for FlashAttention-1/Triton-era kernels
    mem_bw: float  # streaming HBM bandwidth ÷ datasheet
    layer_overhead_s: float = 0.0  # launch/framework time per layer per fwd or bwd pass
    step_overhead_s: float = 0.0  # per optimizer step (host sync, logging, scheduler)
    source: str = ""
    # Kernel-level shape model (predict/gemm.py, data/kernels.yaml). sms 0: no wave quantization.
    sms: int = 0
    gemm: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # dtype -> (k0, fixed s)
    # Attention curves e_inf·s/(s+s0) per kernel ("flash", "fused") and pass ("fwd", "bwd");
    # absent: the flat `attention` / `attention_flash1` fractions for every sequence length.
    attention_curves: Mapping[str, Mapping[str, tuple[float, float]]] = field(default_factory=dict)

    def gemm_for(self, dtype: str) -> tuple[float, float]:
        """(k0, fixed seconds) of the GEMM ramp for `dtype` (0, 0: a flat efficiency)."""
        return self.gemm.get(dtype) or self.gemm.get("bf16") or (0.0, 0.0)

    def curve(self, kernel: str, pass_: str) -> tuple[float, float]:
        """(e_inf, s0) of an attention kernel's pass; flat fallbacks when no curve is known."""
        for k in ((kernel, "flash") if kernel == "fused" else (kernel,)):
            c = self.attention_curves.get(k, {}).get(pass_)
            if c is not None:
                return c
        return (self.attention_flash1 if kernel == "flash1" else self.attention), 0.0

    def matmul_for(self, dtype: str) -> float:
        if dtype not in self.matmul:
            known = ", ".join(sorted(self.matmul)) or "none"
            raise RaxError(f"no matmul efficiency for {dtype} (known: {known})", field="precision")
        return float(self.matmul[dtype])


@dataclass(frozen=True)
class CommFit:
    """A measured α-β fit for one transport, overriding the priors for that link.

    `alpha_s` is the latency of one ring step; `busbw_Bps` the achieved bus bandwidth per GPU
    (1/β). Build one from a stored nccl-tests style fit with `CommFit.from_collective_fit`."""

    alpha_s: float
    busbw_Bps: float
    source: str = "measured"

    @classmethod
    def from_collective_fit(cls, alpha_s: float, busbw_Bps: float, ranks: int, kind: str = "all_reduce",
                            source: str = "measured") -> "CommFit":
        """A fit t(n) = α + n/busbw·factor of one collective on `ranks` ranks → per-step α."""
        steps = 2 * (ranks - 1) if kind == "all_reduce" else ranks - 1
        return cls(alpha_s=alpha_s / max(steps, 1), busbw_Bps=busbw_Bps, source=source)


@dataclass(frozen=True)
class Hardware:
    """One node design on one fabric. All SI: FLOP/s, bytes, B/s, seconds."""

    name: str
    peak_flops: Mapping[str, float]  # dense, per dtype
    mem_bytes: float
    mem_bw: float
    gpus_per_node: int
    scaleup_bw: float  # per GPU, one direction (datasheet)
    scaleup_eff: float  # achievable busbw ÷ scaleup_bw
    eff: Efficiency
    scaleup_kind: str = "nvswitch"  # nvswitch | pcie | xgmi | nvlink-bridge-pairs | on-chip-roce
    rails_per_node: int = 0  # NICs used for GPU traffic; 0 = single node only
    rail_bw: float = 0.0  # line rate of one rail
    fabric_eff: float = 0.0  # achievable NCCL busbw ÷ line rate
    fabric_latency_s: float = 0.0
    fabric: str = ""
    oversubscription: float = 1.0  # fat-tree taper above the leaf (1 = non-blocking)
    nodes_per_leaf: int = 0  # nodes under one leaf switch; 0 = whole cluster non-blocking
    nccl_alpha_intra_s: float = 3.4e-6  # per ring step, see priors.yaml (NCCL tuning model)
    nccl_alpha_inter_s: float = 14e-6
    nccl_base_s: float = 8.4e-6
    measured_intra: CommFit | None = None
    measured_inter: CommFit | None = None
    measured_a2a: CommFit | None = None  # a measured all-to-all fit: EP dispatch/combine across nodes
    nccl_arch: str = "ampere"  # NCCL's GPU generation class (data/nccl_tuning.yaml `arch`)
    cpu_vendor: str = "intel"  # intel | amd: NCCL's LL ceiling and network overhead depend on it
    fabric_gdr: bool = False  # RDMA with GPUDirect: NCCL enables LL128 across nodes only then
    fabric_regime: str = "adaptive"  # load regime of the fabric (predict/regimes.py, data/fabric_regimes.yaml)
    family: str = ""
    provenance: Mapping[str, str] = field(default_factory=dict)

    def peak(self, dtype: str) -> float:
        if dtype not in self.peak_flops or not self.peak_flops[dtype]:
            known = ", ".join(sorted(k for k, v in self.peak_flops.items() if v)) or "none"
            raise RaxError(f"{self.name} has no {dtype} peak (supported: {known})", field="precision")
        return float(self.peak_flops[dtype])

    @property
    def node_inter_bw(self) -> float:
        """Achievable scale-out bandwidth of one node (all rails)."""
        if self.measured_inter is not None:
            return self.measured_inter.busbw_Bps * self.gpus_per_node
        return self.rails_per_node * self.rail_bw * self.fabric_eff

    def with_efficiency(self, eff: Efficiency) -> "Hardware":
        return replace(self, eff=eff)


@dataclass
class HwConsts:
    """Flattened numbers for the core (each a float or a numpy array of candidates)."""

    peak: object  # dense FLOP/s of the training/inference dtype
    peak_bf16: object  # attention kernels run in 16-bit even under fp8 (Transformer Engine)
    eff_mm: object
    eff_attn: object
    eff_attn1: object
    mem_bw: object  # achievable B/s
    mem_bytes: object
    g: object  # GPUs per node
    intra_bw: object  # per-GPU busbw inside a node
    inter_bw: object  # per-GPU share of the node's scale-out busbw
    alpha_intra: object
    alpha_inter: object
    base: object
    oversub: object
    nodes_per_leaf: object
    layer_overhead: object
    step_overhead: object
    sms: object = 0.0  # SM count for wave quantization (0: none)
    gemm_k0: object = 0.0  # GEMM pipeline fill, K elements, for the training dtype
    gemm_fixed: object = 0.0  # GEMM fixed seconds per kernel
    in_bytes: object = 2.0  # bytes per GEMM input element in the training dtype (1 under fp8)
    # the 16-bit GEMM (output layer, unfused attention under fp8): ceiling and ramp
    eff_mm16: object = 0.0
    gemm16_k0: object = 0.0
    gemm16_fixed: object = 0.0
    # attention e_inf / s0 per kernel generation and pass (flash = FA2 class, fused = cuDNN/FA3 class)
    fl_f_inf: object = 0.0
    fl_f_s0: object = 0.0
    fl_b_inf: object = 0.0
    fl_b_s0: object = 0.0
    fu_f_inf: object = 0.0
    fu_f_s0: object = 0.0
    fu_b_inf: object = 0.0
    fu_b_s0: object = 0.0
    # NCCL's model (predict/nccl.py): scale-up on PCIe tables, NVLS efficiency (0: none), LL128
    # enabled inside the node / across the fabric, LL's one-node ceiling (B/s), AMD host CPUs
    intra_pci: object = 0.0
    nvls_eff: object = 0.0
    ll128_intra: object = 0.0
    ll128_net: object = 0.0
    ll_max_1: object = 87.7e9
    cpu_amd: object = 0.0
    regime: object = 0.0  # index of the fabric's load regime (predict/regimes.py); 0 = adaptive
    # a measured all-to-all fit (0: none, the prior): per-peer latency and per-GPU busbw across nodes
    a2a_alpha: object = 0.0
    a2a_bw: object = 0.0


def hw_consts(hw: Hardware, dtype: str) -> HwConsts:
    """The numbers the core needs for `dtype` (16-bit attention and softmax under fp8)."""
    intra = hw.measured_intra
    inter = hw.measured_inter
    g = hw.gpus_per_node
    inter_bw = hw.node_inter_bw / g if g else 0.0
    return HwConsts(
        peak=hw.peak(dtype), peak_bf16=_peak16(hw, dtype),
        eff_mm=hw.eff.matmul_for(dtype), eff_attn=hw.eff.attention,
        eff_attn1=hw.eff.attention_flash1,
        mem_bw=hw.mem_bw * hw.eff.mem_bw, mem_bytes=hw.mem_bytes, g=g,
        intra_bw=intra.busbw_Bps if intra else hw.scaleup_bw * hw.scaleup_eff,
        inter_bw=inter_bw,
        alpha_intra=intra.alpha_s if intra else hw.nccl_alpha_intra_s,
        alpha_inter=inter.alpha_s if inter else hw.nccl_alpha_inter_s + hw.fabric_latency_s,
        base=hw.nccl_base_s, oversub=max(hw.oversubscription, 1.0), nodes_per_leaf=hw.nodes_per_leaf,
        layer_overhead=hw.eff.layer_overhead_s, step_overhead=hw.eff.step_overhead_s,
        sms=float(hw.eff.sms), **_kernel_fields(hw.eff, dtype),
        **nccl_fields(hw),
        a2a_alpha=hw.measured_a2a.alpha_s if hw.measured_a2a else 0.0,
        a2a_bw=hw.measured_a2a.busbw_Bps if hw.measured_a2a else 0.0,
    )


def _kernel_fields(eff: Efficiency, dtype: str) -> dict:
    k0, fixed = eff.gemm_for(dtype)
    d16 = "bf16" if dtype in ("fp8", "fp4", "int8") else dtype
    k16, fixed16 = eff.gemm_for(d16)
    e16 = eff.matmul.get(d16) or eff.matmul.get("fp16") or eff.matmul_for(dtype)
    out = {"gemm_k0": k0, "gemm_fixed": fixed, "in_bytes": {"fp8": 1.0, "fp4": 0.5, "int8": 1.0, "fp32": 4.0,
                                                                "tf32": 4.0}.get(dtype, 2.0),
           "eff_mm16": float(e16), "gemm16_k0": k16, "gemm16_fixed": fixed16}
    for kernel, tag in (("flash", "fl"), ("fused", "fu")):
        for pass_, p in (("fwd", "f"), ("bwd", "b")):
            e_inf, s0 = eff.curve(kernel, pass_)
            out[f"{tag}_{p}_inf"], out[f"{tag}_{p}_s0"] = e_inf, s0
    return out


def nccl_fields(hw: Hardware) -> dict:
    """The HwConsts fields NCCL's algorithm/protocol model reads (NCCL tuning.cc enables LL128
    only on NVLink-connected GPUs, and across nodes only with a GPUDirect RDMA path; NVLS needs
    an NVSwitch of the Hopper generation or later)."""
    nvswitch = hw.scaleup_kind == "nvswitch"
    return {"intra_pci": float(hw.scaleup_kind in ("pcie", "nvlink-bridge-pairs")),
            "nvls_eff": nccl.nvls_efficiency(hw.nccl_arch) if nvswitch else 0.0,
            "ll128_intra": float(nvswitch), "ll128_net": float(hw.fabric_gdr),
            "ll_max_1": nccl.ll_max_one_node(hw.nccl_arch), "cpu_amd": float(hw.cpu_vendor == "amd"),
            "regime": float(regimes.index(hw.fabric_regime))}


def _peak16(hw: Hardware, dtype: str) -> float:
    """Attention runs in bf16/fp16 even when GEMMs use fp8; fp32/tf32 training runs it in that dtype."""
    if dtype in ("fp8", "fp4", "int8"):
        for d in ("bf16", "fp16"):
            if hw.peak_flops.get(d):
                return float(hw.peak_flops[d])
    return hw.peak(dtype)


def stack_hardware(items: list[HwConsts]) -> HwConsts:
    """Many hardware candidates as one HwConsts of arrays (for the vectorised core)."""
    return HwConsts(**{f.name: np.array([getattr(i, f.name) for i in items], dtype=float) for f in fields(HwConsts)})


def take(hc: HwConsts, index) -> HwConsts:
    """Candidates `index` of a stacked HwConsts (e.g. to align with a layout batch)."""
    return HwConsts(**{f.name: np.asarray(getattr(hc, f.name))[index] for f in fields(HwConsts)})
