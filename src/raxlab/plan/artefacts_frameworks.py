"""Per-framework settings for the projected layout: Megatron-LM, torchtitan, DeepSpeed, vLLM, SGLang.

Pure functions of the `launch` block (plan/launch_target.py). How RA:X's layout maps onto each
framework (and where a framework has no equivalent, the nearest setting and a README note):

- ZeRO 1/2 -> Megatron's distributed optimizer (optimizer states sharded, gradients
  reduce-scattered); ZeRO 3 -> Megatron FSDP, strategy optim_grads_params (fsdp_dtensor checkpoints).
  torchtitan: ZeRO 0 -> data_parallel_replicate_degree (DDP), 1-3 -> data_parallel_shard_degree
  (FSDP2; 1-2 with reshard_after_forward "never", which keeps weights gathered: the ZeRO-2 memory
  profile, torchtitan has no optimizer-only sharding). DeepSpeed: the stage itself.
- Recompute "selective" (attention core) -> Megatron --recompute-granularity selective;
  "full" (every layer) -> full, uniform, 1 layer per checkpoint; torchtitan mode selective / full.
- fp8 -> Megatron --fp8-format hybrid (E4M3 forward, E5M2 gradients, Transformer Engine's
  training recipe), torchtitan's float8 linear converter; DeepSpeed has no FP8 switch (bf16 + note).
- Micro-batch: Megatron --micro-batch-size; torchtitan local_batch_size (x micro-batches per step
  with pipeline parallel, which splits it into pipeline_parallel_microbatch_size pieces); DeepSpeed
  train_micro_batch_size_per_gpu with train_batch_size = micro x accumulation x dp.
- Gradient buckets: the projection models the DP sync in torch DDP's 25 MiB buckets
  (predict/ddp.py), so DeepSpeed's reduce/allgather buckets are set to the same size.
"""

from __future__ import annotations

import json

from raxlab.predict.ddp import BUCKET_CAP_BYTES

FP8_FORMAT = "hybrid"  # Transformer Engine recipe for training: E4M3 forward, E5M2 backward
DTYPE = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32", "tf32": "float32", "fp8": "bfloat16"}


def _lay(block: dict) -> dict:
    lay = dict(block["layout"])
    lay.setdefault("cp", 1)
    lay.setdefault("ep", 1)
    return lay


def megatron_needs_serial_connections(block: dict) -> bool:
    """Megatron-LM requires CUDA_DEVICE_MAX_CONNECTIONS=1 with TP or CP (before Blackwell), except under FSDP."""
    if block.get("task") == "infer" or not block.get("model"):
        return False
    lay = _lay(block)
    return (lay["tp"] > 1 or lay["cp"] > 1) and lay["zero"] != 3


# ------------------------------------------------------------------------------------ Megatron-LM
def megatron_args(block: dict) -> list[str]:
    """Megatron-LM `pretrain_gpt.py` arguments for the layout, precision and model shape."""
    lay, m = _lay(block), block["model"]
    a = ["--tensor-model-parallel-size", lay["tp"], "--pipeline-model-parallel-size", lay["pp"]]
    if lay["vpp"] > 1:
        a += ["--num-layers-per-virtual-pipeline-stage", m["layers"] // (lay["pp"] * lay["vpp"])]
    if lay["tp"] > 1 and lay.get("sequence_parallel"):
        a += ["--sequence-parallel"]
    if lay["cp"] > 1:
        a += ["--context-parallel-size", lay["cp"]]
    if lay["cp"] > 1:  # ring (K/V passed around, overlapped) or all-gather of K and V, as projected
        a += ["--cp-comm-type", {"ring": "p2p", "all_gather": "all_gather"}.get(lay.get("cp_comm", "ring"), "p2p")]
    if lay.get("tp_overlap") and lay["tp"] > 1:
        a += ["--tp-comm-overlap"]
    a += _megatron_moe(lay, m)
    a += ["--micro-batch-size", lay["micro_batch"], "--global-batch-size", lay["global_batch"],
          "--seq-length", block["seq_len"]]
    a += _megatron_memory(lay) + _megatron_precision(block["precision"]) + _megatron_model(m, block["seq_len"])
    return [str(x) for x in a]


def _megatron_moe(lay: dict, m: dict) -> list:
    """Experts of a mixture-of-experts model and how they are split (all-to-all dispatch, as projected)."""
    if not m.get("experts"):
        return []
    a = ["--num-experts", m["experts"], "--moe-router-topk", m["top_k"], "--moe-ffn-hidden-size", m["moe_ffn"],
         "--moe-token-dispatcher-type", "alltoall"]
    if lay["ep"] > 1:
        a += ["--expert-model-parallel-size", lay["ep"]]
    if lay.get("etp") is not None and lay["etp"] != lay["tp"]:
        a += ["--expert-tensor-parallel-size", lay["etp"]]
    if lay.get("moe_overlap") and lay["ep"] > 1:
        a += ["--overlap-moe-expert-parallel-comm"]
    return a


def _megatron_memory(lay: dict) -> list:
    a: list = []
    if lay["recompute"] == "selective":
        a += ["--recompute-granularity", "selective"]
    elif lay["recompute"] == "full":
        a += ["--recompute-granularity", "full", "--recompute-method", "uniform", "--recompute-num-layers", 1]
    if lay["zero"] in (1, 2):
        a += ["--use-distributed-optimizer"]
    elif lay["zero"] == 3:
        a += ["--use-megatron-fsdp", "--data-parallel-sharding-strategy", "optim_grads_params",
              "--ckpt-format", "fsdp_dtensor"]
    if lay["dp"] > 1 and lay.get("overlap_grad_reduce", True):
        a += ["--overlap-grad-reduce"]
    return a


def _megatron_precision(precision: str) -> list:
    return {"bf16": ["--bf16"], "fp16": ["--fp16"], "fp8": ["--bf16", "--fp8-format", FP8_FORMAT]}.get(precision, [])


def _megatron_model(m: dict, seq: int) -> list:
    a = ["--num-layers", m["layers"], "--hidden-size", m["hidden"], "--num-attention-heads", m["heads"],
         "--ffn-hidden-size", m["ffn"], "--max-position-embeddings", seq]
    if m["kv_heads"] < m["heads"]:
        a += ["--group-query-attention", "--num-query-groups", m["kv_heads"]]
    if m["gated_mlp"]:
        a += ["--swiglu"]
    if not m["tied_embeddings"]:
        a += ["--untie-embeddings-and-output-weights"]
    return a


def megatron_text(block: dict) -> str:
    """One flag (and its value) per line; `#` lines are comments (train.sbatch reads it with grep -v)."""
    args, lines = megatron_args(block), []
    for tok in args:
        if tok.startswith("--") or not lines:
            lines.append(tok)
        else:
            lines[-1] += " " + tok
    head = ["# Megatron-LM arguments for the projected layout (rax); add data, tokenizer, optimizer, schedule.",
            "# Model shape from the workload card: check normalization, position embedding and vocab flags."]
    return "\n".join(head + lines) + "\n"


# ------------------------------------------------------------------------------------ torchtitan
def torchtitan_config(block: dict) -> dict:
    """torchtitan 0.2 JobConfig sections (TOML tables) for the layout."""
    lay = _lay(block)
    pipe = lay["pp"] > 1
    par = {"data_parallel_replicate_degree": lay["dp"] if lay["zero"] == 0 else 1,
           "data_parallel_shard_degree": 1 if lay["zero"] == 0 else lay["dp"],
           "fsdp_reshard_after_forward": "default" if lay["zero"] == 3 else "never",
           "tensor_parallel_degree": lay["tp"], "pipeline_parallel_degree": lay["pp"],
           "context_parallel_degree": lay["cp"], "expert_parallel_degree": lay["ep"]}
    if lay["ep"] > 1:  # torchtitan splits experts over tp (etp = tp) or not at all (etp = 1)
        par["expert_tensor_parallel_degree"] = lay["tp"] if lay.get("etp") in (None, lay["tp"]) else 1
    if pipe:
        par.update(pipeline_parallel_microbatch_size=lay["micro_batch"],
                   pipeline_parallel_schedule="Interleaved1F1B" if lay["vpp"] > 1 else "1F1B")
        if lay["vpp"] > 1:
            par["pipeline_parallel_layers_per_stage"] = block["model"]["layers"] // (lay["pp"] * lay["vpp"])
    training = {"local_batch_size": lay["micro_batch"] * (lay["grad_accum"] if pipe else 1),
                "global_batch_size": lay["global_batch"], "seq_len": block["seq_len"],
                "mixed_precision_param": "float32" if block["precision"] in ("fp32", "tf32") else "bfloat16"}
    mode = {"none": "none", "selective": "selective", "full": "full"}[lay["recompute"]]
    out = {"job": {"description": f"rax: {block['workload']} ({block['label'].split(':')[0]})"},
           "training": training, "parallelism": par, "activation_checkpoint": {"mode": mode}}
    if mode == "selective":
        out["activation_checkpoint"]["selective_ac_option"] = "op"
    if block["precision"] == "fp8":
        out["model"] = {"converters": ["quantize.linear.float8"]}
        out["quantize.linear.float8"] = {"enable_fsdp_float8_all_gather": par["data_parallel_shard_degree"] > 1,
                                         "precompute_float8_dynamic_scale_for_fsdp": par["data_parallel_shard_degree"] > 1}
    return out


def toml_text(tables: dict, header: list[str]) -> str:
    """TOML for tables of scalars and string lists (all torchtitan's job config needs here)."""
    lines = [f"# {h}" for h in header]
    for name, table in tables.items():
        lines += ["", f"[{name}]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string for printable text
    return "[" + ", ".join(_toml_value(x) for x in v) + "]"


def torchtitan_toml(block: dict) -> str:
    return toml_text(torchtitan_config(block), [
        "torchtitan 0.2 job config for the projected layout (rax); 0.3 reads the same keys as --section.key flags.",
        "Add [model] name/flavor and hf_assets_path, and your dataset under [training]."])


# ------------------------------------------------------------------------------------ DeepSpeed
def deepspeed_config(block: dict) -> dict:
    lay = _lay(block)
    bucket = int(BUCKET_CAP_BYTES // max(lay.get("grad_reduce_bytes", 2), 1))  # elements, as DeepSpeed counts
    zero = {"stage": lay["zero"], "overlap_comm": bool(lay.get("overlap_grad_reduce", True)),
            "contiguous_gradients": True, "reduce_bucket_size": bucket}
    if lay["zero"] in (1, 2):
        zero["allgather_bucket_size"] = bucket
    if lay["zero"] == 3:
        zero["stage3_prefetch_bucket_size"] = bucket
    cfg = {"train_batch_size": lay["global_batch"], "train_micro_batch_size_per_gpu": lay["micro_batch"],
           "gradient_accumulation_steps": lay["grad_accum"], "zero_optimization": zero,
           "gradient_clipping": 1.0, "steps_per_print": 10, "wall_clock_breakdown": False}
    if block["precision"] in ("bf16", "fp8"):
        cfg["bf16"] = {"enabled": True}
    elif block["precision"] == "fp16":
        cfg["fp16"] = {"enabled": True, "loss_scale": 0}  # 0: dynamic loss scaling
    if lay["tp"] > 1:
        cfg["tensor_parallel"] = {"autotp_size": lay["tp"]}
    return cfg


# ------------------------------------------------------------------------------------ serving
def vllm_args(block: dict) -> list[str]:
    s = block["serving"]
    a = ["--tensor-parallel-size", s["tp"], "--pipeline-parallel-size", 1, "--max-num-seqs", s["max_num_seqs"],
         "--max-model-len", s["max_model_len"], "--kv-cache-dtype", s["kv_cache_dtype"],
         "--gpu-memory-utilization", s["gpu_memory_utilization"], "--dtype", DTYPE[block["precision"]]]
    if block["precision"] == "fp8":
        a += ["--quantization", "fp8"]
    return [str(x) for x in a]


def sglang_args(block: dict) -> list[str]:
    s = block["serving"]
    a = ["--tp-size", s["tp"], "--max-running-requests", s["max_num_seqs"], "--context-length", s["max_model_len"],
         "--kv-cache-dtype", s["kv_cache_dtype"], "--mem-fraction-static", s["static_memory_fraction"],
         "--dtype", DTYPE[block["precision"]]]
    if block["precision"] == "fp8":
        a += ["--quantization", "fp8"]
    return [str(x) for x in a]


def _replica_script(block: dict, engine: str, command: str, args: list[str]) -> str:
    s, g = block["serving"], block["gpus_per_node"]
    per_node = max(1, min(g // s["tp"], s["replicas"]))
    lines = ["#!/bin/bash", f"# {engine} for {block['workload']}: {_n(s['replicas'], 'replica')} of tp {s['tp']} on "
             f"{_n(block['nodes'], 'node')}, {per_node} per node ({block['label']}).",
             f"# Run on every node: MODEL=<path or name> bash {engine.lower()}.sh  (REPLICAS=<n> on a last, "
             "partly filled node); put a load balancer in front of the ports.", "set -euo pipefail",
             ': "${MODEL:?set MODEL to the model path or name}"', f'REPLICAS="${{REPLICAS:-{per_node}}}"',
             'PORT0="${PORT0:-8000}"', f"TP={s['tp']}", "for ((r = 0; r < REPLICAS; r++)); do",
             f'  CUDA_VISIBLE_DEVICES="$(seq -s, $((r * TP)) $((r * TP + TP - 1)))" {command} \\',
             "    " + " ".join(args) + ' --port "$((PORT0 + r))" &', "done", "wait"]
    return "\n".join(lines) + "\n"


def _n(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def vllm_script(block: dict) -> str:
    return _replica_script(block, "vLLM", 'vllm serve "$MODEL"', vllm_args(block))


def sglang_script(block: dict) -> str:
    return _replica_script(block, "SGLang", 'python -m sglang.launch_server --model-path "$MODEL"', sglang_args(block))


# ------------------------------------------------------------------------------------ notes
def notes(block: dict) -> list[str]:
    """What the README must say about mappings without an exact equivalent."""
    if block["task"] == "infer":
        s = block["serving"]
        return [f"{_n(s['replicas'], 'replica')} x tp {s['tp']}, up to {s['max_num_seqs']} concurrent sequences each, "
                f"context {s['max_model_len']} tokens ({s['prompt_tokens']} prompt + {s['gen_tokens']} generated); "
                "KV cache in the model dtype, as projected.",
                "vLLM and SGLang install only as CUDA builds (their wheels pin a CUDA torch): RA:X's tests parse "
                "these flags with their own argument parsers only where they are installed, not in its CPU CI."]
    lay = _lay(block)
    out = ["Megatron-LM's argument parser (megatron/training/arguments.py) is not in the megatron-core package: "
           "RA:X's tests check these flags against megatron-core's TransformerConfig, DistributedDataParallelConfig "
           "and micro-batch calculator, which Megatron-LM fills from the same names."]
    if lay["zero"] in (1, 2):
        out.append(f"ZeRO-{lay['zero']}: Megatron's distributed optimizer; torchtitan FSDP2 with reshard_after_forward "
                   "'never' (torchtitan has no optimizer-only sharding: ZeRO-2 memory).")
    if lay["ep"] > 1 or lay["cp"] > 1:
        out.append("DeepSpeed: expert parallel comes from the model code (deepspeed.moe MoE(ep_size=...)); context "
                   "parallel has no ring-attention setting there (DeepSpeed-Ulysses is all-to-all, not what was "
                   "projected): neither is in its JSON.")
    if lay.get("etp") not in (None, 1, lay["tp"]):
        out.append(f"torchtitan splits experts over tp or not at all: expert tensor parallel {lay['etp']} is "
                   "written as 1.")
    if lay["pp"] > 1:
        out.append(f"DeepSpeed: pipeline parallel {lay['pp']} comes from your PipelineModule(num_stages={lay['pp']}); "
                   "its JSON config has no pipeline degree.")
    if lay["recompute"] == "selective":
        out.append("Selective recompute: Megatron recomputes the attention core (as projected); torchtitan's op-level "
                   "selective checkpointing is the nearest setting.")
    if block["precision"] == "fp8":
        out.append("FP8: Megatron via Transformer Engine (--fp8-format hybrid), torchtitan via torchao float8; "
                   "DeepSpeed's config has no FP8 switch (bf16 here; FP8 GEMMs come from the model code).")
    if block["precision"] == "fp16":
        out.append("torchtitan has no fp16 mixed precision: its config uses bf16.")
    if block.get("fabric") and block["nodes"] > 1:
        out.append("NCCL_NET_PLUGIN=none turns off external network plugins (e.g. SHARP): the projection has no "
                   "in-network reduction.")
    return out
