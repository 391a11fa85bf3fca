"""DPO and SFT losses against numbers worked by hand."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from veritune.train.losses import dpo_loss, sft_term  # noqa: E402


def t(*values, grad: bool = False):
    return torch.tensor(values, dtype=torch.float64, requires_grad=grad)


def test_dpo_loss_by_hand():
    """beta = 0.1; policy chosen -10, rejected -20; reference chosen -12, rejected -18.

    chosen reward   = 0.1 * (-10 - (-12)) =  0.2
    rejected reward = 0.1 * (-20 - (-18)) = -0.2
    margin = 0.4; loss = -log sigmoid(0.4) = log(1 + e^-0.4) = log(1.670320) = 0.513015
    """
    losses, chosen, rejected = dpo_loss(t(-10.0), t(-20.0), t(-12.0), t(-18.0), beta=0.1)
    assert chosen.item() == pytest.approx(0.2)
    assert rejected.item() == pytest.approx(-0.2)
    assert losses.item() == pytest.approx(0.513015, abs=1e-6)
    assert losses.item() == pytest.approx(math.log(1 + math.exp(-0.4)))


def test_dpo_loss_per_pair_and_beta():
    """Second pair: beta 0.5, policy -5/-5, ref -6/-4: rewards 0.5 and -0.5, margin 1.0,
    loss = log(1 + e^-1) = 0.313262. With beta = 0.1 the same pair has margin 0.2."""
    pc, pr, rc, rr = t(-10.0, -5.0), t(-20.0, -5.0), t(-12.0, -6.0), t(-18.0, -4.0)
    losses, chosen, rejected = dpo_loss(pc, pr, rc, rr, beta=0.5)
    assert losses.shape == (2,)
    assert chosen.tolist() == pytest.approx([1.0, 0.5])
    assert rejected.tolist() == pytest.approx([-1.0, -0.5])
    assert losses.tolist() == pytest.approx([math.log(1 + math.exp(-2.0)), 0.313262], abs=1e-6)
    losses, _, _ = dpo_loss(pc, pr, rc, rr)  # default beta 0.1
    assert losses[1].item() == pytest.approx(math.log(1 + math.exp(-0.2)))


def test_equal_log_ratios_give_log_2():
    # the policy equals the reference, or moves both answers by the same amount
    for pc, pr, rc, rr in [(-3.0, -7.0, -3.0, -7.0), (-1.0, -9.0, -4.0, -12.0)]:
        losses, chosen, rejected = dpo_loss(t(pc), t(pr), t(rc), t(rr), beta=0.3)
        assert losses.item() == pytest.approx(math.log(2))
        assert chosen.item() == pytest.approx(rejected.item())


def test_swapping_chosen_and_rejected():
    """-log s(x) - (-log s(-x)) = -x: swapping the answers changes the loss by the margin."""
    a, _, _ = dpo_loss(t(-10.0), t(-20.0), t(-12.0), t(-18.0), beta=0.1)
    b, _, _ = dpo_loss(t(-20.0), t(-10.0), t(-18.0), t(-12.0), beta=0.1)
    assert b.item() > a.item()
    assert (b - a).item() == pytest.approx(0.4)


def test_gradient_signs():
    """d loss / d policy_chosen = -beta * (1 - sigmoid(margin)) = -0.1 * 0.401312 < 0."""
    pc, pr = t(-10.0, grad=True), t(-20.0, grad=True)
    losses, chosen, rejected = dpo_loss(pc, pr, t(-12.0), t(-18.0), beta=0.1)
    losses.sum().backward()
    expected = 0.1 * (1 - 1 / (1 + math.exp(-0.4)))
    assert pc.grad.item() == pytest.approx(-expected)
    assert pr.grad.item() == pytest.approx(expected)
    assert not chosen.requires_grad and not rejected.requires_grad  # rewards are detached
    # and directly: raising the chosen log-prob lowers the loss, raising the rejected raises it
    base = dpo_loss(t(-10.0), t(-20.0), t(-12.0), t(-18.0))[0].item()
    assert dpo_loss(t(-9.0), t(-20.0), t(-12.0), t(-18.0))[0].item() < base
    assert dpo_loss(t(-10.0), t(-19.0), t(-12.0), t(-18.0))[0].item() > base


def test_sft_term_on_a_small_mask():
    """Token log-probs [[-1, -2, -3], [-4, -5, -6]], mask [[1, 1, 0], [1, 0, 0]]:
    the masked tokens are -1, -2, -4, so the mean NLL is 7 / 3 = 2.3333."""
    logps = t(-1.0, -2.0, -3.0, -4.0, -5.0, -6.0).reshape(2, 3)
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]], dtype=torch.float64)
    assert sft_term(logps, mask).item() == pytest.approx(7 / 3)
    assert sft_term(logps, torch.ones_like(mask)).item() == pytest.approx(3.5)
    assert sft_term(logps, torch.zeros_like(mask)).item() == 0.0  # no division by zero


def test_sft_term_gradient_only_on_masked_tokens():
    logps = t(-1.0, -2.0, -3.0, grad=True)
    mask = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
    sft_term(logps, mask).backward()
    assert logps.grad.tolist() == pytest.approx([-0.5, 0.0, -0.5])
