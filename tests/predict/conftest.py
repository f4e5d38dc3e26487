"""Shared fixtures for the projection tests: catalogue hardware and small shapes."""

import pytest

from raxlab.predict.shape import TransformerShape


@pytest.fixture(scope="session")
def catalog():
    from raxlab.catalog import load_catalog

    return load_catalog()


@pytest.fixture(scope="session")
def a100_ib(catalog):
    from raxlab.predict.adapter import hardware_from_catalog

    return hardware_from_catalog(catalog, gpu="a100-sxm-80gb", server="hgx-a100-80gb-8gpu", fabric="ib-hdr",
                                 rails=8)[0]


@pytest.fixture(scope="session")
def h100_ib(catalog):
    from raxlab.predict.adapter import hardware_from_catalog

    return hardware_from_catalog(catalog, gpu="h100-sxm", fabric="ib-ndr")[0]


@pytest.fixture
def gpt175():
    return TransformerShape(hidden=12288, layers=96, heads=96, ffn=4 * 12288, vocab=51200, seq=2048)


@pytest.fixture
def llama70():
    return TransformerShape(hidden=8192, layers=80, heads=64, kv_heads=8, ffn=28672, vocab=128256, seq=8192,
                            gated_mlp=True, tied_embeddings=False)
