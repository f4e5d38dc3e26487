"""α-β fit on curves with known answers."""

import numpy as np
import pytest

from raxlab.fits import fit_alpha_beta, fit_rows

SIZES = [2**k for k in range(3, 27)]  # 8 B .. 64 MiB, like -b 8 -e 64M -f 2


def curve(alpha_s, beta_Bps, factor, sizes=SIZES):
    return [alpha_s + s * factor / beta_Bps for s in sizes]


def test_recovers_alpha_beta_and_half_bandwidth_size():
    alpha, beta, factor = 30e-6, 1.25e9, 2 * 3 / 4  # 30 us, 1.25 GB/s, all-reduce on 4 ranks
    fit = fit_alpha_beta(SIZES, curve(alpha, beta, factor), factor)
    assert fit["alpha_us"] == pytest.approx(30.0, rel=1e-3)
    # peak over large sizes: the largest size reaches beta * S f / (alpha beta + S f)
    top = SIZES[-1] * factor
    assert fit["beta_GBps"] == pytest.approx(1.25 * top / (alpha * beta + top), rel=1e-9)
    assert fit["r2"] == pytest.approx(1.0, abs=1e-3)
    # model n_half = alpha * beta / factor = 25 KB; measured one interpolates nearby
    assert fit["n_half_model_bytes"] == pytest.approx(alpha * beta / factor, rel=1e-2)
    assert fit["n_half_bytes"] == pytest.approx(alpha * beta / factor, rel=0.15)
    assert fit["peak_size_bytes"] == SIZES[-1]
    assert min(fit["large_sizes"]) == SIZES[-1] // 8


def test_one_disturbed_small_size_does_not_move_alpha():
    t = curve(50e-6, 1e9, 1.0)
    t[2] *= 3  # a scheduler hiccup at 32 B
    fit = fit_alpha_beta(SIZES, t, 1.0)
    assert fit["alpha_us"] == pytest.approx(50.0, rel=0.02)


def test_peak_is_the_max_over_large_sizes_not_the_mean():
    sizes = [2**20, 2**21, 2**22, 2**23]
    busbw = np.array([0.07, 0.11, 0.12, 0.10]) * 1e9
    fit = fit_alpha_beta(sizes, [s / b for s, b in zip(sizes, busbw)], 1.0)
    assert fit["beta_GBps"] == pytest.approx(0.12)
    assert fit["peak_size_bytes"] == 2**22
    assert fit["alpha_us"] is None and "no latency-dominated size" in fit["note"]
    # a single latency-dominated size gives alpha as its latency residual
    one = fit_alpha_beta(sizes, [2**20 / 0.04e9] + [s / b for s, b in zip(sizes[1:], busbw[1:])], 1.0)
    assert one["alpha_us"] == pytest.approx((2**20 / 0.04e9 - 2**20 / 0.12e9) * 1e6)


def test_rows_are_grouped_and_wrong_rows_left_out():
    rows = []
    for coll, factor in (("all_reduce", 1.0), ("all_gather", 0.5)):
        for s, t in zip(SIZES, curve(20e-6, 2e9, factor)):
            rows.append({"collective": coll, "transport": "gloo", "ranks": 2, "dtype": "fp32",
                         "size_bytes": s, "time_us": t * 1e6, "busbw_factor": factor, "correct": True})
    rows[-1] = {**rows[-1], "time_us": 1e-3, "correct": False}  # impossible, and wrong: not fitted
    fits = {f["collective"]: f for f in fit_rows(rows)}
    assert set(fits) == {"all_reduce", "all_gather"}
    assert fits["all_gather"]["n_points"] == len(SIZES) - 1
    assert fits["all_gather"]["beta_GBps"] < 2.0
    assert fits["all_reduce"]["alpha_us"] == pytest.approx(20.0, rel=1e-3)


def test_one_rank_has_nothing_to_fit():
    fit = fit_alpha_beta([8, 16], [1e-6, 1e-6], 0.0)
    assert fit["beta_GBps"] is None and "1 rank" in fit["note"]


def test_busbw_factors_match_the_measured_collectives():
    from raxlab.fits import busbw_factor
    from raxlab.measure.comm.collectives import COLLS

    for name, coll in COLLS.items():
        for n in (1, 2, 3, 8, 16, 1024):
            assert busbw_factor(name, n) == coll.factor(n), (name, n)
