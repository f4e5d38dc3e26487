"""Collective specs: sizes, rounding and busbw factors against nccl-tests' definitions."""

import pytest
import torch

from raxlab.errors import RaxError
from raxlab.measure.comm.bench import plan
from raxlab.measure.comm.collectives import COLLS, modulus, pattern, pattern_sum
from raxlab.measure.comm.options import SweepOptions, format_size, parse_size


@pytest.mark.parametrize("n", [2, 3, 4, 8, 64])
def test_busbw_factors_are_the_nccl_tests_formulas(n):
    # doc/PERFORMANCE.md: all-reduce 2(n-1)/n; all-gather, reduce-scatter, all-to-all (n-1)/n;
    # broadcast and send/recv 1.
    want = {"all_reduce": 2 * (n - 1) / n, "all_gather": (n - 1) / n, "reduce_scatter": (n - 1) / n,
            "all_to_all": (n - 1) / n, "broadcast": 1.0, "send_recv": 1.0}
    for name, coll in COLLS.items():
        assert coll.factor(n) == pytest.approx(want[name])
        assert coll.busbw(2.0, n) == pytest.approx(2.0 * want[name])


def test_whole_buffer_sizes_round_the_per_rank_chunk_to_16_bytes():
    # nccl-tests *GetCollByteCount: base = (count/nranks) & -(16/eltSize)
    n, es = 3, 4
    for name in ("all_gather", "reduce_scatter", "all_to_all"):
        assert COLLS[name].size_bytes(1000, es, n) == 960  # 250 elems -> 83 per rank -> 80
        assert COLLS[name].size_bytes(12345, 2, n) == 12336  # 6172 -> 2057 -> 2056 per rank
        assert COLLS[name].size_bytes(8, es, n) == 0  # too small to give each rank a chunk
    assert COLLS["all_reduce"].size_bytes(1001, es, n) == 1000
    assert COLLS["broadcast"].size_bytes(6, es, n) == 4
    send, recv, chunk = COLLS["all_gather"].counts(1000, es, n)
    assert (send, recv, chunk) == (80, 240, 80)
    send, recv, chunk = COLLS["reduce_scatter"].counts(1000, es, n)
    assert (send, recv, chunk) == (240, 80, 80)


def test_plan_drops_empty_and_duplicate_sizes_and_lonely_send_recv():
    opts = SweepOptions(min_bytes=8, max_bytes=256, step_factor=2).validate()
    pts = plan(opts, 4)
    ag = [p.size_bytes for p in pts if p.collective == "all_gather"]
    assert ag == [64, 128, 256]  # 8..32 B leave no 16-byte chunk per rank
    assert all(p.size_bytes > 0 for p in pts)
    assert not [p for p in plan(opts, 1) if p.collective == "send_recv"]


@pytest.mark.parametrize("n", [2, 3, 4, 16, 100, 300])
def test_pattern_sums_are_exact_in_bf16_and_fp16(n):
    idx = torch.arange(5000, dtype=torch.int32)
    total = pattern_sum(idx, n)
    assert int(total.max()) <= 256
    for dt in (torch.bfloat16, torch.float16):
        acc = torch.zeros(idx.numel(), dtype=dt)
        for r in range(n):  # a reduction in the low precision itself stays exact
            acc += pattern(r, idx, n).to(dt)
        assert torch.equal(acc.to(torch.int32), total)
    assert modulus(2) == 16 and modulus(64) == 4


def test_sizes_and_options_validate_like_nccl_tests():
    assert parse_size("64K", "-b") == 65536 and parse_size("1G", "-e") == 2**30
    assert parse_size("16MiB", "-e") == 16 * 2**20
    assert SweepOptions(min_bytes=8, max_bytes=64, step_factor=2).sizes() == [8, 16, 32, 64]
    assert format_size(16 * 2**20) == "16 MiB" and format_size(1000) == "1000 B"
    with pytest.raises(RaxError, match="-b/--min-bytes"):
        parse_size("lots", "-b/--min-bytes")
    with pytest.raises(RaxError, match="unknown collective 'allreduce'; did you mean all_reduce"):
        SweepOptions(collectives="allreduce").validate()
    with pytest.raises(RaxError, match="step factor"):
        SweepOptions(step_factor=1).validate()
    assert SweepOptions(collectives="all").validate().collectives == list(COLLS)
