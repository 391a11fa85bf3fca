"""The sampler: top-p alone draws from exactly the nucleus a full sort of the vocabulary
gives (both of its paths), and decoding drops finished rows without changing any answer."""

from __future__ import annotations

import pytest
import torch

from veritune.engines import SamplingParams
from veritune.engines.sampling import nucleus_sample, sample_next


def reference_probs(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """The nucleus by a full sort (veritune's sampler before this change, and transformers'
    TopPLogitsWarper with min_tokens_to_keep=1): drop a token when the tokens sorted before
    it already hold top_p of the mass; renormalise the rest."""
    sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
    probs = torch.softmax(sorted_logits, dim=-1)
    drop = probs.cumsum(dim=-1) - probs >= top_p
    kept = torch.full_like(logits, float("-inf")).scatter(
        -1, order, sorted_logits.masked_fill(drop, float("-inf")))
    return torch.softmax(kept, dim=-1)


def empirical(logits_row: torch.Tensor, top_p: float, draws: int,
              seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    tokens = nucleus_sample(logits_row.expand(draws, -1).contiguous(), top_p, g)
    return torch.bincount(tokens, minlength=logits_row.numel()).float() / draws


def test_nucleus_equals_the_full_sort_by_hand():
    """Probabilities .40 .25 .15 .10 .05 .03 .02 (+ five of 0), top_p .75: the mass before
    each is 0 .40 .65 .80 ...: keep the first three (.40 .25 .15), renormalised by .80 to
    .5 .3125 .1875. A draw is kept with probability .80 (the nucleus mass)."""
    p = torch.tensor([.40, .25, .15, .10, .05, .03, .02, 0, 0, 0, 0, 0]) + 1e-12
    logits = p.log()[torch.tensor([5, 0, 9, 2, 11, 1, 7, 3, 4, 6, 8, 10])]  # shuffled
    expected = reference_probs(logits[None], 0.75)[0]
    assert sorted(expected[expected > 0].tolist(), reverse=True) == pytest.approx(
        [.5, .3125, .1875], abs=1e-6)
    freq = empirical(logits, 0.75, 40_000)
    assert set(freq.nonzero().squeeze(-1).tolist()) == set(expected.nonzero().squeeze(-1)
                                                           .tolist())
    assert freq.tolist() == pytest.approx(expected.tolist(), abs=0.01)


@pytest.mark.parametrize("scale", [0.3, 1.0, 4.0])  # flat rows to peaked ones
def test_nucleus_matches_the_full_sort_on_random_logits(scale):
    torch.manual_seed(int(scale * 10))
    logits = torch.randn(200) * scale
    for top_p in (0.5, 0.9, 0.95):
        expected = reference_probs(logits[None], top_p)[0]
        freq = empirical(logits, top_p, 60_000)
        assert set(freq.nonzero().squeeze(-1).tolist()) <= \
            set(expected.nonzero().squeeze(-1).tolist())  # never a token outside the nucleus
        assert 0.5 * (freq - expected).abs().sum() < 0.04  # total variation, sampling noise


def test_peaked_and_flat_rows_in_one_batch():
    """A peaked row (its top 4 tokens hold .99) and a nearly flat one (about 58 of 64 kept):
    every draw inside each row's own nucleus, and every nucleus token drawn."""
    peaked = torch.tensor([8.0, 7.5, 7.0, 6.5] + [0.0] * 60)
    flat = torch.linspace(0.0, 0.1, 64)
    rows = torch.stack([peaked, flat] * 5000)
    g = torch.Generator().manual_seed(1)
    tokens = nucleus_sample(rows, 0.9, g).view(-1, 2)
    for col, row in enumerate((peaked, flat)):
        nucleus = set(reference_probs(row[None], 0.9)[0].nonzero().squeeze(-1).tolist())
        assert set(tokens[:, col].tolist()) == nucleus
    assert 50 < len(nucleus) < 64


def test_tied_tokens_at_the_edge_all_stay_in():
    """64 equally likely tokens, top_p .9: no token has more probable ones, so all 64 are in
    the nucleus (a sort would keep the first 58 in its arbitrary order)."""
    g = torch.Generator().manual_seed(2)
    tokens = nucleus_sample(torch.zeros(20_000, 64), 0.9, g)
    assert set(tokens.tolist()) == set(range(64))


def test_top_p_one_draws_from_the_whole_distribution():
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0])
    freq = empirical(logits, 1.0, 40_000)
    assert freq.tolist() == pytest.approx(torch.softmax(logits, -1).tolist(), abs=0.01)


def test_sample_next_routes_top_p_alone_to_the_nucleus():
    logits = torch.tensor([[0.0, 3.0, 2.9, -1.0], [5.0, 0.0, 4.99, 0.0]])
    g = torch.Generator().manual_seed(0)
    only_p = SamplingParams(temperature=1.0, top_p=0.01, top_k=0)
    assert all(sample_next(logits, only_p, g).tolist() == [1, 0] for _ in range(20))


# -- decoding drops finished rows ------------------------------------------------------------
PROMPTS = [[{"role": "user", "content": f"Question number {i}: what is {i} plus {i}?"}]
           for i in range(12)]


def test_greedy_decode_with_rows_stopping_at_different_steps_equals_generate(tiny_model_dir,
                                                                             monkeypatch):
    """Stop tokens chosen from the rows' own greedy continuations, so rows stop at different
    steps and finished rows leave the batch; every row must still equal transformers'
    ``generate`` with the same stop tokens."""
    from transformers import DynamicCache

    from veritune.engines.hf import HFEngine, decode

    engine = HFEngine(tiny_model_dir, device="cpu")
    ids, attention = engine.encode(PROMPTS)
    free = decode(engine.model, ids, attention, SamplingParams(max_new_tokens=12), [-1],
                  torch.Generator())  # no stop token: the full continuations
    stops = sorted({free[0][2], free[3][5], free[7][8], free[9][1]})
    expected = []
    with torch.inference_mode():
        out = engine.model.generate(input_ids=ids, attention_mask=attention, do_sample=False,
                                    max_new_tokens=12, eos_token_id=stops,
                                    pad_token_id=engine.tokenizer.pad_token_id)
    for row in out[:, ids.shape[1]:].tolist():
        end = next((i for i, t in enumerate(row) if t in stops), None)
        expected.append(row if end is None else row[:end + 1])
    assert len({len(r) for r in expected}) > 2  # rows do stop at different steps

    selected = []
    original = DynamicCache.batch_select_indices
    monkeypatch.setattr(DynamicCache, "batch_select_indices",
                        lambda self, idx: (selected.append(len(idx)), original(self, idx))[1])
    with torch.inference_mode():
        rows = decode(engine.model, ids, attention, SamplingParams(max_new_tokens=12), stops,
                      torch.Generator())
    assert selected, "finished rows should have left the batch"
    assert rows == expected


def test_redraws_when_every_row_of_the_batch_is_rejected():
    """top_p .01 keeps only the most likely token (p .27): most first draws of a one-row
    batch are rejected and redrawn; the result is always that token."""
    g = torch.Generator().manual_seed(3)
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.1]])
    assert {int(nucleus_sample(logits, 0.01, g)) for _ in range(200)} == {3}
