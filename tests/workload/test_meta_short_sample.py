"""A meta-only model is carded and projected, never fed: a sample shorter than seq_len is fine."""

import pytest

from raxlab.errors import RaxError
from raxlab.workload import build_card, load_workload

CONFIG = {"model_type": "llama", "hidden_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4,
          "num_key_value_heads": 2, "intermediate_size": 512, "vocab_size": 512, "max_position_embeddings": 65536}


def _spec(tmp_path, meta_only: bool):
    sample = tmp_path / "short.txt"
    sample.write_text("a short sample " * 40)  # 600 tokens, far fewer than seq_len
    path = tmp_path / "spec.yaml"
    import yaml

    path.write_text(yaml.safe_dump({"name": "long-ctx", "model": CONFIG, "data": str(sample), "seq_len": 32768,
                                    "meta_only": meta_only}))
    return str(path)


def test_meta_only_with_a_short_sample_cards(tmp_path):
    card = build_card(load_workload(_spec(tmp_path, True)))
    assert card.tokens_per_sample == 32768 and card.params > 0
    assert card.decode_s_per_sample is None  # nothing to decode: said as N/A, not a number
    assert card.sample_bytes > 0  # bytes per token still size the storage


def test_a_runnable_model_still_needs_a_full_sequence(tmp_path):
    with pytest.raises(RaxError, match="seq_len 32768 needs at least"):
        build_card(load_workload(_spec(tmp_path, False)))
