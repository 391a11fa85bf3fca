"""The hf engine's shared prompt prefix gives the results of the whole prompts."""

from __future__ import annotations

import torch

from veritune.engines import SamplingParams
from veritune.engines.hf import HFEngine
from veritune.engines.prefix import MIN_SHARED, longest_common_start

INSTRUCTIONS = ("You grade answers. Reply Yes or No. " * 6).strip()


def prompts(*tails: str):
    return [[{"role": "user", "content": f"{INSTRUCTIONS}\nCandidate: {t}"}] for t in tails]


def test_longest_common_start_leaves_each_row_a_token():
    assert longest_common_start([[1, 2, 3], [1, 2, 4]]) == 2
    assert longest_common_start([[1, 2, 3], [1, 2, 3]]) == 2
    assert longest_common_start([[5], [5, 6]]) == 0


def test_shared_prefix_equals_whole_prompts(tiny_model_dir):
    plain, shared = HFEngine(str(tiny_model_dir)), HFEngine(str(tiny_model_dir))
    shared.share_prefix = True
    batches = [prompts("Paris", "It is Lyon, I think", "Rome"),
               prompts("Canberra", "Sydney"),                  # same start: the cache is reused
               [[{"role": "user", "content": "Something else entirely, short."}]] * 2]
    for batch in batches:
        a = plain.choice_logprobs(batch, ["Yes", "No"])
        b = shared.choice_logprobs(batch, ["Yes", "No"])
        assert torch.allclose(torch.tensor(a), torch.tensor(b), atol=1e-4)
        params = SamplingParams(max_new_tokens=6)
        assert [g[0].text for g in plain.generate(batch, params)] == \
            [g[0].text for g in shared.generate(batch, params)]
    assert len(shared._prefix.tokens) >= MIN_SHARED  # the instructions were kept
    first = shared._prefix.tokens
    shared.choice_logprobs(prompts("Madrid"), ["Yes", "No"])
    assert shared._prefix.tokens == first  # not recomputed for a prompt that starts alike


def test_the_kv_cache_goes_by_the_name_transformers_expects(tiny_model_dir):
    """transformers 5.24 renamed ``past_key_values`` to ``cache`` and warns at every use of the
    old name (removed in 5.40): sampling, the shared prefix and the shared-prompt training pass
    use whichever name the installed release has, so none of them warns."""
    import warnings

    from veritune.train import load_policy
    from veritune.train.prompt_sharing import answer_logps, encode_pair

    from helpers import k_pairs

    engine = HFEngine(str(tiny_model_dir))
    engine.share_prefix = True
    model, tok = load_policy(str(tiny_model_dir))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        engine.generate(prompts("Paris", "Lyon"), SamplingParams(n=2, temperature=1.0,
                                                                 max_new_tokens=4))
        answer_logps(model, [encode_pair(tok, p, 64) for p in k_pairs()], tok.pad_token_id)
    assert not [str(w.message) for w in caught if "past_key_values" in str(w.message)]
