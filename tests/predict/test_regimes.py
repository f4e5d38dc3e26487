"""Fabric load regimes (data/fabric_regimes.yaml): fractions in (0, 1], never faster under more load."""

from types import SimpleNamespace

import numpy as np
import pytest

from raxlab.errors import RaxError
from raxlab.predict import collectives as c
from raxlab.predict import regimes

GPUS = np.array([8, 16, 64, 128, 512, 1024, 8192], dtype=float)


def test_every_regime_is_a_fraction_and_one_inside_a_node():
    for name in regimes.names():
        i = regimes.index(name)
        for kind in ("all_reduce", "all_to_all"):
            eff = regimes.efficiency(kind, i, GPUS, 8)
            assert np.all((eff > 0) & (eff <= 1.0 + 1e-12))
            assert regimes.efficiency(kind, i, 8, 8) == 1.0


def test_ecmp_default_is_never_faster_than_tuned_and_loses_more_at_scale():
    tuned, ecmp = regimes.index("tuned"), regimes.index("ecmp-default")
    t, e = regimes.efficiency("all_reduce", tuned, GPUS, 8), regimes.efficiency("all_reduce", ecmp, GPUS, 8)
    assert np.all(e <= t) and np.all(np.diff(e) <= 1e-12)
    assert e[2] == pytest.approx(0.91)  # Tolly 225112 at 64 GPUs


def test_all_to_all_suffers_less_from_ecmp_collisions_than_all_reduce():
    # more flows per link: the loss shrinks by sqrt(2 flows / (p - k) peers off the node)
    ecmp = regimes.index("ecmp-default")
    ar = regimes.efficiency("all_reduce", ecmp, 64, 8)
    a2a = regimes.efficiency("all_to_all", ecmp, 64, 8)
    tuned = regimes.efficiency("all_to_all", regimes.index("tuned"), 64, 8)
    assert a2a == pytest.approx(tuned * (1 - (1 - ar) * np.sqrt(2 / 56))) and ar < a2a < tuned


def test_families_and_defaults():
    assert regimes.for_family("roce") == ["tuned", "ecmp-default"]
    assert regimes.for_family("infiniband") == ["adaptive"] and regimes.for_family("tcp") == ["tcp"]
    with pytest.raises(RaxError, match="unknown fabric regime"):
        regimes.index("ecmp")


def _hc(regime: str, oversub: float):
    return SimpleNamespace(alpha_intra=3.4e-6, alpha_inter=14e-6, intra_bw=370e9, inter_bw=47e9, base=8.4e-6,
                           g=8, oversub=oversub, nodes_per_leaf=16, intra_pci=0.0, nvls_eff=0.85, ll128_intra=1.0,
                           ll128_net=1.0, ll_max_1=141e9, cpu_amd=0.0, regime=float(regimes.index(regime)))


@pytest.mark.parametrize("kind", ["all_reduce", "all_gather", "reduce_scatter", "all_to_all"])
def test_more_oversubscription_or_a_worse_regime_is_never_faster(kind):
    sizes = np.array([1e3, 1e6, 1e8, 1e10])
    for p in (16, 64, 512, 2048):
        prev = None
        for r in (1.0, 2.0, 3.0, 7.0):
            tuned = np.asarray(c.group_time(kind, sizes, p, 8, _hc("tuned", r)))
            ecmp = np.asarray(c.group_time(kind, sizes, p, 8, _hc("ecmp-default", r)))
            assert np.all(ecmp >= tuned * (1 - 1e-12))
            if prev is not None:
                assert np.all(tuned >= prev * (1 - 1e-12))
            prev = tuned


def test_describe_gives_the_range_and_its_basis():
    d = regimes.describe("ecmp-default", 512, 8)
    assert d["all_reduce"]["low"] <= d["all_reduce"]["value"] <= d["all_reduce"]["high"]
    assert d["all_reduce"]["basis"].startswith("source:") and "Tolly 225112" in d["all_reduce"]["basis"]
    assert "derived" in d["all_to_all"]["basis"]
