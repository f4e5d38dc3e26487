"""Context parallelism: per-rank compute and memory 1/cp, K/V exchange volume and overlap."""

import dataclasses

import pytest

from raxlab.predict import context
from raxlab.predict.api import predict_training
from raxlab.predict.collectives import p2p_time
from raxlab.predict.compute import layer_cost
from raxlab.predict.hardware import hw_consts
from raxlab.predict.layout import Layout, as_arrays
from raxlab.predict.shape import TransformerShape

# Llama 3 405B (Dubey et al. 2024, Table 3) at 131,072 tokens, its long-context stage (§3.4.2)
L405 = TransformerShape(hidden=16384, layers=126, heads=128, kv_heads=8, ffn=53248, vocab=128256, seq=131072,
                        gated_mlp=True, tied_embeddings=False)


def test_kv_chunk_volume():
    la = as_arrays(Layout(tp=8, cp=16, global_batch=1))
    # K and V of 131072/16 tokens, 8 KV heads split over tp 8 (one each), head_dim 128, 16 bit
    assert float(context.kv_chunk_bytes(L405, la)) == 2 * (131072 / 16) * 1 * 128 * 2


def test_per_rank_work_is_one_cp_th(h100_ib):
    hc = hw_consts(h100_ib, "bf16")
    whole = layer_cost(L405, as_arrays(Layout(tp=8, global_batch=1)), hc)
    split = layer_cost(L405, context.as_data_parallel(as_arrays(Layout(tp=8, cp=16, global_batch=1))), hc)
    assert float(split.attn_f) == pytest.approx(float(whole.attn_f) / 16, rel=1e-6)  # queries 1/cp, keys all
    assert float(split.mm_f) < float(whole.mm_f) / 10  # GEMMs on 1/16 of the tokens


def test_ring_is_hidden_when_attention_covers_it_and_exposed_when_not(catalog):
    """Per ring step the K/V hop grows with s/cp and the attention it hides under with (s/cp)·s: at
    128K the hop hides on InfiniBand; at 16K with cp 8, 100G TCP exposes far more of it."""
    from raxlab.predict.adapter import hardware_from_catalog

    fast = hardware_from_catalog(catalog, gpu="h100-sxm", fabric="ib-ndr")[0]
    slow = hardware_from_catalog(catalog, gpu="h100-sxm", fabric="tcp-100")[0]
    lay = Layout(tp=8, pp=16, cp=16, dp=1, global_batch=16, sequence_parallel=True)
    assert predict_training(L405, fast, lay).terms["cp_comm"] == 0.0
    short, lay8 = dataclasses.replace(L405, seq=16384), dataclasses.replace(lay, cp=8)
    exposed = predict_training(short, slow, lay8).terms["cp_comm"]
    assert exposed > 5 * predict_training(short, fast, lay8).terms["cp_comm"]
    # what is exposed is at most the whole ring: (cp-1) hops of K/V forward, K/V + grads backward
    hc = hw_consts(slow, "bf16")
    chunk = float(context.kv_chunk_bytes(short, as_arrays(lay8)))
    hops = 7 * (float(p2p_time(chunk, True, hc)) + float(p2p_time(2 * chunk, True, hc)))
    assert exposed <= 16 * 8 * hops * (1 + 1e-9)  # 16 micro-batches x 8 layers on the fullest stage


def test_all_gather_cp_is_exposed(h100_ib):
    lay = Layout(tp=8, pp=16, cp=16, dp=1, global_batch=16, sequence_parallel=True, cp_comm="all_gather")
    assert predict_training(L405, h100_ib, lay).terms["cp_comm"] > 0


def test_cp_cuts_activation_memory(h100_ib):
    kw = dict(tp=8, pp=16, global_batch=16, sequence_parallel=True, recompute="selective", zero=1)
    one = predict_training(L405, h100_ib, Layout(dp=1, **kw)).memory_gib
    cp16 = predict_training(L405, h100_ib, Layout(dp=1, cp=16, **kw)).memory_gib
    assert cp16["activations"] == pytest.approx(one["activations"] / 16, rel=0.01)
    assert cp16["optimizer"] == pytest.approx(one["optimizer"] / 16, rel=1e-6)  # distributed optimizer over DP·CP
    assert one["total"] > 10 * cp16["total"] / 2  # activations dominate at 128K tokens


def test_cp_needs_the_sequence_in_2cp_chunks(h100_ib):
    from raxlab.errors import RaxError

    with pytest.raises(RaxError, match="cp:"):
        predict_training(dataclasses.replace(L405, seq=131072 + 8), h100_ib, Layout(tp=8, cp=16, global_batch=1))
