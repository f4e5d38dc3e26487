"""Each launch artefact read back by its framework's own parser or config schema (where it installs here).

The packages come from the `frameworks` extra (Makefile: torchtitan without its training-only
dependencies); a test whose package is missing skips with the reason. The blocks are built
from real workload cards (tiny-lm traces in a second; the Llama shapes are meta-only) and cover
the layout features each framework must express: TP + SP, PP + interleaving, ZeRO 1-3,
recompute, fp8 / fp16, and a one-node layout.
"""

import dataclasses
import importlib.util
import shlex
import sys
import types

import pytest

from raxlab.plan import artefacts
from raxlab.plan import artefacts_frameworks as fw
from raxlab.plan.launch_target import fabric_block, model_block


MIXTRAL_MOE = {"experts": 8, "top_k": 2, "params_per_expert": 3 * 4096 * 14336}  # Mixtral 8x7B routing


def _block(catalog, shape, *, nodes=4, gpn=8, precision="bf16", fabric="ib-ndr", moe=None, **lay):
    layout = {"tp": 1, "pp": 1, "vpp": 1, "zero": 0, "recompute": "none", "sequence_parallel": False,
              "micro_batch": 1, "overlap_grad_reduce": True, "grad_reduce_bytes": 2, **lay}
    layout["dp"] = nodes * gpn // (layout["tp"] * layout["pp"] * layout.get("cp", 1))
    layout.setdefault("global_batch", layout["micro_batch"] * layout["dp"] * 4)
    layout["grad_accum"] = layout["global_batch"] // (layout["micro_batch"] * layout["dp"])
    return {"label": "projected", "source": "test", "workload": "llama3-8b", "task": "train",
            "accelerator": "h100-sxm", "server": "hgx-h100-8gpu", "nodes": nodes, "gpus_per_node": gpn,
            "gpus": nodes * gpn, "precision": precision, "seq_len": 4096,
            "fabric": fabric_block(catalog, fabric, 8) if nodes > 1 else None, "model": model_block(shape, moe),
            "layout": layout}


@pytest.fixture(scope="module")
def shape():
    """Llama 3 8B (its published config: GQA 32/8 heads, SwiGLU, untied embeddings)."""
    from raxlab.predict.shape import TransformerShape

    return TransformerShape(hidden=4096, layers=32, heads=32, ffn=14336, vocab=128256, seq=4096, kv_heads=8,
                            gated_mlp=True, tied_embeddings=False)


LAYOUTS = {
    "tp-sp-zero1-fp8": dict(tp=8, sequence_parallel=True, zero=1, precision="fp8"),
    "pp-interleaved-full-recompute": dict(tp=2, pp=4, vpp=2, micro_batch=2, global_batch=256, recompute="full"),
    "zero3-selective-fp16": dict(zero=3, recompute="selective", precision="fp16", fabric="tcp-100"),
    "zero2-roce": dict(zero=2, micro_batch=4, fabric="roce-400"),
    "one-node-ddp": dict(nodes=1, tp=2),
    "moe-ep8-etp1-cp2": dict(tp=2, cp=2, ep=8, etp=1, zero=1, sequence_parallel=True, moe=MIXTRAL_MOE),
}


@pytest.fixture(params=list(LAYOUTS), scope="module")
def block(request, catalog, shape):
    return _block(catalog, shape, **LAYOUTS[request.param])


# ------------------------------------------------------------------------------ Megatron-Core
# Megatron-LM fills TransformerConfig and DistributedDataParallelConfig from the parsed arguments
# by field name (megatron/training/arguments.py `core_transformer_config_from_args`, training.py
# `get_model`); these are the flags whose destination is not the field of the same name.
MEGATRON_DEST = {"fp8_format": "fp8", "swiglu": "gated_linear_unit", "num_experts": "num_moe_experts"}
MEGATRON_TRAINING_ONLY = {"micro_batch_size", "global_batch_size", "seq_length", "max_position_embeddings",
                          "group_query_attention", "num_layers_per_virtual_pipeline_stage", "ckpt_format",
                          "untie_embeddings_and_output_weights"}


def _megatron_values(args: list[str]) -> dict:
    out, i = {}, 0
    while i < len(args):
        name = args[i][2:].replace("-", "_")
        if i + 1 < len(args) and not args[i + 1].startswith("--"):
            raw = args[i + 1]
            out[MEGATRON_DEST.get(name, name)] = int(raw) if raw.isdigit() else raw
            i += 2
        else:
            out[MEGATRON_DEST.get(name, name)] = True
            i += 1
    return out


def test_megatron_arguments_build_megatron_cores_own_configs(block):
    pytest.importorskip("megatron.core", reason="megatron-core not installed (the `frameworks` extra)")
    import torch
    from megatron.core.distributed import DistributedDataParallelConfig
    from megatron.core.num_microbatches_calculator import ConstantNumMicroBatchesCalculator
    from megatron.core.transformer.transformer_config import TransformerConfig

    v = _megatron_values(fw.megatron_args(block))
    tf_fields = {f.name for f in dataclasses.fields(TransformerConfig)}
    ddp_fields = {f.name for f in dataclasses.fields(DistributedDataParallelConfig)}
    unknown = set(v) - tf_fields - ddp_fields - MEGATRON_TRAINING_ONLY
    assert not unknown, f"flags megatron-core has no field for: {unknown}"
    kw = {k: x for k, x in v.items() if k in tf_fields}
    lay = block["layout"]
    if "num_layers_per_virtual_pipeline_stage" in v:  # what Megatron-LM's validate_args derives from it
        kw["virtual_pipeline_model_parallel_size"] = v["num_layers"] // lay["pp"] // v["num_layers_per_virtual_pipeline_stage"]
        assert kw["virtual_pipeline_model_parallel_size"] == lay["vpp"]
    dtype = torch.bfloat16 if kw.get("bf16") else torch.float16 if kw.get("fp16") else torch.float32
    cfg = TransformerConfig(**kw, params_dtype=dtype, pipeline_dtype=dtype)  # its __post_init__ validates
    assert cfg.tensor_model_parallel_size == lay["tp"] and cfg.pipeline_model_parallel_size == lay["pp"]
    assert cfg.recompute_granularity == {"none": None}.get(lay["recompute"], lay["recompute"])
    assert cfg.fp8 == ("hybrid" if block["precision"] == "fp8" else None)
    assert cfg.sequence_parallel == (lay["tp"] > 1 and lay["sequence_parallel"])
    assert (cfg.context_parallel_size, cfg.expert_model_parallel_size) == (lay.get("cp", 1), lay.get("ep", 1))
    assert cfg.num_moe_experts == (block["model"].get("experts"))
    ddp = DistributedDataParallelConfig(**{k: x for k, x in v.items() if k in ddp_fields})
    assert ddp.use_distributed_optimizer == (lay["zero"] in (1, 2))
    assert ddp.use_megatron_fsdp == (lay["zero"] == 3)
    calc = ConstantNumMicroBatchesCalculator(v["global_batch_size"], v["micro_batch_size"], lay["dp"],
                                             decrease_batch_size_if_needed=False, rank=0)
    assert calc.get() == lay["grad_accum"]


# ------------------------------------------------------------------------------ torchtitan
def _torchtitan_config_manager():
    """torchtitan 0.2's ConfigManager. Its package __init__ imports the MoE Triton kernels, which the CPU
    torch wheel lacks; the config code needs only tyro, so the package is entered without that import."""
    if "torchtitan" not in sys.modules:
        spec = importlib.util.find_spec("torchtitan")
        if spec is None or importlib.util.find_spec("tyro") is None:
            pytest.skip("torchtitan 0.2 / tyro not installed (the `frameworks` extra)")
        pkg = types.ModuleType("torchtitan")
        pkg.__path__ = list(spec.submodule_search_locations)
        sys.modules["torchtitan"] = pkg
    from torchtitan.config import ConfigManager

    return ConfigManager


def test_torchtitan_toml_parses_with_torchtitans_config_manager(block, tmp_path):
    manager = _torchtitan_config_manager()
    from torchtitan.distributed.parallel_dims import ParallelDims

    path = tmp_path / "torchtitan.toml"
    path.write_text(fw.torchtitan_toml(block))
    cfg = manager().parse_args(["--job.config_file", str(path)])  # unknown keys or bad values raise
    p, t, lay = cfg.parallelism, cfg.training, block["layout"]
    dims = ParallelDims(dp_replicate=p.data_parallel_replicate_degree, dp_shard=p.data_parallel_shard_degree,
                        cp=p.context_parallel_degree, tp=p.tensor_parallel_degree, pp=p.pipeline_parallel_degree,
                        ep=p.expert_parallel_degree, etp=p.expert_tensor_parallel_degree, world_size=block["gpus"])  # validates the product
    assert (dims.tp, dims.pp, dims.cp, dims.ep) == (lay["tp"], lay["pp"], lay.get("cp", 1), lay.get("ep", 1))
    batch_degree = p.data_parallel_replicate_degree * p.data_parallel_shard_degree
    # torchtitan's Trainer: accumulation = global / (local x dp); its pipeline splits local by the microbatch size
    accum = t.global_batch_size // (t.local_batch_size * batch_degree)
    micro = t.local_batch_size // p.pipeline_parallel_microbatch_size if lay["pp"] > 1 else 1
    assert t.global_batch_size % (t.local_batch_size * batch_degree) == 0
    assert accum * micro == lay["grad_accum"] and t.seq_len == block["seq_len"]
    assert cfg.activation_checkpoint.mode == lay["recompute"]
    assert ("quantize.linear.float8" in cfg.model.converters) == (block["precision"] == "fp8")


# ------------------------------------------------------------------------------ DeepSpeed
def test_deepspeed_json_passes_deepspeeds_config_checks(block, monkeypatch):
    pytest.importorskip("deepspeed", reason="deepspeed not installed (the `frameworks` extra)")
    import json

    from deepspeed.runtime import config as ds_config

    class Mpu:  # what a DeepSpeed engine is given: the data-parallel size of the layout
        def get_data_parallel_world_size(self):
            return block["layout"]["dp"]

    # DeepSpeedConfig asks deepspeed.comm for the rank before it reads the mpu; no process group here
    monkeypatch.setattr(ds_config.dist, "get_rank", lambda: 0)
    raw = json.loads(json.dumps(fw.deepspeed_config(block)))  # what the file holds
    cfg = ds_config.DeepSpeedConfig(raw, mpu=Mpu())  # pydantic models forbid unknown keys; batch checks
    lay = block["layout"]
    assert cfg.world_size == lay["dp"] and cfg.zero_optimization_stage == lay["zero"]
    assert cfg.train_batch_size == lay["global_batch"] and cfg.gradient_accumulation_steps == lay["grad_accum"]
    assert cfg.bfloat16_config.enabled == (block["precision"] in ("bf16", "fp8"))
    assert cfg.zero_config.reduce_bucket_size == raw["zero_optimization"]["reduce_bucket_size"]
    with pytest.raises(Exception):  # the schema is strict: a misspelt key fails
        ds_config.DeepSpeedConfig({**raw, "zero_optimization": {**raw["zero_optimization"], "stag": 1}}, mpu=Mpu())


# ------------------------------------------------------------------------------ torchrun
def test_the_torchrun_line_parses_with_torchs_own_launcher(block):
    from torch.distributed.run import config_from_args, get_args_parser

    for script in (artefacts.torchrun_script(block), artefacts.sbatch_script(block)):
        line = next(ln for ln in script.splitlines() if "torchrun " in ln and not ln.lstrip().startswith("#"))
        line = line[line.index("torchrun ") + len("torchrun "):]
        words = shlex.split(line.replace("$SLURM_JOB_NUM_NODES", str(block["nodes"])).replace("$", ""))
        words = [w for w in words if w != "{ENTRY[@]}"] + ["train.py"]
        config, cmd, _ = config_from_args(get_args_parser().parse_args(words))
        assert (config.min_nodes, config.max_nodes) == (block["nodes"], block["nodes"])
        assert config.nproc_per_node == block["gpus_per_node"] and cmd == sys.executable
        if block["nodes"] > 1:
            assert config.max_restarts == 0 and config.rdzv_backend == "c10d"
            assert config.rdzv_endpoint.endswith(f":{artefacts.C10D_PORT}")


CUDA_ONLY = ("wheels pin a CUDA torch (vllm 0.33: torch 2.14 + nvidia-* libraries) that would replace this "
             "environment's CPU torch 2.13, so the `frameworks` extra leaves it out")


@pytest.fixture(scope="module")
def serving_block(catalog, shape):
    b = _block(catalog, shape, nodes=2, precision="fp8")
    b.pop("layout")
    return {**b, "task": "infer", "serving": {"tp": 4, "replicas": 3, "max_num_seqs": 64, "prompt_tokens": 2048,
                                              "gen_tokens": 256, "max_model_len": 2304, "kv_cache_dtype": "auto",
                                              "gpu_memory_utilization": 0.95, "static_memory_fraction": 0.92}}


def test_vllm_engine_arguments_parse_with_vllms_parser(serving_block):
    pytest.importorskip("vllm", reason="vllm not installed: its " + CUDA_ONLY)
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.utils import FlexibleArgumentParser

    args = AsyncEngineArgs.add_cli_args(FlexibleArgumentParser()).parse_args(fw.vllm_args(serving_block))
    assert (args.tensor_parallel_size, args.max_num_seqs, args.max_model_len) == (4, 64, 2304)
    assert args.quantization == "fp8" and args.gpu_memory_utilization == 0.95


def test_sglang_server_arguments_parse_with_sglangs_parser(serving_block):
    pytest.importorskip("sglang", reason="sglang not installed: its " + CUDA_ONLY)
    import argparse

    from sglang.srt.server_args import ServerArgs

    parser = argparse.ArgumentParser()
    ServerArgs.add_cli_args(parser)
    args = parser.parse_args(["--model-path", "m", *fw.sglang_args(serving_block)])
    assert (args.tp_size, args.max_running_requests, args.context_length) == (4, 64, 2304)
