"""The in-training factors in priors.yaml still follow from the independent runs."""

import pytest

from raxlab.predict import derive, priors


def test_priors_match_the_derivation():
    res = derive.derive()
    for key in ("matmul_factor", "attention_factor", "flash1_ratio"):
        assert priors.scalar("training", key).value == pytest.approx(res[key], abs=0.01), key


def test_derivation_points_are_not_validation_rows():
    data = derive.load_points()
    assert "validation" not in data["source"]
    assert len(data["points"]) == 12
