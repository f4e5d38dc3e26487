"""Expert parallel over gloo all-to-all equals the single-rank model: forward, loss and every gradient.

Two CPU ranks (torch.multiprocessing, a file rendezvous). Each builds tiny-moe from the same seed,
computes the reference on the global batch (both ranks' batches) with all experts locally, then
shards the experts (EP 2: four of the eight experts per rank; EP 1: all experts on each rank, expert gradients
over the EDP group) and compares its own logits, the mean loss and the gradients, dense ones
averaged as DDP does. A third case routes every token of one block to the first rank's experts,
so the second rank receives no rows and must still run the backward all-to-all.
"""

import copy
import json
import os

import pytest
import torch
import torch.multiprocessing as mp

TOL = 1e-5


def _batches(wl, world, batch=2):
    return [wl.make_batch(batch, seed=100 + r) for r in range(world)]


def _reference(wl, batches):
    from raxlab.workload import steps

    torch.manual_seed(0)
    model = wl.build_model()
    full = {k: torch.cat([b[k] for b in batches]) for k in batches[0]}
    loss = steps.loss(wl, model, full)
    loss.backward()
    with torch.no_grad():
        logits = steps.forward(wl, model, full)
    return model, loss.item(), logits, {n: p.grad.clone() for n, p in model.named_parameters()}


def _ep_step(wl, batches, rank, world, ep):
    import torch.distributed as dist

    from raxlab.measure import moe_ep
    from raxlab.workload import steps

    torch.manual_seed(0)
    model = wl.build_model()
    mesh = moe_ep.EpMesh.build(world, rank, ep)
    meter = moe_ep.EpMeter()
    layers = moe_ep.shard_experts(model, mesh, meter)
    loss = steps.loss(wl, model, batches[rank])
    loss.backward()
    moe_ep.sync_expert_grads(layers, mesh)
    experts = set(moe_ep.expert_param_names(model))
    for n, p in model.named_parameters():
        if n not in experts:  # DDP's average of the dense gradients
            dist.all_reduce(p.grad)
            p.grad /= world
    mean = torch.tensor([loss.item()])
    dist.all_reduce(mean)
    with torch.no_grad():
        logits = steps.forward(wl, model, batches[rank])
    return model, layers, mean.item() / world, logits, meter


def _compare(ref, got, rank, batch):
    rmodel, rloss, rlogits, rgrads = ref
    model, layers, loss, logits, meter = got
    errs = {"loss": abs(loss - rloss), "logits": (logits - rlogits[rank * batch:(rank + 1) * batch]).abs().max().item()}
    grad = 0.0
    for n, p in model.named_parameters():
        name = n.replace(".local.", ".")
        want = rgrads[name]
        ep = next((e for e in layers if n.startswith(_prefix(model, e))), None)
        if ep is not None:
            want = want[ep.lo:ep.lo + ep.n_local]
        grad = max(grad, (p.grad - want).abs().max().item())
    errs["grad"] = grad
    errs["a2a_s"], errs["calls"], errs["off_rank"] = meter.seconds, meter.calls, meter.bytes_off_rank
    return errs


def _prefix(model, ep):
    return next(n for n, m in model.named_modules() if m is ep) + "."


def _one_sided(wl, rank, world):
    """Every token of a batch to experts 0 and 1 (rank 0's): rank 1 receives nothing."""
    from raxlab.measure import moe_ep

    torch.manual_seed(0)
    model = wl.build_model()
    block = moe_ep.moe_blocks(model)[0][1]
    ref_experts = copy.deepcopy(block)
    mesh = moe_ep.EpMesh.build(world, rank, world)
    ep = moe_ep.EpExperts(block, mesh, moe_ep.EpMeter(), 0)
    torch.manual_seed(1 + rank)
    h = torch.randn(6, block.hidden_dim, requires_grad=True)
    idx = torch.tensor([[0, 1]] * 6)
    w = torch.rand(6, 2)
    out = ep(h, idx, w)
    out.sum().backward()
    h2 = h.detach().clone().requires_grad_(True)
    want = ref_experts(h2, idx, w)
    want.sum().backward()
    return {"out": (out - want).abs().max().item(), "dx": (h.grad - h2.grad).abs().max().item()}


def _worker(rank, world, tmp):
    import torch.distributed as dist

    from raxlab.workload import load_workload

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{tmp}/rdzv", rank=rank, world_size=world)
    wl = load_workload("tiny-moe")
    batches = _batches(wl, world)
    ref = _reference(wl, batches)
    out = {f"ep{ep}": _compare(ref, _ep_step(wl, batches, rank, world, ep), rank, 2) for ep in (2, 1)}
    out["one_sided"] = _one_sided(wl, rank, world)
    with open(os.path.join(tmp, f"rank{rank}.json"), "w") as f:
        json.dump(out, f)
    dist.destroy_process_group()


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("ep"))
    mp.start_processes(_worker, args=(2, tmp), nprocs=2, start_method="spawn")
    return [json.load(open(os.path.join(tmp, f"rank{r}.json"))) for r in range(2)]


@pytest.mark.parametrize("case", ["ep2", "ep1"])
def test_expert_parallel_matches_the_single_rank_model(results, case):
    for rank in results:
        e = rank[case]
        assert e["loss"] < TOL and e["logits"] < TOL and e["grad"] < TOL, e


def test_all_to_all_is_timed_and_counted(results):
    for rank in results:
        ep2, ep1 = rank["ep2"], rank["ep1"]
        # per block: counts + dispatch + combine forward, the reverse of both backward; then the
        # no-grad forward of the logits check: counts + dispatch + combine again (2 blocks)
        assert ep2["calls"] == 2 * (3 + 2 + 3) and ep2["a2a_s"] > 0 and ep2["off_rank"] > 0
        assert ep1["off_rank"] == 0  # EP 1: every copy stays on its rank


def test_a_rank_that_receives_no_token_still_joins_the_backward(results):
    for rank in results:
        assert rank["one_sided"]["out"] < TOL and rank["one_sided"]["dx"] < TOL, rank["one_sided"]


def test_wait_for_the_last_peer_is_split_from_the_exchange():
    from raxlab.measure.moe_ep import split_waits

    # two calls on ranks 0 and 1 (entry, exit): rank 1 enters the first call 0.3 s late
    events = torch.tensor([[[0.0, 0.5], [1.0, 1.2]],
                           [[0.3, 0.5], [1.1, 1.2]]], dtype=torch.float64)
    exchange, wait = split_waits(events, [0, 1])
    assert exchange.tolist() == pytest.approx([0.2 + 0.1, 0.2 + 0.1])
    assert wait.tolist() == pytest.approx([0.3 + 0.1, 0.0])
