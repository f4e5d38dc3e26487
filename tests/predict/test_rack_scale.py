"""A 72-GPU NVLink domain in the projection: GB200 NVL72 racks are nodes of 72, Blackwell
kernel and NCCL data reach the new parts (catalogue names in kernels.yaml / nccl_tuning.yaml)."""

import pytest

from raxlab.errors import RaxError
from raxlab.predict import kernels, nccl
from raxlab.predict.adapter import hardware_from_catalog
from raxlab.predict.api import predict_training
from raxlab.predict.layout import Layout


@pytest.mark.parametrize("gpu, sms", [("gb200", 152), ("gb300", 152), ("b300-sxm", 148), ("b200-sxm", 148)])
def test_blackwell_parts_get_the_blackwell_kernel_and_nccl_data(gpu, sms):
    kp = kernels.kernel_params(gpu)
    assert (kp.family, kp.sms, kp.evidence) == ("blackwell", sms, "kernel")
    assert nccl.arch_of(gpu) == "blackwell"


def _comm(proj) -> dict:
    return proj.to_dict()["terms"]["communication"]


def test_data_parallel_inside_the_rack_stays_on_nvlink(catalog, llama70):
    # 72 GPUs as tp 8 x dp 9: one NVL72 rack, or nine 8-GPU HGX B200 nodes joined by NDR rails.
    lay = Layout(tp=8, pp=1, dp=9, micro_batch=1, global_batch=72, zero=1, recompute="full",
                 sequence_parallel=True)
    rack = hardware_from_catalog(catalog, gpu="gb200", server="gb200-nvl72")[0]
    hgx = hardware_from_catalog(catalog, gpu="b200-sxm", server="hgx-b200-8gpu", fabric="ib-ndr", rails=8)[0]
    assert rack.gpus_per_node == 72 and rack.scaleup_bw == hgx.scaleup_bw == 900e9
    on_rack, on_hgx = (predict_training(llama70, hw, lay, "bf16", gpus=72) for hw in (rack, hgx))
    # the same NVLink5 TP groups of 8 in both; the gradient all-reduce only crosses IB on HGX
    assert _comm(on_rack)["tp_activation_allreduce"] == pytest.approx(_comm(on_hgx)["tp_activation_allreduce"])
    assert _comm(on_rack)["dp_grad_sync"] < 0.01 * _comm(on_hgx)["dp_grad_sync"]
    with pytest.raises(RaxError, match="144 GPUs span several 72-GPU nodes but no fabric"):
        predict_training(llama70, rack, Layout(tp=8, dp=18, global_batch=144, recompute="full"), "bf16", gpus=144)
