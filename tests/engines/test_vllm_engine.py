"""The vLLM engine's request building, against the vLLM API as documented (vllm is not
installable here: a stand-in module records the calls)."""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace as NS

import pytest

from veritune.config import ModelConfig
from veritune.engines import SamplingParams, engine_from_config
from veritune.engines.vllm import continuation_logprob, llm_kwargs, sampling_kwargs, to_generations
from veritune.errors import VerituneError


def test_sampling_kwargs_paper_settings_and_greedy():
    paper = SamplingParams(n=8, temperature=1.4, top_p=0.9, top_k=50, max_new_tokens=32, seed=1)
    assert sampling_kwargs(paper, 123) == {"n": 8, "temperature": 1.4, "top_p": 0.9,
                                           "top_k": 50, "max_tokens": 32, "seed": 123}
    greedy = sampling_kwargs(SamplingParams(top_k=50, top_p=0.9), 5)
    assert (greedy["temperature"], greedy["top_p"], greedy["top_k"]) == (0.0, 1.0, -1)
    assert sampling_kwargs(SamplingParams(n=2, temperature=1.0), 0)["top_k"] == -1


def test_llm_kwargs_turn_prefix_caching_on_and_pass_parallelism_through():
    kw = llm_kwargs("Qwen/Qwen2-7B-Instruct", seed=3, tensor_parallel_size=8,
                    data_parallel_size=2)
    assert kw["enable_prefix_caching"] is True and kw["tensor_parallel_size"] == 8
    assert kw["data_parallel_size"] == 2 and kw["trust_remote_code"] is False


def test_outputs_and_prompt_logprobs():
    out = NS(outputs=[NS(text=" Paris ", token_ids=[5, 6], finish_reason="stop"),
                      NS(text="Lyon is", token_ids=[7, 8, 9], finish_reason="length")])
    gens = to_generations(out)
    assert [(g.text, g.n_tokens, g.truncated) for g in gens] == \
        [("Paris", 2, False), ("Lyon is", 3, True)]
    lp = [None, {11: NS(logprob=-0.5)}, {12: NS(logprob=-1.0), 99: NS(logprob=-0.1)},
          {13: NS(logprob=-2.0)}]
    assert continuation_logprob(lp, [10, 11, 12, 13], start=2) == -3.0
    with pytest.raises(VerituneError):
        continuation_logprob([None, {}, None], [1, 2, 3], start=1)


@pytest.fixture
def fake_vllm(monkeypatch):
    calls = {}

    class LLM:
        def __init__(self, **kw):
            calls["init"] = kw

        def get_tokenizer(self):
            return None

        def chat(self, conversations, sp, use_tqdm=False):
            calls["chat"] = (conversations, sp)
            return [NS(outputs=[NS(text=f"a{i}{k}", token_ids=[1], finish_reason="stop")
                                for k in range(sp.kw["n"])])
                    for i, _ in enumerate(conversations)]

    class SamplingParams_:
        def __init__(self, **kw):
            self.kw = kw

    mod = types.ModuleType("vllm")
    mod.LLM, mod.SamplingParams = LLM, SamplingParams_
    monkeypatch.setitem(sys.modules, "vllm", mod)
    return calls


def test_engine_sends_conversations_with_n_in_one_request(fake_vllm):
    cfg = ModelConfig(name="Qwen/Qwen2-7B-Instruct", engine="vllm",
                      vllm={"tensor_parallel_size": 8})
    engine = engine_from_config(cfg)
    assert fake_vllm["init"]["tensor_parallel_size"] == 8
    assert fake_vllm["init"]["dtype"] == "auto"  # fp32 is only the CPU default
    msgs = [[{"role": "user", "content": "Capital of France?"}],
            [{"role": "user", "content": "Capital of Peru?"}]]
    out = engine.generate(msgs, SamplingParams(n=3, temperature=1.0, seed=0), batch_index=2)
    conversations, sp = fake_vllm["chat"]
    assert conversations == msgs and sp.kw["n"] == 3 and sp.kw["max_tokens"] == 32
    assert [[g.text for g in row] for row in out] == [["a00", "a01", "a02"], ["a10", "a11", "a12"]]
    engine.generate(msgs, SamplingParams(n=3, temperature=1.0, seed=0), batch_index=2)
    assert fake_vllm["chat"][1].kw["seed"] == sp.kw["seed"]  # same batch, same seed (resume)


def test_without_vllm_installed_the_error_says_how(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(VerituneError, match="pip install"):
        engine_from_config(ModelConfig(engine="vllm"))
