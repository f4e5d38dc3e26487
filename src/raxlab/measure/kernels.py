"""Kernel ceilings: GEMM per dtype, STREAM-style memory bandwidth, host<->device copies.

These measured ceilings are what compute efficiency is judged against. One small
spec per operation, all timed by the shared core (`timing.measure`):
- GEMM: FLOPs = 2*M*N*K (the FlopCounterMode convention); bytes = A + B + C once.
- STREAM (J. McCalpin, stream.c): copy counts 2 words per element (read + write),
  triad a = b + s*c counts 3; the reported rate uses the *best* time as STREAM does,
  beside the median.
- Host<->device: pinned and pageable buffers, one direction per point.
"""

from __future__ import annotations

from dataclasses import dataclass

from raxlab.measure.device import check_precision, dtype_of, tf32_mode
from raxlab.measure.isolate import Unsupported
from raxlab.measure.timing import Policy, Spec, measure

# Square sizes and LLM-shaped (tokens x hidden x 4*hidden-like) GEMMs. CPU sizes are
# smaller so the default sweep takes about a minute on 2 cores.
GEMM_SHAPES = {
    "cpu": [(512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048), (2048, 1024, 4096)],
    "cuda": [(4096, 4096, 4096), (8192, 8192, 8192), (16384, 8192, 8192), (8192, 8192, 28672)],
}
STREAM_ELEMS = {"cpu": 1 << 25, "cuda": 1 << 28}  # 128 MiB / 1 GiB fp32 per array: >> caches
COPY_BYTES = 256 << 20


@dataclass
class KernelPoint:
    kind: str  # gemm | stream_copy | stream_triad | h2d | d2h
    device: str
    precision: str = "fp32"
    shape: tuple[int, int, int] | None = None
    pinned: bool = False

    @property
    def name(self) -> str:
        if self.kind == "gemm":
            m, n, k = self.shape
            return f"gemm/{self.precision}/{m}x{n}x{k}"
        if self.kind in ("h2d", "d2h"):
            return f"{self.kind}/{'pinned' if self.pinned else 'pageable'}"
        return self.kind


def gemm_spec(p: KernelPoint) -> Spec:
    import torch

    check_precision(p.precision, p.device)
    m, n, k = p.shape
    if p.precision == "fp8":
        return _fp8_gemm_spec(p)
    dt = dtype_of(p.precision)

    def setup():
        g = torch.Generator(device="cpu").manual_seed(0)
        a = torch.randn(m, k, generator=g).to(p.device, dt)
        b = torch.randn(k, n, generator=g).to(p.device, dt)
        return a, b, torch.empty(m, n, device=p.device, dtype=dt)

    def run(s):
        torch.matmul(s[0], s[1], out=s[2])

    item = torch.tensor([], dtype=dt).element_size()
    return Spec(p.name, run, setup, bytes_per_op=(m * k + k * n + m * n) * item,
                flops_per_op=2.0 * m * n * k, device=p.device)


def _fp8_gemm_spec(p: KernelPoint) -> Spec:
    import torch

    m, n, k = p.shape
    if not hasattr(torch, "_scaled_mm"):
        raise Unsupported("this torch build has no torch._scaled_mm")

    def setup():
        a = torch.randn(m, k, device=p.device).to(torch.float8_e4m3fn)
        b = torch.randn(n, k, device=p.device).to(torch.float8_e4m3fn).t()  # column-major B
        one = torch.tensor(1.0, device=p.device)
        return a, b, one

    def run(s):
        torch._scaled_mm(s[0], s[1], scale_a=s[2], scale_b=s[2], out_dtype=torch.bfloat16)

    return Spec(p.name, run, setup, bytes_per_op=m * k + k * n + 2 * m * n,
                flops_per_op=2.0 * m * n * k, device=p.device)


def stream_spec(p: KernelPoint) -> Spec:
    import torch

    n = STREAM_ELEMS["cuda" if p.device.startswith("cuda") else "cpu"]

    def setup():
        return [torch.full((n,), v, dtype=torch.float32, device=p.device) for v in (0.0, 1.0, 2.0)]

    if p.kind == "stream_copy":
        def run(s):
            s[0].copy_(s[1])
        words = 2
    else:
        def run(s):
            torch.add(s[1], s[2], alpha=3.0, out=s[0])
        words = 3
    return Spec(p.name, run, setup, bytes_per_op=words * 4 * n, device=p.device)


def copy_spec(p: KernelPoint) -> Spec:
    import torch

    if not p.device.startswith("cuda"):
        raise Unsupported("host<->device copies need a GPU")
    n = COPY_BYTES

    def setup():
        host = torch.empty(n, dtype=torch.uint8, pin_memory=p.pinned)
        dev = torch.empty(n, dtype=torch.uint8, device=p.device)
        return host, dev

    def run(s):
        (s[1].copy_(s[0], non_blocking=p.pinned) if p.kind == "h2d" else s[0].copy_(s[1], non_blocking=p.pinned))

    return Spec(p.name, run, setup, bytes_per_op=n, device=p.device)


SPECS = {"gemm": gemm_spec, "stream_copy": stream_spec, "stream_triad": stream_spec,
         "h2d": copy_spec, "d2h": copy_spec}


def run_kernel_point(p: KernelPoint, policy: Policy) -> dict:
    """Child-process entry: measure one kernel point, return result + raw samples."""
    spec = SPECS[p.kind](p)
    with tf32_mode(p.precision):
        res = measure(spec, policy)
    out = res.to_dict()
    out["best_bandwidth_Bps"] = spec.bytes_per_op / res.summary.min if spec.bytes_per_op else None
    out["best_flop_rate"] = spec.flops_per_op / res.summary.min if spec.flops_per_op else None
    out["samples_s"] = res.samples_s
    return out


def default_points(device: str, precisions: list[str], gemm_only: bool = False) -> list[KernelPoint]:
    key = "cuda" if device.startswith("cuda") else "cpu"
    pts = [KernelPoint("gemm", device, prec, shape) for prec in precisions for shape in GEMM_SHAPES[key]]
    if gemm_only:
        return pts
    pts += [KernelPoint("stream_copy", device), KernelPoint("stream_triad", device)]
    pts += [KernelPoint(k, device, pinned=pin) for k in ("h2d", "d2h") for pin in (True, False)]
    return pts


def cpu_theoretical_peak(fp: dict) -> dict | None:
    """cores x clock x FLOPs/cycle for fp32, when the CPU flags allow an estimate.

    FLOPs/cycle assumes 2 FMA pipes (true for Intel Skylake-SP+ and AMD Zen 2+):
    AVX-512 16 fp32 lanes x 2 (FMA) x 2 pipes = 64; AVX2 8 x 2 x 2 = 32. Marked as an
    estimate because the pipe count and sustained clock cannot be read from Linux.
    """
    cpu = fp.get("cpu", {})
    flags, mhz, cores = set(cpu.get("flags", [])), cpu.get("max_mhz"), cpu.get("usable_cores")
    if not mhz or not cores or "fma" not in flags:
        return None
    per_cycle = 64 if "avx512f" in flags else 32
    return {"fp32_flops": cores * mhz * 1e6 * per_cycle, "flops_per_cycle_per_core": per_cycle,
            "cores": cores, "ghz": mhz / 1e3,
            "basis": "estimate: cores x max clock x FLOPs/cycle (2 FMA pipes assumed)"}


def sweep(session, device: str, precisions: list[str], policy: Policy,
          point_timeout_s: float, slow_s: float = 2.0, gemm_only: bool = False) -> list[dict]:
    """Measure the default kernel points; within a dtype, shapes grow, and once one
    GEMM takes longer than `slow_s` per op the larger ones are skipped (recorded)."""
    from raxlab.measure.session import Job

    from raxlab.measure.isolate import Outcome

    rows, too_slow, unsupported = [], set(), {}
    for p in default_points(device, precisions, gemm_only):
        job = Job("kernel", p.name, run_kernel_point, (p, policy),
                  params={"kind": p.kind, "precision": p.precision, "shape": p.shape,
                          "pinned": p.pinned, "device": device}, timeout_s=point_timeout_s)
        key = p.precision if p.kind == "gemm" else p.kind
        if key in unsupported:  # same reason for every shape: do not spawn a child again
            out = Outcome("unsupported", None, unsupported[key])
            session.record(job, out)
        elif p.kind == "gemm" and p.precision in too_slow:
            out = Outcome("skipped", None, f"a smaller {p.precision} GEMM already took > {slow_s:g} s per op")
            session.record(job, out)
        else:
            out = session.run(job)
        if out.status == "unsupported":
            unsupported[key] = out.error
        if out.status == "ok" and p.kind == "gemm" and out.value["summary"]["median"] > slow_s:
            too_slow.add(p.precision)
        rows.append({"point": p, "status": out.status, "value": out.value, "error": out.error})
    return rows


def ceilings(rows: list[dict]) -> dict:
    """Measured ceilings: best GEMM FLOP/s per precision, STREAM copy/triad, copies."""
    best: dict = {"gemm_flops": {}, "bandwidth_Bps": {}}
    for r in rows:
        if r["status"] != "ok":
            continue
        p, v = r["point"], r["value"]
        if p.kind == "gemm":
            cur = best["gemm_flops"].get(p.precision, 0.0)
            best["gemm_flops"][p.precision] = max(cur, v["flop_rate"])
        else:
            best["bandwidth_Bps"][p.name] = v["bandwidth_Bps"]
    return best
