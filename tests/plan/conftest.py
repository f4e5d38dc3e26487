"""Shared fixtures for the planner tests: the built-in catalogue, real workload cards, a plan helper.

Cards are built once per session from the presets (meta tensors, about a second each). Plans
restrict the search space (accelerators, fabrics) so each takes well under a second.
"""

import pytest


@pytest.fixture(scope="session")
def catalog():
    from raxlab.catalog import load_catalog

    return load_catalog(False)  # built-in data only: a user override must not change the tests


@pytest.fixture(scope="session")
def cards():
    from raxlab.workload import build_card, load_workload

    cache = {}

    def get(name):
        if name not in cache:
            wl = load_workload(name)
            cache[name] = (wl.spec, build_card(wl))
        return cache[name]

    return get


def _maker(catalog, cards):
    """make(preset, accelerators=..., fabrics=..., targets={...}, measured=None, **space) -> plan dict."""
    from raxlab.plan.entry import with_targets
    from raxlab.plan.planner import PlanOptions, make_plan
    from raxlab.plan.space import SpaceOptions

    def run(name, *, targets=None, measured=None, spec=None, **space):
        base_spec, card = cards(name)
        sp = with_targets(spec or base_spec, [f"{k}={v}" for k, v in (targets or {}).items()])
        opts = PlanOptions(space=SpaceOptions(**{k: tuple(v) if isinstance(v, (list, tuple)) else v
                                                 for k, v in space.items()}))
        return make_plan(sp, card, catalog, workload_ref=name, measured=measured, options=opts)

    return run


@pytest.fixture
def make(catalog, cards):
    return _maker(catalog, cards)


@pytest.fixture(scope="module")
def make_module(catalog, cards):
    """`make` for module-scoped plans shared by several tests."""
    return _maker(catalog, cards)
