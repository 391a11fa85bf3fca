"""The transformers engine on a tiny random Llama: the hand-written decode loop (shared prompt
cache, left padding, stop tokens), seeded sampling, and continuation log-likelihoods."""

from __future__ import annotations

import pytest
import torch

from veritune.engines import Generation, SamplingParams, make_engine
from veritune.engines.hf import decode, sample_next

PROMPTS = [
    [{"role": "user", "content": "Hi"}],
    [{"role": "user", "content": "What is the capital of the US state of Massachusetts? "
                                 "Answer with just the answer, please."}],
    [{"role": "user", "content": "Symbol of iron?"}],
]


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    return make_engine("hf", str(tiny_model_dir), device="cpu")


def reference_generate(engine, prompts, max_new_tokens):
    """``model.generate(do_sample=False)`` on the engine's own left-padded batch: the rows of
    new tokens, each cut after its first stop token."""
    ids, attention = engine.encode(prompts)
    out = engine.model.generate(input_ids=ids, attention_mask=attention, do_sample=False,
                                max_new_tokens=max_new_tokens, eos_token_id=engine.stop_ids,
                                pad_token_id=engine.tokenizer.pad_token_id)
    rows = []
    for row in out[:, ids.shape[1]:].tolist():
        end = next((i for i, t in enumerate(row) if t in engine.stop_ids), None)
        rows.append(row if end is None else row[:end + 1])
    return rows


def test_prompts_are_left_padded_with_different_lengths(engine):
    ids, attention = engine.encode(PROMPTS)
    lengths = attention.sum(-1).tolist()
    assert len(set(lengths)) == len(PROMPTS)
    assert attention[:, -1].all()  # left padding: every row ends with a real token
    assert not attention[:, 0].all()


@pytest.mark.parametrize("n", [1, 3])
def test_greedy_decode_equals_model_generate(engine, n):
    """Token for token, for every one of the n rows that share one prompt's KV cache."""
    max_new = 10
    expected = reference_generate(engine, PROMPTS, max_new)
    assert all(len(r) == max_new for r in expected)  # a random model never says <|im_end|>
    ids, attention = engine.encode(PROMPTS)
    params = SamplingParams(n=n, temperature=0.0, max_new_tokens=max_new)
    with torch.inference_mode():
        rows = decode(engine.model, ids, attention, params, engine.stop_ids, torch.Generator())
    assert rows == [r for r in expected for _ in range(n)]

    gens = engine.generate(PROMPTS, params)
    assert [len(g) for g in gens] == [n] * len(PROMPTS)
    for row, prompt_gens in zip(expected, gens):
        text = engine.tokenizer.decode(row, skip_special_tokens=True).strip()
        for g in prompt_gens:
            assert g == Generation(text=text, n_tokens=max_new, truncated=True)


def test_generate_keeps_prompt_order_and_padding_does_not_change_answers(engine):
    params = SamplingParams(n=2, temperature=0.0, max_new_tokens=8)
    together = engine.generate(PROMPTS, params)
    alone = [engine.generate([p], params)[0] for p in PROMPTS]
    assert together == alone
    assert len({g[0].text for g in together}) == len(PROMPTS)  # distinct, so order is tested


def test_generate_returns_n_samples_per_prompt(engine):
    params = SamplingParams(n=5, temperature=1.0, max_new_tokens=4, seed=1)
    gens = engine.generate(PROMPTS, params)
    assert len(gens) == len(PROMPTS)
    assert all(len(g) == 5 for g in gens)
    assert all(isinstance(x, Generation) and x.n_tokens <= 4 for g in gens for x in g)
    assert len({x.text for g in gens for x in g}) > 10  # samples, not copies of one answer
    assert engine.generate([], params) == []


def test_sampling_is_seeded_by_seed_and_batch_index(engine):
    params = SamplingParams(n=3, temperature=1.0, top_p=0.95, top_k=50, max_new_tokens=6, seed=7)
    first = engine.generate(PROMPTS, params, batch_index=2)
    assert engine.generate(PROMPTS, params, batch_index=2) == first
    other_seed = SamplingParams(**{**params.__dict__, "seed": 8})
    assert engine.generate(PROMPTS, other_seed, batch_index=2) != first
    assert engine.generate(PROMPTS, params, batch_index=3) != first


def test_sample_next_filters():
    logits = torch.tensor([[0.0, 3.0, 2.9, -1.0], [5.0, 0.0, 4.99, 0.0]])
    gen = torch.Generator().manual_seed(0)
    greedy = SamplingParams(temperature=0.0)
    assert sample_next(logits, greedy, gen).tolist() == [1, 0]
    top1 = SamplingParams(temperature=1.0, top_k=1)
    nucleus = SamplingParams(temperature=1.0, top_p=0.01)
    for _ in range(20):
        assert sample_next(logits, top1, gen).tolist() == [1, 0]
        assert sample_next(logits, nucleus, gen).tolist() == [1, 0]
    top2 = SamplingParams(temperature=1.0, top_k=2)
    seen = {tuple(sample_next(logits, top2, gen).tolist()) for _ in range(200)}
    assert {t[0] for t in seen} == {1, 2} and {t[1] for t in seen} == {0, 2}


class ForcedStops:
    """lm_head hook: no stop token unless forced; ``force[call] = rows`` makes those rows'
    next token ``<|im_end|>`` (call 0 is the prompt pass, call c yields new token c + 1)."""

    def __init__(self, engine, force: dict[int, list[int]]):
        self.engine, self.force, self.calls = engine, force, 0

    def __call__(self, module, args, out):
        out = out.clone()
        out[..., self.engine.stop_ids] = -1e4
        for row in self.force.get(self.calls, []):
            out[row, -1, self.engine.stop_ids[0]] = 1e4
        self.calls += 1
        return out

    def __enter__(self):
        self.handle = self.engine.model.lm_head.register_forward_hook(self)
        return self

    def __exit__(self, *exc):
        self.handle.remove()


def test_max_new_tokens_and_truncated(engine):
    max_new = 6
    params = SamplingParams(n=1, temperature=0.0, max_new_tokens=max_new)
    # row 0 stops after 2 tokens, row 1 never stops, row 2's very last token is the stop
    with ForcedStops(engine, {2: [0], max_new - 1: [2]}) as hook:
        gens = engine.generate(PROMPTS, params)
    assert hook.calls == max_new  # one prompt pass + max_new - 1 single-token steps
    (a,), (b,), (c,) = gens
    assert (a.n_tokens, a.truncated) == (2, False)
    assert (b.n_tokens, b.truncated) == (max_new, True)
    assert (c.n_tokens, c.truncated) == (max_new - 1, False)
    assert "<|im_end|>" not in a.text + b.text + c.text


def test_decoding_stops_when_every_row_has_stopped(engine):
    params = SamplingParams(n=2, temperature=1.0, max_new_tokens=20, seed=0)
    # the prompt pass has one row per prompt; its cache is then repeated for the 2 samples:
    # prompt 0's samples stop at once, the other four after one token
    with ForcedStops(engine, {0: [0], 1: [2, 3, 4, 5]}) as hook:
        gens = engine.generate(PROMPTS, params)
    assert hook.calls == 2
    flat = [g for row in gens for g in row]
    assert [g.n_tokens for g in flat] == [0, 0, 1, 1, 1, 1]
    assert not any(g.truncated for g in flat)
    assert [g.text for g in flat[:2]] == ["", ""]


def manual_loglikelihood(engine, messages, continuation: str) -> float:
    tok = engine.tokenizer
    p = tok(engine.prompt_text(messages), add_special_tokens=False)["input_ids"]
    c = tok(continuation, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([p + c])
    with torch.no_grad():
        logits = engine.model(input_ids=ids).logits[0].float()
    logprobs = torch.log_softmax(logits, dim=-1)
    return sum(float(logprobs[len(p) - 1 + i, t]) for i, t in enumerate(c))


def test_loglikelihood_equals_manual_sum(engine):
    request = (PROMPTS[1], "Boston is the capital.")
    expected = manual_loglikelihood(engine, *request)
    (got,) = engine.loglikelihood([request])
    assert expected < -5  # a random model: several tokens at about -log(49152) each
    assert got == pytest.approx(expected, rel=1e-5, abs=1e-4)


def test_loglikelihood_batch_padding_and_order(engine):
    requests = [(PROMPTS[0], "Paris"), (PROMPTS[1], "Boston, Massachusetts"),
                (PROMPTS[2], "Fe"), (PROMPTS[2], "")]
    expected = [manual_loglikelihood(engine, m, c) for m, c in requests]
    got = engine.loglikelihood(requests, batch_size=3)
    assert got == pytest.approx(expected, rel=1e-4, abs=1e-3)
    assert got[3] == 0.0


def test_options_of_one_question_share_its_prompt_and_score_as_whole_sequences(engine):
    """TruthfulQA's options after one question: the prompt runs once for all of them (and a
    batch never splits a question's options), with the log-probs of whole sequences."""
    options = ["Paris", "Lyon is the capital", "Marseille", "It is Paris, France", "Nice"]
    requests = [(PROMPTS[0], o) for o in options] + [(PROMPTS[1], o) for o in options[:2]]
    expected = [manual_loglikelihood(engine, m, c) for m, c in requests]
    calls = []
    forward = engine.model.forward

    def counting(*args, **kwargs):
        calls.append(kwargs["input_ids"].shape)
        return forward(*args, **kwargs)

    engine.model.forward = counting
    try:
        got = engine.loglikelihood(requests, batch_size=2)
    finally:
        engine.model.forward = forward
    assert got == pytest.approx(expected, rel=1e-4, abs=1e-3)
    # each question: its prompt once (a row of 1), then all its options in one pass
    assert [rows for rows, _ in calls] == [1, 5, 1, 2], calls


def test_choice_logprobs_equal_loglikelihood_of_one_token_choices(tiny_model_dir):
    from veritune.engines.hf import HFEngine
    from veritune.tasks.generation import choice_scores

    engine = HFEngine(tiny_model_dir, device="cpu")
    prompts = [[{"role": "user", "content": "Is water wet? Yes or No."}],
               [{"role": "user", "content": "Pick a letter, any letter at all."}]]
    fast = engine.choice_logprobs(prompts, ["Yes", "No", "A"])
    slow = engine.loglikelihood([(p, c) for p in prompts for c in ("Yes", "No", "A")])
    assert [round(x, 4) for row in fast for x in row] == [round(x, 4) for x in slow]
    assert engine.choice_logprobs(prompts, ["Yes", "Absolutely not"]) is None  # two tokens
    mixed = choice_scores(engine, prompts, [["Yes", "Absolutely not"]] * 2)
    assert len(mixed) == 2 and len(mixed[0]) == 2  # fell back to loglikelihood
