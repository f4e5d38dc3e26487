"""Read step time, throughput and TFLOP/s from the training logs teams already have.

Formats (as printed; lines from NVIDIA/Megatron-LM issues #756, epfLLM/Megatron-LLM #11,
pytorch/torchtitan PRs #950, #1287, #2389, huggingface/blog #56):

- Megatron-LM (`training.py` training_log), one line per logged iteration::

      [2024-04-06 02:59:36] iteration       43/     100 | consumed samples:         5504 | elapsed time per
      iteration (ms): 5444.9 | throughput per GPU (TFLOP/s/GPU): 239.8 | learning rate: ... | global batch
      size:   128 | lm loss: 1.825991E+00 | ...

  and its argument dump (`tensor_model_parallel_size ........ 8`) states the layout.
- torchtitan (`metrics.py`), per logged step (tps, tflops and mfu are per GPU)::

      [rank0]:[titan] 2025-06-16 22:30:50,322 - root - INFO - step: 200  loss:  6.1384  memory: 49.66GiB(52.28%)
      tps: 5,856  tflops: 339.16  mfu: 34.29%

  (colour escapes, when present, are removed first).
- Hugging Face Trainer: per-step dicts (`{'loss': 2.31, 'learning_rate': ..., 'epoch': 0.1}`, older
  releases JSON with "step") carry no time; the summary `{'train_runtime': ..., 'train_samples_per_second':
  ..., 'train_steps_per_second': ...}` does (its runtime includes start-up, evaluation and saving).

A record line cut short or with an unreadable value is a one-line RaxError naming the line.
"""

from __future__ import annotations

import ast
import json
import re
import statistics
from dataclasses import dataclass, field

from raxlab.errors import RaxError
from raxlab.textsafe import clean

RE_MEGATRON = re.compile(r"\biteration\s+(\d+)\s*/\s*(\d+)\s*\|")
RE_FIELD = re.compile(r"\|\s*([^|:]+?):\s*([^|]*?)\s*(?=\|)")
RE_MEG_ARG = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s+\.{3,}\s+(\S+)\s*$")
RE_TITAN = re.compile(r"\bstep:\s*(\d+)\s+loss:")
RE_TITAN_FIELD = re.compile(r"\b(loss|grad_norm|memory|tps|tflops|mfu):\s*([\d.,]+(?:GiB)?)(?:\(([\d.]+)%\))?%?")
RE_HF_BATCH = re.compile(r"^\s*(Instantaneous batch size per device|Total train batch size \(w\. parallel, "
                         r"distributed & accumulation\))\s*=\s*([\d,]+)\s*$")
RE_TITAN_BATCH = re.compile(r"local batch size (\d+), global batch size (\d+), (?:gradient accumulation steps \d+, )?"
                            r"sequence length (\d+)")
MEGATRON_ARGS = {"tensor_model_parallel_size": "tp", "pipeline_model_parallel_size": "pp",
                 "num_layers_per_virtual_pipeline_stage": None, "virtual_pipeline_model_parallel_size": "vpp",
                 "data_parallel_size": "dp", "world_size": "gpus", "micro_batch_size": "micro_batch",
                 "global_batch_size": "global_batch", "seq_length": "seq_len", "context_parallel_size": "cp",
                 "expert_model_parallel_size": "ep", "sequence_parallel": "sequence_parallel", "bf16": "bf16",
                 "fp16": "fp16", "fp8": "fp8", "recompute_granularity": "recompute", "use_distributed_optimizer":
                 "distributed_optimizer"}


@dataclass
class TrainLog:
    framework: str
    records: list = field(default_factory=list)  # per logged step: {step, line, step_time_s?, ...}
    stated: dict = field(default_factory=dict)  # layout the log itself states (Megatron args, titan batch line)
    summary: dict | None = None  # Hugging Face train_runtime summary


def parse(text: str, name: str) -> TrainLog:
    """The training log in `text` (one framework per file)."""
    found: dict[str, TrainLog] = {}
    for no, raw in enumerate(text.splitlines(), 1):
        for part in raw.split("\r"):  # tqdm redraws its bar with carriage returns
            _line(clean(part), no, name, found)
    logs = [lg for lg in found.values() if lg.records or lg.summary]
    if not logs:
        raise RaxError(f"{name}: no training-step records (Megatron-LM `iteration N/ M | ... elapsed time per "
                       "iteration (ms): ...`, torchtitan `step: N loss: ... tps: ...`, or a Hugging Face Trainer "
                       "`{'train_runtime': ...}` summary)", field="FILE")
    if len(logs) > 1:
        raise RaxError(f"{name}: records of {' and '.join(lg.framework for lg in logs)} in one file; import one "
                       "training run per file", field="FILE")
    return logs[0]


def _line(line: str, no: int, name: str, found: dict) -> None:
    if m := RE_MEGATRON.search(line):
        found.setdefault("megatron", TrainLog("megatron")).records.append(_megatron(line, m, no, name))
    elif m := RE_MEG_ARG.match(line):
        if m.group(1) in MEGATRON_ARGS:
            found.setdefault("megatron", TrainLog("megatron")).stated[m.group(1)] = m.group(2)
    elif m := RE_TITAN.search(line):
        found.setdefault("torchtitan", TrainLog("torchtitan")).records.append(_titan(line, int(m.group(1)), no, name))
    elif m := RE_TITAN_BATCH.search(line):
        found.setdefault("torchtitan", TrainLog("torchtitan")).stated.update(
            {"micro_batch": int(m.group(1)), "global_batch": int(m.group(2)), "seq_len": int(m.group(3))})
    elif m := RE_HF_BATCH.match(line):
        key = "micro_batch" if m.group(1).startswith("Instantaneous") else "global_batch"
        found.setdefault("huggingface", TrainLog("huggingface")).stated[key] = int(m.group(2).replace(",", ""))
    elif "{" in line and ("'loss'" in line or '"loss"' in line or "train_runtime" in line):
        _hf(line, no, name, found)


def _megatron(line: str, m, no: int, name: str) -> dict:
    fields = {k.strip().lower(): v for k, v in RE_FIELD.findall(line[m.start():] + "|")}
    ms = fields.get("elapsed time per iteration (ms)")
    if ms is None:
        raise RaxError(f"{name} line {no}: Megatron-LM iteration {m.group(1)} without `elapsed time per iteration "
                       "(ms)` (a line cut short?)", field="FILE")
    rec = {"step": int(m.group(1)), "of": int(m.group(2)), "line": no,
           "step_time_s": _number(ms, name, no, "elapsed time per iteration (ms)") / 1e3}
    for key, out in (("throughput per gpu (tflop/s/gpu)", "tflops_per_gpu"), ("global batch size", "global_batch"),
                     ("consumed samples", "consumed_samples"), ("lm loss", "loss")):
        if key in fields:
            rec[out] = _number(fields[key], name, no, key)
    return rec


def _titan(line: str, step: int, no: int, name: str) -> dict:
    got = {k: (v, pct) for k, v, pct in RE_TITAN_FIELD.findall(line)}
    if "tps" not in got:
        raise RaxError(f"{name} line {no}: torchtitan step {step} without `tps:` (a line cut short?)", field="FILE")
    rec = {"step": step, "line": no, "tokens_per_s_per_gpu": _number(got["tps"][0], name, no, "tps")}
    if "tflops" in got:
        rec["tflops_per_gpu"] = _number(got["tflops"][0], name, no, "tflops")
    if "mfu" in got:
        rec["mfu"] = _number(got["mfu"][0], name, no, "mfu") / 100
    if "memory" in got:
        rec["memory_gib"] = _number(got["memory"][0].removesuffix("GiB"), name, no, "memory")
    if "loss" in got:
        rec["loss"] = _number(got["loss"][0], name, no, "loss")
    return rec


def _hf(line: str, no: int, name: str, found: dict) -> None:
    text = line[line.index("{"):].strip()
    try:
        d = json.loads(text) if '"' in text[:3] else ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise RaxError(f"{name} line {no}: a Hugging Face Trainer log dict that does not parse (cut short?)",
                       field="FILE") from None
    if not isinstance(d, dict):
        return
    log = found.setdefault("huggingface", TrainLog("huggingface"))
    if "train_runtime" in d:
        log.summary = {k: _number(d[k], name, no, k) for k in ("train_runtime", "train_samples_per_second",
                                                               "train_steps_per_second") if k in d}
        log.summary["line"] = no
        if "train_steps_per_second" not in log.summary:
            raise RaxError(f"{name} line {no}: the Trainer summary has no train_steps_per_second", field="FILE")
        log.records.append({"step": None, "line": no, "step_time_s": 1 / log.summary["train_steps_per_second"],
                            "samples_per_s": log.summary.get("train_samples_per_second"), "whole_run": True})
    elif "loss" in d:
        log.stated["logged_steps"] = log.stated.get("logged_steps", 0) + 1


def _number(text, name: str, no: int, what: str) -> float:
    try:
        v = float(str(text).replace(",", ""))
    except ValueError:
        raise RaxError(f"{name} line {no}: {what} {str(text)[:30]!r} is not a number", field="FILE") from None
    if v != v or v in (float("inf"), float("-inf")) or v < 0 and what not in ("lm loss", "loss"):
        raise RaxError(f"{name} line {no}: {what} {text!r} is not a finite non-negative number", field="FILE")
    return v


def steady(log: TrainLog, skip: int | None = None) -> tuple[list[dict], int]:
    """The records after warm-up (`skip` records; default: the first 10 %, at least 1 of 3 or more)."""
    recs = [r for r in log.records if not r.get("whole_run")]
    if not recs:
        return log.records, 0
    n = skip if skip is not None else (max(1, len(recs) // 10) if len(recs) >= 3 else 0)
    if n >= len(recs):
        raise RaxError(f"--skip-steps {n} leaves none of the {len(recs)} logged steps", field="--skip-steps")
    return recs[n:], n


def summarize(recs: list[dict], key: str) -> dict | None:
    vals = [r[key] for r in recs if r.get(key) is not None]
    if not vals:
        return None
    q = statistics.quantiles(vals, n=4) if len(vals) >= 2 else [vals[0]] * 3
    return {"median": statistics.median(vals), "q1": q[0], "q3": q[2], "n": len(vals)}
