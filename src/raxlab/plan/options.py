"""The evaluated options as one table, and choosing among them under a scenario.

`Options` joins the search result (best layout per hardware option) with its costs and the
objective: units/s, time-to-target, cost per unit of work, and whether each target and cap is
met. `Scenario` moves prices, the projected speed or the deadline (sensitivity); `choose`
returns the recommendation under a scenario: the cheapest option (TCO) meeting every target
and cap, or, when none does, the nearest one (smallest summed relative shortfall).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from raxlab.plan.cost import COMPONENTS
from raxlab.predict.layout import RECOMPUTE

GIB = 2.0**30


@dataclass
class Scenario:
    prices: dict[str, float] = field(default_factory=dict)  # CAPEX component -> multiplier
    energy: float = 1.0  # electricity price multiplier
    speed: float = 1.0  # projected throughput multiplier (efficiency band)
    # per GPU generation (kernels.yaml family) multipliers on top of `speed`: one generation at
    # the edge of its own band while the others stay as projected
    speed_by_generation: dict[str, float] = field(default_factory=dict)
    deadline_s: float | None = None  # replaces the objective's deadline


class Options:
    """All options with a feasible layout and a price: numpy columns plus row helpers."""

    def __init__(self, space, res, costs: dict, obj, global_batch: int):
        self.space, self.res, self.obj, self.global_batch = space, res, obj, global_batch
        c = {**res.cols, **{k: v for k, v in costs.items() if isinstance(v, np.ndarray)}}
        self.storage_bytes = costs.get("storage_bytes", 0.0)
        c["rate"] = c["tokens_per_s"] if obj.unit == "tokens" else c["samples_per_s"]
        self.unpriced = int((~np.isfinite(c["capex"])).sum())
        keep = np.isfinite(c["capex"]) & (c["rate"] > 0)
        self.c = {k: v[keep] for k, v in c.items()}
        self.base = [space.bases[i] for i in self.c["base"].astype(int)]
        self.var = [res.variants[i] for i in self.c["variant"].astype(int)]
        self.k = {"accelerator": np.array([b.pair[0] for b in self.base], object),
                  "server": np.array([b.pair[1] for b in self.base], object),
                  "precision": np.array([b.precision for b in self.base], object),
                  "nodes": self.c["nodes"].astype(int),
                  "fabric": np.array([v.fabric for v in self.var], object),
                  "rails": np.array([v.rails for v in self.var], int)}
        # integer codes per key column: `where` compares ints, not Python strings
        self._codes = {k: np.unique(v.astype(str), return_inverse=True) for k, v in self.k.items()
                       if v.dtype == object}

    def __len__(self) -> int:
        return len(self.c["capex"])

    # -- metrics under a scenario --------------------------------------------------------
    def metrics(self, sc: Scenario | None = None) -> dict:
        sc = sc or Scenario()
        c, obj = self.c, self.obj
        capex = sum(c[k] * sc.prices.get(k, 1.0) for k in COMPONENTS)
        tco = capex + c["energy"] * sc.energy + c.get("tuning", 0.0)  # fabric tuning: one-off engineering
        rate = c["rate"] * sc.speed * self.generation_speed(sc.speed_by_generation)
        time = obj.work / rate if obj.work else np.full(len(rate), np.nan)
        per_unit_scale = obj.per_unit[1]
        cpu = tco / (rate * obj.horizon_s) * per_unit_scale
        deadline = sc.deadline_s if sc.deadline_s is not None else obj.deadline_s
        short = self._shortfalls(capex, rate, time, deadline)
        return {"capex": capex, "tco": tco, "rate": rate, "time": time, "cost_per_unit": cpu,
                "short": short, "meets": sum(short.values()) == 0, "deadline_s": deadline}

    def _shortfalls(self, capex, rate, time, deadline) -> dict:
        """Relative shortfall per target/cap (0 where met), e.g. 0.25 = 25 % over the deadline."""
        c, obj = self.c, self.obj
        zero = np.zeros(len(capex))
        out = {}
        if deadline and obj.work:
            out["deadline"] = np.maximum(time / deadline - 1.0, 0.0)
        if obj.rate_required:
            out["throughput"] = np.maximum(obj.rate_required / rate - 1.0, 0.0)
        for key, value, cap in (("budget", capex, obj.budget_usd), ("power", c["it_peak_w"], obj.power_w),
                                ("rack", c["rack_units"], obj.rack_units)):
            if cap:
                out[key] = np.where(np.isfinite(value), np.maximum(value / cap - 1.0, 0.0), np.inf)
        return out or {"none": zero}

    # -- rows ----------------------------------------------------------------------------
    def key(self, i: int) -> tuple:
        k = self.k
        return (k["accelerator"][i], k["server"][i], k["precision"][i], int(k["nodes"][i]), k["fabric"][i],
                int(k["rails"][i]))

    def layout(self, i: int) -> dict:
        c = self.c
        lay = {"tp": int(c["tp"][i]), "pp": int(c["pp"][i]), "dp": int(c["dp"][i]), "micro_batch": int(c["mb"][i]),
               "global_batch": int(self.global_batch), "vpp": int(c["vpp"][i]), "zero": int(c["zero"][i]),
               "recompute": RECOMPUTE[int(c["recompute"][i])], "sequence_parallel": bool(c["sp"][i])}
        lay["grad_accum"] = lay["global_batch"] // max(lay["micro_batch"] * lay["dp"], 1)
        if "ep" in c and (c["ep"][i] > 1 or c["cp"][i] > 1):  # MoE / long context: expert and context parallel
            lay.update(ep=int(c["ep"][i]), etp=int(c["etp"][i] or c["tp"][i]), cp=int(c["cp"][i]))
        return lay

    def row(self, i: int, m: dict | None = None) -> dict:
        """One option as the plan reports it (projected performance, catalogue costs)."""
        m = m or self.metrics()
        c, b, v = self.c, self.base[i], self.var[i]
        acc, srv, prec, nodes, fabric, rails = self.key(i)
        step = float(c["step_time_s"][i])
        label, scale = self.obj.per_unit
        return {
            "accelerator": acc, "server": srv, "nodes": nodes, "gpus": int(c["gpus"][i]), "gpus_per_node": b.g,
            "hosts_per_node": b.srv.hosts_per_node, "gpus_per_host": b.srv.gpus_per_host,
            "fabric": fabric, "rails": rails, "nic": v.nic, "precision": prec, "layout": self.layout(i),
            "step_time_s": step, "samples_per_s": float(c["samples_per_s"][i]),
            "tokens_per_s": float(c["tokens_per_s"][i]) or None, "rate": float(m["rate"][i]),
            "time_to_target_s": _f(m["time"][i]), "mfu": float(c["mfu"][i]),
            "memory_per_gpu_gib": float(c["memory_bytes"][i]) / GIB,
            "exposed_comm_share": float(c["comm_s"][i]) / step, "network_comm_share": float(c["net_comm_s"][i]) / step,
            "all_to_all_share": float(c["a2a_s"][i]) / step if "a2a_s" in c else 0.0,
            "capex_usd": float(m["capex"][i]), "tco_usd": float(m["tco"][i]), "energy_usd": float(c["energy"][i]),
            "tuning_usd": float(c["tuning"][i]) if "tuning" in c else 0.0,
            "regime": (v.regime or v.hw.fabric_regime) if fabric and v.hw is not None else None,
            "it_power_kw": float(c["it_avg_w"][i]) / 1e3, "it_peak_kw": float(c["it_peak_w"][i]) / 1e3,
            "facility_power_kw": float(c["facility_w"][i]) / 1e3, "rack_units": _f(c["rack_units"][i]),
            "cost_per_unit": float(m["cost_per_unit"][i]), "cost_per_unit_label": label,
            "meets_targets": bool(m["meets"][i]),
            "shortfall": {k: float(v_[i]) for k, v_ in m["short"].items() if k != "none" and v_[i] > 0},
            "comm_basis": v.comm_label if fabric else None, "compute_basis": "calibrated" if b.calibrated else "prior",
        }

    def generations(self) -> np.ndarray:
        """The GPU generation (kernels.yaml family) of every option."""
        if not hasattr(self, "_generations"):
            from raxlab.predict.kernels import family_of

            names = {a: (family_of(a) or ("unknown",))[0] for a in set(self.k["accelerator"])}
            self._generations = np.array([names[a] for a in self.k["accelerator"]], object)
        return self._generations

    def generation_speed(self, by_gen: dict[str, float]) -> np.ndarray | float:
        if not by_gen:
            return 1.0
        gens = self.generations()
        return np.array([by_gen.get(g, 1.0) for g in gens])

    def where(self, **eq) -> np.ndarray:
        """Indices whose key fields equal the given values (accelerator, server, precision, nodes, fabric)."""
        mask = np.ones(len(self), bool)
        for k, want in eq.items():
            if k in self._codes:
                names, inv = self._codes[k]
                pos = np.searchsorted(names, str(want))
                mask &= (inv == pos) if pos < len(names) and names[pos] == str(want) else False
            else:
                mask &= self.k[k] == want
        return np.flatnonzero(mask)


def _f(x):
    x = float(x)
    return x if np.isfinite(x) else None


def choose(opts: Options, sc: Scenario | None = None, among: np.ndarray | None = None) -> tuple[int | None, dict]:
    """(index, metrics): the cheapest TCO option meeting everything (ties: the faster), else the
    nearest by summed relative shortfall (ties: the cheaper). None when there are no options."""
    m = opts.metrics(sc)
    idx = np.arange(len(opts)) if among is None else np.asarray(among)
    if len(idx) == 0:
        return None, m
    ok = idx[m["meets"][idx]]
    if len(ok):
        t = np.nan_to_num(m["time"][ok], nan=0.0)
        return int(ok[np.lexsort((t, m["tco"][ok]))[0]]), m
    gap = sum(v[idx] for v in m["short"].values())
    return int(idx[np.lexsort((m["tco"][idx], gap))[0]]), m


PARETO_STEP = 0.01  # a dearer point joins the front only if it is > 1 % faster than every cheaper one


def pareto(opts: Options, m: dict) -> np.ndarray:
    """Indices on the front of TCO vs time-to-target (or vs throughput when there is no work)."""
    if not len(opts):
        return np.zeros(0, int)
    slow = m["time"] if opts.obj.work else 1.0 / m["rate"]
    order = np.lexsort((slow, m["tco"]))
    keep, best = [], np.inf
    for j in order:  # the front is short; a loop over the sorted options is clearer than a scan
        if slow[j] < best * (1 - PARETO_STEP):
            keep.append(j)
            best = slow[j]
    return np.array(keep, int)
