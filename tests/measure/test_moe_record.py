"""The expert-parallel figures of a DDP run by hand, and the --ep choices and their errors."""

import pytest

from raxlab.errors import RaxError
from raxlab.measure import moe_record
from raxlab.measure.abtest_arms import RepResult
from raxlab.measure.ddp_options import DdpOptions

MOE = {"moe": {"experts": 4, "top_k": 2}}


def _round(sync, nosync, a2a_sync, a2a_nosync, tokens):
    return {"sync_s": sync, "nosync_s": nosync, "a2a_sync_s": a2a_sync, "a2a_nosync_s": a2a_nosync,
            "a2a_sync_mean_s": a2a_sync, "a2a_sync_bytes": 400, "a2a_sync_bytes_off_rank": 200,
            "a2a_sync_calls": 10, "tokens_per_expert": tokens}


def test_split_by_hand():
    rounds = [_round(0.10, 0.08, 0.03, 0.02, [[2, 2, 2, 2], [4, 2, 1, 1]]),
              _round(0.12, 0.09, 0.05, 0.03, [[1, 3, 2, 2], [2, 2, 2, 2]]),
              _round(0.11, 0.10, 0.04, 0.05, [[2, 2, 2, 2], [2, 2, 2, 2]])]
    d = moe_record.derive(rounds, {"ep": {"degree": 2}})
    assert d["compute_s"] == pytest.approx(0.06)  # median of 0.06, 0.06, 0.05
    assert d["exposed_comm_s"] == pytest.approx(0.11 - 0.06) and d["exposed_comm_share"] == pytest.approx(0.05 / 0.11)
    assert d["exposed_a2a_s"] == pytest.approx(0.04) and d["exposed_a2a_share"] == pytest.approx(0.04 / 0.11)
    assert d["exposed_grad_sync_s"] == pytest.approx(0.11 - 0.09)
    assert d["a2a_bytes_per_step"] == 400 and d["a2a_calls_per_step"] == 10
    assert d["load_imbalance"]["median"] == pytest.approx(1.5)  # round 1: 4 / 2; round 2: 3 / 2; round 3: 1
    lo, hi = d["exposed_comm_share_ci"]
    assert lo <= d["exposed_comm_share"] <= hi
    assert moe_record.derive([], {}) == {} and moe_record.imbalance([[0, 0]]) is None


def test_ab_repetition_compute_leaves_out_the_all_to_all():
    r = RepResult("a", 0, [0.1, 0.1], [0.08, 0.09], [0.03, 0.03], [0.02, 0.04])
    assert r.compute_s() == pytest.approx([0.06, 0.05])
    assert RepResult("b", 0, [0.1], [0.08]).compute_s() == [0.08]  # dense: the no_sync step itself


def test_ep_defaults_to_the_ranks_that_divide_the_experts():
    for ranks, want in ((2, 2), (4, 4), (3, 1), (6, 2)):
        o = DdpOptions("x")
        o.resolve_ep(MOE, ranks)
        assert o.ep == want
    o = DdpOptions("x")
    o.resolve_ep(None, 2)  # a dense model: plain DDP
    assert o.ep == 1


@pytest.mark.parametrize("ep,shape,ranks,msg", [
    (2, None, 2, "needs a mixture-of-experts model"),
    (3, MOE, 3, "must divide the 3 ranks and the 4 experts"),
    (4, MOE, 2, "must divide the 2 ranks"),
])
def test_bad_ep_is_one_line_error(ep, shape, ranks, msg):
    with pytest.raises(RaxError, match=msg) as e:
        DdpOptions("x", ep=ep).validate().resolve_ep(shape, ranks)
    assert e.value.field == "--ep" and "\n" not in str(e.value)


def test_ep_and_fsdp_and_zero_are_refused():
    with pytest.raises(RaxError, match="drop --fsdp"):
        DdpOptions("x", ep=2, fsdp=True).validate()
    with pytest.raises(RaxError, match=">= 1"):
        DdpOptions("x", ep=0).validate()
    assert "--ep" in DdpOptions("x", ep=2).to_args() and "--ep" not in DdpOptions("x").to_args()
