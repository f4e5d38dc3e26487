"""What a team must know to run the layout a plan (or `rax predict`) projected: the plan's `launch` block.

    block = from_plan(plan, shape, cat)          # plan_workload attaches it as plan["launch"]
    block = from_prediction(...)                 # rax predict, for its one explicit layout

The block is plain data (JSON), the only input of `plan.artefacts` (torchrun, sbatch, Megatron-LM,
torchtitan, DeepSpeed, vLLM, SGLang): the cluster (nodes x GPUs per node, and the OS hosts a
launcher starts: `hosts` x `gpus_per_host`, several per node on a rack-scale NVL72), the fabric with the
NCCL transport arm that forces it (`measure.comm.transports`: IB verbs for InfiniBand and RoCE,
sockets for TCP), the precision, the layout (tp, pp, dp, vpp, ZeRO, recompute, micro/global batch;
`ep`/`cp` when the layout has them) and the model shape from the workload card. Every number
in it is the plan's own: the settings are what was projected, labelled so.
"""

from __future__ import annotations

from raxlab.errors import RaxError

LABEL = "projected: the layout and cluster the projection assumed; run them to reproduce its numbers"


def fabric_block(cat, name: str | None, rails: int | None) -> dict | None:
    """The fabric as the launch needs it: family, transport and the NCCL arm that forces it."""
    if not name:
        return None
    spec = cat.fabric(name).spec
    arm = "nccl-socket" if spec.transport == "tcp" else "nccl-ib"
    kind = "tcp" if spec.transport == "tcp" else ("infiniband" if spec.family == "infiniband" else "roce")
    return {"name": name, "family": spec.family, "transport": spec.transport, "kind": kind, "arm": arm,
            "rails": int(rails or 1), "gpudirect_rdma": bool(spec.gpudirect_rdma)}


def model_block(shape, moe: dict | None = None) -> dict | None:
    """The transformer shape (None for other models: the framework settings then omit model flags);
    with a mixture of experts (the card's `moe` summary) its experts, top-k and expert width."""
    if shape is None:
        return None
    out = {"layers": int(shape.layers), "hidden": int(shape.hidden), "heads": int(shape.heads),
           "kv_heads": int(shape.kv), "ffn": int(shape.ffn), "vocab": int(shape.vocab),
           "gated_mlp": bool(shape.gated_mlp), "tied_embeddings": bool(shape.tied_embeddings)}
    if moe and moe.get("experts"):
        mats = 3 if shape.gated_mlp else 2  # weight matrices per expert MLP
        out.update(experts=int(moe["experts"]), top_k=int(moe["top_k"]),
                   moe_ffn=int(moe["params_per_expert"] // (mats * shape.hidden)))
    return out


def _train_layout(lay: dict) -> dict:
    out = {k: lay[k] for k in ("tp", "pp", "dp", "micro_batch", "global_batch", "vpp", "zero", "recompute",
                               "sequence_parallel", "grad_accum") if k in lay}
    for k in ("ep", "cp", "etp"):  # expert / context parallel, when the layout has them (predict/layout.py)
        if lay.get(k) is not None:
            out[k] = int(lay[k])
    for k in ("cp_comm", "moe_overlap", "tp_overlap"):
        if k in lay:
            out[k] = lay[k]
    out.setdefault("grad_accum", lay["global_batch"] // (lay["micro_batch"] * lay["dp"]))
    out["overlap_grad_reduce"] = bool(lay.get("overlap_grad_reduce", True))
    out["grad_reduce_bytes"] = int(lay.get("grad_reduce_bytes", 2))
    return out


def host_fields(cat, server: str, nodes: int, gpus_per_node: int) -> dict:
    """The OS hosts a launcher starts: a node is the scale-up domain, on a rack-scale server several
    hosts (catalogue `hosts_per_node`: GB200 NVL72 = 18 hosts x 4 GPUs); otherwise one per node."""
    try:
        per_host = cat.server(server).gpus_per_host
    except RaxError:  # a server name the catalogue does not hold (e.g. from an old plan): one host per node
        per_host = gpus_per_node
    per_host = max(1, min(per_host, gpus_per_node))
    return {"hosts": nodes * -(-gpus_per_node // per_host), "gpus_per_host": per_host}


def from_plan(plan: dict, shape, cat, moe: dict | None = None) -> dict:
    """The launch block of a plan's recommendation (training or serving)."""
    acc = plan["acceptance"]
    rec = plan["recommendation"]
    gpn = int(acc.get("gpus_per_node") or cat.server(acc["server"]).gpus_per_node)
    block = {"label": LABEL, "source": "rax plan", "workload": acc["workload"], "task": plan["workload"]["task"],
             "accelerator": acc["accelerator"], "server": acc["server"], "nodes": int(acc["nodes"]),
             "gpus_per_node": gpn, **host_fields(cat, acc["server"], int(acc["nodes"]), gpn),
             "gpus": int(acc["gpus"]), "precision": acc["precision"],
             "seq_len": int(plan["workload"]["seq_len"] or (shape.seq if shape else 0)),
             "fabric": fabric_block(cat, acc["fabric"], acc["rails"]), "model": model_block(shape, moe)}
    if block["task"] == "infer":
        block["serving"] = serving_block(rec["layout"]["tp"], rec["batch"], rec["replicas"],
                                         prompt=block["seq_len"], gen=plan.get("serving", {}).get("gen_tokens"),
                                         precision=acc["precision"],
                                         mem_bytes=cat.accelerator(acc["accelerator"]).mem_bytes)
    else:
        block["layout"] = _train_layout(acc["layout"])
    return block


def serving_block(tp: int, batch: int, replicas: int, *, prompt: int, gen: int | None, precision: str,
                  mem_bytes: float) -> dict:
    """One serving replica: tensor parallel width, concurrent sequences, context, memory shares.

    The projection's memory model (plan/serve.py): weights + KV cache + a workspace must fit in
    the usable fraction of HBM. vLLM's --gpu-memory-utilization bounds everything it allocates
    (the usable fraction); SGLang's --mem-fraction-static bounds weights + KV pool only (usable
    minus the workspace)."""
    from raxlab.plan.defaults import default
    from raxlab.predict import priors

    gen = int(gen or default("serving_gen_tokens").value)
    usable = float(priors.scalar("memory", "usable_fraction").value)
    workspace = float(priors.scalar("memory", "workspace_bytes").value)
    return {"tp": int(tp), "replicas": int(replicas), "max_num_seqs": int(batch), "prompt_tokens": int(prompt),
            "gen_tokens": gen, "max_model_len": int(prompt) + gen,
            # the projection keeps the KV cache in the model dtype (>= 2 bytes, plan/serve.py): "auto"
            "kv_cache_dtype": "auto",
            "weights": "fp8" if precision == "fp8" else precision,
            "gpu_memory_utilization": usable,
            "static_memory_fraction": round(usable - workspace / mem_bytes, 3)}


def _predicted(workload, hw, cat, gpu, fabric, rails, precision, gpus: int, seq_len: int, shape, moe=None) -> dict:
    gpn = int(hw.gpus_per_node)
    if gpus % gpn and gpus > gpn:
        raise RaxError(f"{gpus} GPUs do not fill whole nodes of {gpn}; the launch files need whole nodes",
                       field="--gpus")
    nodes = max(1, -(-gpus // gpn))
    return {"label": LABEL, "source": "rax predict", "workload": workload, "accelerator": gpu,
            "server": hw.name.split(" in ", 1)[-1], "nodes": nodes, "gpus_per_node": min(gpn, gpus),
            **host_fields(cat, hw.name.split(" in ", 1)[-1], nodes, min(gpn, gpus)), "gpus": gpus,
            "precision": precision, "seq_len": int(seq_len),
            "fabric": fabric_block(cat, fabric, rails or hw.rails_per_node or gpn) if nodes > 1 else None,
            "model": model_block(shape, moe)}


def from_prediction(*, workload: str, hw, cat, gpu: str, fabric: str | None, rails: int | None, precision: str,
                    layout, seq_len: int, shape, moe: dict | None = None) -> dict:
    """The launch block of `rax predict`'s one explicit training layout."""
    block = _predicted(workload, hw, cat, gpu, fabric, rails, precision, int(layout.gpus), seq_len, shape, moe)
    return {**block, "task": "train", "layout": _train_layout(layout.to_dict())}


def from_inference(out: dict, *, workload: str, hw, cat, gpu: str, shape) -> dict | None:
    """`rax predict --infer`: one replica at the largest projected batch that fits (None: none fits)."""
    fits = [r for r in out["per_batch"] if r["fits"]]
    if not fits:
        return None
    tp = int(out["tp"])
    block = _predicted(workload, hw, cat, gpu, None, None, out["precision"], tp, out["prompt"], shape)
    serving = serving_block(tp, max(r["batch"] for r in fits), 1, prompt=out["prompt"], gen=out["gen"],
                            precision=out["precision"], mem_bytes=hw.mem_bytes)
    return {**block, "task": "infer", "serving": serving}
