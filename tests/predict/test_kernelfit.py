"""kernels.yaml holds what the fits to the published kernel tables give (kernelfit.py)."""

import pytest

from raxlab.predict import kernelfit
from raxlab.predict.kernels import kernel_params, load_kernels


@pytest.mark.parametrize("family, dtype, member", [("hopper", "bf16", "h100-sxm"), ("blackwell", "bf16", "b200-sxm"),
                                                   ("blackwell", "fp8", "b200-sxm"), ("hopper", "fp8", "h100-sxm")])
def test_gemm_parameters_match_the_fit(family, dtype, member):
    fit = kernelfit.fit_gemm(family, dtype)
    k0, fixed = kernel_params(member).gemm[dtype]
    assert k0 == pytest.approx(fit["k0"], rel=0.02, abs=2)
    if fit["fixed_us"] is not None:
        assert fixed * 1e6 == pytest.approx(fit["fixed_us"], rel=0.02)
        assert fit["median_abs"] < 0.08  # the model describes the measured table


@pytest.mark.parametrize("kernel, tag", [("fa2", "flash"), ("cudnn", "fused")])
def test_hopper_attention_curves_match_the_fa3_paper(kernel, tag):
    fwd = kernelfit.fit_attention(kernel, "fwd", True)
    curve = kernel_params("h100-sxm").attention[tag]["fwd"]
    assert curve.e_inf == pytest.approx(fwd["e_inf"], abs=0.002) and curve.s0 == pytest.approx(fwd["s0"], abs=2)
    assert fwd["max_abs"] < 0.05


def test_every_family_states_its_evidence():
    for name, fam in load_kernels()["families"].items():
        assert fam["evidence"] in ("kernel", "borrowed", "none"), name
    assert kernel_params("mi300x").notes and "no kernel-level" in kernel_params("mi300x").notes[0]
    assert kernel_params("a100-sxm-80gb").evidence == "borrowed"
    assert not kernel_params("h100-sxm").notes
