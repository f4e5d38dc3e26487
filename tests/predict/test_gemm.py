"""Shape-dependent GEMM and attention efficiency against hand-computed cases."""

import numpy as np
import pytest

from raxlab.predict.gemm import attention_efficiency, gemm_efficiency, gemm_time, wave_utilisation


def test_wave_quantization_by_hand():
    # 1024 x 1024 output in 64 x 128 tiles = 16 x 8 = 128 tiles; 132 SMs: one wave, 128/132 busy
    assert float(wave_utilisation(1024, 1024, 1, 132)) == pytest.approx(128 / 132)
    # 133 tiles on 132 SMs need two waves: the second runs one tile (133 / 264 busy)
    assert float(wave_utilisation(64, 133 * 128, 1, 132)) == pytest.approx(133 / 264)
    # a ragged edge wastes the padded part of the last tile: 100 rows fill 2 tiles of 64
    assert float(wave_utilisation(100, 128, 1, 132)) == pytest.approx(100 * 128 / (132 * 64 * 128))
    assert float(wave_utilisation(100, 128, 1, 0)) == 1.0  # no SM count: no quantization modelled


def test_tensor_parallel_shrinks_the_gemm_and_its_efficiency():
    # Llama-70B MLP down projection, 4096 tokens: K = 28672 / tp; N = 8192
    e = [float(gemm_efficiency(4096, 8192, 28672 / t, 1, 0.8, 111, 132)) for t in (1, 8, 32)]
    assert e[0] > e[1] > e[2]
    # K ramp by hand at tp 32: K = 896, K/(K + 111)
    u = float(wave_utilisation(4096, 8192, 1, 132))
    assert e[2] == pytest.approx(0.8 * u * 896 / (896 + 111))


def test_more_sms_lose_more_on_the_same_small_gemm():
    # 8 x 18 = 144 tiles: 2 waves on 132 SMs (144 / 264), 1 wave on 148 SMs (144 / 148)
    assert float(wave_utilisation(512, 2304, 1, 132)) == pytest.approx(144 / 264)
    assert float(wave_utilisation(512, 2304, 1, 148)) == pytest.approx(144 / 148)


def test_gemm_time_is_fixed_plus_the_slower_of_compute_and_memory():
    kw = dict(peak=1e15, e_max=1.0, k0=0.0, sms=0, fixed_s=5e-6, mem_bw=1e12)
    big = gemm_time(8192, 8192, 8192, **kw)
    assert float(big) == pytest.approx(5e-6 + 2 * 8192**3 / 1e15)
    thin = gemm_time(1, 8192, 8192, **kw)  # one token: reads the weight matrix, memory-bound
    assert float(thin) == pytest.approx(5e-6 + 2 * (8192 + 8192 * 8192) / 1e12 + 2 * 8192 / 1e12)


def test_attention_efficiency_saturates_with_sequence_length():
    e = attention_efficiency(np.array([512, 4096, 1 << 20]), 0.567, 387)
    assert e[0] == pytest.approx(0.567 * 512 / 899)
    assert e[0] < e[1] < e[2] < 0.567
