import json

from raxlab.cli.main import main
from raxlab.measure.kernels import KernelPoint, cpu_theoretical_peak, run_kernel_point
from raxlab.measure.timing import Policy
from raxlab.store import Store

FAST = Policy(min_reps=3, max_reps=5, max_seconds=1, warmup_max=2)


def test_fp32_gemm_rate_is_flops_over_median():
    out = run_kernel_point(KernelPoint("gemm", "cpu", "fp32", (256, 128, 64)), FAST)
    assert out["flops_per_op"] == 2 * 256 * 128 * 64
    assert out["flop_rate"] == out["flops_per_op"] / out["summary"]["median"]
    assert out["flop_rate"] > 1e8  # any CPU BLAS beats 0.1 GFLOP/s on this shape
    assert len(out["samples_s"]) == out["summary"]["n"]


def test_stream_triad_counts_three_words():
    out = run_kernel_point(KernelPoint("stream_triad", "cpu"), FAST)
    n = 1 << 25
    assert out["bytes_per_op"] == 3 * 4 * n
    assert out["bandwidth_Bps"] > 1e8


def test_cpu_peak_estimate_from_flags():
    fp = {"cpu": {"flags": ["avx2", "fma"], "max_mhz": 2000.0, "usable_cores": 4}}
    peak = cpu_theoretical_peak(fp)
    assert peak["fp32_flops"] == 4 * 2.0e9 * 32
    assert cpu_theoretical_peak({"cpu": {"flags": [], "max_mhz": 2000, "usable_cores": 1}}) is None


def test_cli_records_unsupported_precisions_and_keeps_going(capsys):
    code = main(["bench", "kernels", "--device", "cpu", "--precision", "fp8,fp32",
                 "--point-seconds", "0.5", "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    status = {p["name"]: p["status"] for p in data["points"]}
    assert status["gemm/fp8/512x512x512"] == "unsupported"
    assert status["gemm/fp32/512x512x512"] == "ok"
    assert data["ceilings"]["gemm_flops"]["fp32"] > 0
    stored = Store().get_run(data["run_id"])
    assert stored["status"] == "complete" and stored["n_points"] == len(data["points"])
    fp8 = [p for p in stored["points"] if p["name"].startswith("gemm/fp8")]
    assert all("compute capability" in p["error"] for p in fp8)


def test_cli_rejects_unknown_precision(capsys):
    assert main(["bench", "kernels", "--precision", "fp7"]) == 2
    assert "--precision" in capsys.readouterr().err
