"""Options of the measurement commands as plain dataclasses.

The CLI passes its argparse namespace (same attribute names); the `rax run` pipeline
builds these directly. One definition of the defaults for both.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ComputeOptions:
    workload: str
    trust_code: bool = False
    device: str = "auto"
    precisions: str | None = None  # comma list; None: the spec's
    batch_sizes: str | None = None  # comma list; None: powers of two up to max_batch
    max_batch: int | None = None
    modes: str = "train,infer"
    max_seconds: float = 60.0
    point_seconds: float = 4.0
    point_timeout: float = 300.0
    no_gemm_probe: bool = False
    store: str | None = None


@dataclass
class KernelOptions:
    device: str = "auto"
    precisions: str = "fp32,tf32,bf16,fp16,fp8"
    max_seconds: float = 3.0
    point_timeout: float = 120.0
    store: str | None = None


@dataclass
class IOOptions:
    workload: str
    trust_code: bool = False
    batch: int | None = None
    max_workers: int | None = None
    seconds: float = 3.0
    compare_run: str | None = None
    store: str | None = None
