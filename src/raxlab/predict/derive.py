"""Derive the in-training factors of `priors.yaml` from independent published runs.

Microbenchmarks (MAMF GEMMs, a FlashAttention-2 benchmark) measure kernels alone, warm and
in their best shape; inside a training step the same kernels run slower (realistic shapes,
sustained clocks under full load, launch gaps, allocator, kernels the model lumps together).
Three factors bridge the two, fitted with this very model to the end-to-end runs of
`data/independent_points.yaml` (FlashAttention-2 paper, Table 1: 8×A100, no overlap with
../shared/validation/):

- `matmul_factor`: in-training GEMM efficiency ÷ the MAMF fraction;
- `attention_factor`: in-training FlashAttention-2 efficiency ÷ the microbenchmark's;
- `flash1_ratio`: FlashAttention-1/Triton-era kernel efficiency ÷ FlashAttention-2's.

The paper's baseline without FlashAttention (unfused attention) is not fitted; it is reported
as an out-of-sample check. Run `python -m raxlab.predict.derive` to print the fit.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import yaml

from raxlab.predict.hardware import Efficiency, Hardware
from raxlab.predict.layout import Layout
from raxlab.predict.shape import TransformerShape
from raxlab.safe_yaml import PACKAGE_LOADER

POINTS_PATH = Path(__file__).parent / "data" / "independent_points.yaml"
# The A100 microbenchmark fractions the factors multiply (priors.yaml, a100-sxm-80gb).
A100_MAMF_BF16 = 271.2 / 312
A100_FA2_BENCH = 179.5 / 312


def load_points() -> dict:
    return yaml.load(POINTS_PATH.read_text(), Loader=PACKAGE_LOADER)


def a100_node(matmul: float, attention: float, attention1: float) -> Hardware:
    """One 8×A100-80GB SXM node (datasheet numbers as in the catalogue; no fabric needed), with
    the kernel-level shape model of data/kernels.yaml; `attention` scales its FA2 curves."""
    from raxlab.predict import priors
    from raxlab.predict.kernels import kernel_params

    kp = kernel_params("a100-sxm-80gb")
    scale = attention / A100_FA2_BENCH
    curves = {k: {p: (c.e_inf * scale, c.s0) for p, c in v.items()} for k, v in kp.attention.items()}
    eff = Efficiency(matmul={"bf16": matmul}, attention=attention, attention_flash1=attention1,
                     mem_bw=priors.load_priors()["accelerators"]["a100-sxm-80gb"]["mem_bw"]["value"],
                     sms=kp.sms, gemm=dict(kp.gemm), attention_curves=curves)
    return Hardware(name="8x a100-sxm-80gb", peak_flops={"bf16": 312e12}, mem_bytes=80 * 2**30, mem_bw=2.039e12,
                    gpus_per_node=8, scaleup_bw=300e9, scaleup_eff=priors.scaleup_eff("nvlink3").value, eff=eff)


def _cases(data: dict):
    for p in data["points"]:
        m = data["models"][p["model"]]
        shape = TransformerShape(hidden=m["hidden"], layers=m["layers"], heads=m["heads"], ffn=4 * m["hidden"],
                                 vocab=data["vocab"], seq=p["seq"], learned_pos=p["seq"])
        lay = Layout(dp=8, micro_batch=p["micro_batch"], global_batch=p["global_batch"], zero=1,
                     attention=p["attention"])
        yield p, shape, lay


def predicted(factors, data: dict | None = None) -> list[tuple[dict, float]]:
    """(point, predicted TFLOP/s on the paper's basis) for every point under `factors`."""
    from raxlab.predict.api import predict_training

    mm, att, r1 = factors
    hw = a100_node(A100_MAMF_BF16 * mm, A100_FA2_BENCH * att, A100_FA2_BENCH * att * r1)
    out = []
    for p, shape, lay in _cases(data or load_points()):
        step = predict_training(shape, hw, lay, "bf16", gpus=8).step_time_s
        n = shape.params
        flops = lay.global_batch * (6 * n * shape.seq + 12 * shape.layers * shape.hidden * shape.seq**2)
        out.append((p, flops / step / 8 / 1e12))
    return out


def derive(data: dict | None = None) -> dict:
    """Least-squares fit (in log space) of the three factors to the flash and flash1 points."""
    from scipy.optimize import least_squares

    data = data or load_points()
    fitted = dict(data, points=[p for p in data["points"] if p["attention"] != "unfused"])

    def resid(x):
        return [np.log(pred / p["tflops"]) for p, pred in predicted(x, fitted)]

    sol = least_squares(resid, x0=[0.8, 0.8, 0.6], bounds=([0.2, 0.2, 0.2], [1.5, 1.5, 1.5]))
    rows = [(p, pred, pred / p["tflops"] - 1) for p, pred in predicted(sol.x, data)]
    return {"matmul_factor": float(sol.x[0]), "attention_factor": float(sol.x[1]),
            "flash1_ratio": float(sol.x[2]), "rows": rows}


def main() -> None:
    res = derive()
    for p, pred, err in res["rows"]:
        tag = "check" if p["attention"] == "unfused" else "fit"
        print(f"{p['model']:10s} s={p['seq']:5d} {p['attention']:8s} published {p['tflops']:6.1f} "
              f"predicted {pred:6.1f} error {100 * err:+6.1f} % ({tag})")
    print({k: round(v, 3) for k, v in res.items() if k != "rows"})


if __name__ == "__main__":
    main()
