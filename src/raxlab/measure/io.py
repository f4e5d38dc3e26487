"""Data-loading throughput from the workload's own data sample.

A real `torch.utils.data.DataLoader` over `workload.dataset()` (items decoded from
disk on access) at 0, 1, 2, ... workers: samples/s and MB/s (bytes on disk), the
start-up cost of the first batch, and the seconds of CPU per sample. Compared with
a measured training step it says whether loading would starve the accelerator.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass


@dataclass
class IOPoint:
    workload: str
    trust_code: bool
    workers: int
    batch: int
    seconds: float  # time budget for the timed iteration
    proxy: bool = False

    @property
    def name(self) -> str:
        return f"io/w{self.workers}/b{self.batch}"


def _loader(ds, p: IOPoint):
    from torch.utils.data import DataLoader

    return DataLoader(ds, batch_size=p.batch, shuffle=True, num_workers=p.workers,
                      drop_last=False, persistent_workers=p.workers > 0)


def run_io_point(p: IOPoint) -> dict:
    """Child-process entry: iterate epochs of the sample until `seconds` pass."""
    import torch

    from raxlab.workload import load_workload

    torch.manual_seed(0)
    wl = load_workload(p.workload, trust_code=p.trust_code, proxy=p.proxy)
    ds = wl.dataset()
    if len(ds) == 0:
        raise ValueError("the data sample holds no samples")
    loader = _loader(ds, p)
    t0 = time.perf_counter()
    it, batch_times, samples, startup = iter(loader), [], 0, None
    cpu0 = time.process_time()
    while True:
        t = time.perf_counter()
        try:
            batch = next(it)
        except StopIteration:
            it = iter(loader)
            continue
        dt = time.perf_counter() - t
        if startup is None:
            startup = dt  # worker start-up and the first decode: reported, not averaged in
        else:
            batch_times.append(dt)
            samples += _batch_len(batch)
        if time.perf_counter() - t0 > p.seconds and len(batch_times) >= 5:
            break
    return _io_result(p, wl, batch_times, samples, startup, time.process_time() - cpu0)


def _batch_len(batch) -> int:
    first = next(iter(batch.values())) if isinstance(batch, dict) else batch[0]
    return int(first.shape[0])


def _io_result(p, wl, batch_times, samples, startup, cpu_s) -> dict:
    from raxlab.stats import summarize

    busy = sum(batch_times)
    per_sample_bytes = wl.sample_bytes_per_sample
    return {"point": asdict(p), "samples_per_s": samples / busy, "mbytes_per_s": samples * per_sample_bytes / busy / 1e6,
            "batch_summary": summarize(batch_times).to_dict(), "startup_s": startup, "samples": samples,
            "dataset_len": len(wl.dataset()), "bytes_per_sample": per_sample_bytes,
            "main_cpu_s_per_sample": cpu_s / max(samples, 1), "samples_s": batch_times}


def starvation(loader_sps: float | None, step_sps: float | None) -> dict:
    """Would loading starve the step? Compares samples/s of the loader with the step's."""
    if not loader_sps or not step_sps:
        return {"verdict": "N/A", "headroom": None,
                "sentence": "no measured step to compare with (run `rax bench compute` first)"}
    headroom = loader_sps / step_sps
    starved = headroom < 1.0
    return {"verdict": "starves" if starved else "keeps up", "headroom": headroom,
            "sentence": (f"loading delivers {loader_sps:.4g} samples/s against the step's {step_sps:.4g}: "
                         + (f"the step would wait {1 / headroom - 1:.0%} longer for data"
                            if starved else f"{headroom:.1f}x headroom"))}


def worker_counts(max_workers: int) -> list[int]:
    """0 (in the main process), then 1, 2, 4, ... up to max_workers."""
    out, w = [0], 1
    while w <= max_workers:
        out.append(w)
        w *= 2
    if max_workers not in out:
        out.append(max_workers)
    return out
