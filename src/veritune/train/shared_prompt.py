"""DPO with each prompt computed once for both of its answers (``train.backend: shared``).

TRL's DPOTrainer runs prompt+chosen and prompt+rejected as two full sequences. In PKUE the
prompt is most of the sequence (a chat template, a system turn, the question), the answers
are a few tokens, and a question has up to K pairs that reuse its answers. Here a batch runs
each distinct prompt once, keeps its KV cache, and runs each distinct answer once on top;
gradients flow back through the cache into the prompt. Batches keep a question's pairs
together (``train.group_by_prompt``), so that sharing happens. Reference log-probs are
computed once before training (the policy at step 0 is the reference). Logits are taken only
where an answer token is predicted.

Same maths as TRL's sigmoid and IPO losses (``losses``; with ``sft+dpo`` plus
``losses.sft_term``), same defaults as TRL's (bf16 mixed precision, fused AdamW, no weight
decay, linear decay, gradient norm clipped at 1.0); the order of the pairs is the seed's, not
TRL's sampler's. With LoRA (``train.lora``) only the adapters train; the reference is the
base, computed before training, so no second copy is held.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from veritune.config import TrainConfig
from veritune.errors import VeritunError
from veritune.progress import progress
from veritune.records import Pair
from veritune.train.losses import dpo_loss, ipo_loss, sft_term


@dataclass
class EncodedPair:
    prompt: list[int]
    chosen: list[int]
    rejected: list[int]


def encode_pair(tokenizer, pair: Pair, max_length: int) -> EncodedPair:
    """Token ids of the prompt (chat template with the generation prompt) and of each answer
    as the template renders it after the prompt (so the end-of-turn token is included, as in
    TRL). An answer is cut so that prompt + answer fits ``max_length``."""
    prompt_text = tokenizer.apply_chat_template(pair.prompt, tokenize=False,
                                                add_generation_prompt=True)

    def answer(text: str) -> list[int]:
        full = tokenizer.apply_chat_template(
            pair.prompt + [{"role": "assistant", "content": text}], tokenize=False)
        if not full.startswith(prompt_text):
            raise ValueError("the chat template renders the prompt differently with an answer")
        return tokenizer(full[len(prompt_text):], add_special_tokens=False)["input_ids"]

    prompt = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    room = max(1, max_length - len(prompt))
    return EncodedPair(prompt, answer(pair.chosen)[:room], answer(pair.rejected)[:room])


@dataclass
class BatchPlan:
    """What a batch of pairs needs computed: each distinct prompt once, each distinct
    (prompt, answer) once. In PKUE a question has up to K pairs that share its prompt and
    reuse its answers (a correct answer paired with several incorrect ones)."""
    prompts: list[list[int]]
    rows: list[tuple[int, list[int]]]  # (prompt index, answer ids)
    chosen: list[int]  # each pair's chosen row
    rejected: list[int]


def plan_batch(batch: Sequence[EncodedPair]) -> BatchPlan:
    prompts: dict[tuple, int] = {}
    rows: dict[tuple, int] = {}
    chosen, rejected = [], []
    for e in batch:
        p = prompts.setdefault(tuple(e.prompt), len(prompts))
        chosen.append(rows.setdefault((p, tuple(e.chosen)), len(rows)))
        rejected.append(rows.setdefault((p, tuple(e.rejected)), len(rows)))
    return BatchPlan([list(k) for k in prompts], [(p, list(a)) for p, a in rows],
                     chosen, rejected)


def row_logps(model, plan: BatchPlan, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log-probs of each row's answer tokens and their mask: [rows, answer length]."""
    device = next(model.parameters()).device
    p_len = max(len(p) for p in plan.prompts)
    ids = torch.full((len(plan.prompts), p_len), pad_id, dtype=torch.long)
    mask = torch.zeros((len(plan.prompts), p_len), dtype=torch.long)
    for i, prompt in enumerate(plan.prompts):  # left-padded: their last tokens line up
        ids[i, p_len - len(prompt):] = torch.tensor(prompt)
        mask[i, p_len - len(prompt):] = 1
    ids, mask = ids.to(device), mask.to(device)
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True,
                logits_to_keep=1)
    of_row = torch.tensor([p for p, _ in plan.rows], device=device)
    cache = out.past_key_values
    cache.batch_select_indices(of_row)  # each row continues its prompt's cache
    a_len = max(len(a) for _, a in plan.rows)
    a_ids = torch.full((len(plan.rows), a_len), pad_id, dtype=torch.long)
    a_mask = torch.zeros((len(plan.rows), a_len), dtype=torch.long)
    for i, (_, a) in enumerate(plan.rows):  # answers right-padded
        a_ids[i, :len(a)] = torch.tensor(a)
        a_mask[i, :len(a)] = 1
    a_ids, a_mask = a_ids.to(device), a_mask.to(device)
    a_pos = pos[of_row, -1:] + 1 + torch.arange(a_len, device=device)
    attn = torch.cat([mask[of_row], a_mask], dim=-1)
    out2 = model(input_ids=a_ids, attention_mask=attn, position_ids=a_pos,
                 past_key_values=cache, use_cache=False)
    # position t's logits predict answer token t: the prompt's last logits, then the answer's
    logits = torch.cat([out.logits[of_row, -1:], out2.logits[:, :-1]], 1)
    token_logps = torch.log_softmax(logits.float(), -1).gather(-1, a_ids[..., None])[..., 0]
    return token_logps * a_mask, a_mask


def answer_logps(model, batch: Sequence[EncodedPair], pad_id: int,
                 with_token_logps: bool = False):
    """Summed log-probs of each pair's chosen and rejected answer: (chosen [B], rejected [B])
    (and the per-token log-probs and mask of the chosen answers, for an SFT term)."""
    plan = plan_batch(batch)
    token_logps, mask = row_logps(model, plan, pad_id)
    sums = token_logps.sum(-1)
    c, r = torch.tensor(plan.chosen), torch.tensor(plan.rejected)
    if with_token_logps:
        return sums[c], sums[r], token_logps[c], mask[c]
    return sums[c], sums[r]


def batch_order(encoded: Sequence[EncodedPair], batch_size: int, epochs: float, seed: int,
                group_by_prompt: bool) -> list[list[int]]:
    """The pairs' indices, batch by batch, for ``ceil(epochs)`` shuffled epochs.

    Grouped, an epoch shuffles the prompts and keeps each prompt's pairs next to each other,
    so a batch holds few prompts and shares their work; every pair is still seen once an
    epoch, in batches of ``batch_size``."""
    rng = random.Random(seed)
    batches = []
    for _ in range(math.ceil(epochs)):
        if group_by_prompt:
            groups: dict[tuple, list[int]] = {}
            for i, e in enumerate(encoded):
                groups.setdefault(tuple(e.prompt), []).append(i)
            keys = list(groups)
            rng.shuffle(keys)
            order = []
            for k in keys:
                rng.shuffle(groups[k])
                order += groups[k]
        else:
            order = list(range(len(encoded)))
            rng.shuffle(order)
        batches += [order[b:b + batch_size] for b in range(0, len(order), batch_size)]
    return batches


@torch.no_grad()
def reference_logps(model, encoded: Sequence[EncodedPair], pad_id: int,
                    batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed log-probs of every pair's answers (in ``encoded``'s order), computed in batches
    of pairs that share prompts."""
    model.eval()
    first: dict[tuple, int] = {}
    for i, e in enumerate(encoded):
        first.setdefault(tuple(e.prompt), i)
    order = sorted(range(len(encoded)), key=lambda i: first[tuple(encoded[i].prompt)])
    chosen, rejected = torch.zeros(len(encoded)), torch.zeros(len(encoded))
    with progress(len(encoded), "reference log-probs", "pair") as bar:
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            c, r = answer_logps(model, [encoded[i] for i in idx], pad_id)
            chosen[idx], rejected[idx] = c.float().cpu(), r.float().cpu()
            bar.update(len(idx))
    return chosen, rejected


LOSS_TYPES = ("sigmoid", "ipo")


def preference_loss(cfg: TrainConfig, chosen, rejected, ref_c, ref_r,
                    batch: Sequence[EncodedPair]):
    """Per-pair loss and the (detached) implicit rewards, as TRL logs them."""
    ref_c, ref_r = ref_c.to(chosen.device), ref_r.to(chosen.device)
    if cfg.loss_type == "ipo":  # TRL's IPO uses per-token mean log-probs
        n_c = torch.tensor([len(e.chosen) for e in batch], device=chosen.device)
        n_r = torch.tensor([len(e.rejected) for e in batch], device=chosen.device)
        losses = ipo_loss(chosen / n_c, rejected / n_r, ref_c / n_c, ref_r / n_r, cfg.beta)
        return (losses, (cfg.beta * (chosen - ref_c)).detach(),
                (cfg.beta * (rejected - ref_r)).detach())
    return dpo_loss(chosen, rejected, ref_c, ref_r, cfg.beta)


def train_dpo_shared(model, tokenizer, pairs: Sequence[Pair], cfg: TrainConfig, seed: int,
                     with_sft: bool = False, log: Callable[[dict], None] | None = None,
                     batches: list[list[int]] | None = None) -> list[dict]:
    """Train ``model`` in place; returns the log history (TRL's key names). ``batches`` (the
    pairs' indices, batch by batch) replaces the seed's order, e.g. to replay TRL's."""
    if cfg.loss_type not in LOSS_TYPES:
        raise VeritunError(f"train.backend: shared supports loss_type {' or '.join(LOSS_TYPES)}"
                           f", got {cfg.loss_type!r}; use train.backend: trl")
    torch.manual_seed(seed)
    if getattr(model, "is_gradient_checkpointing", False):  # e.g. left on by TRL's SFT phase;
        model.gradient_checkpointing_disable()  # it would turn off the prompt's KV cache
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    encoded = [encode_pair(tokenizer, p, cfg.max_length) for p in pairs]
    # bf16 mixed precision as TRL's default (and the Trainer's autocast): fp32 weights and
    # optimiser, bf16 matmuls; log-softmax stays fp32
    device = next(model.parameters()).device.type
    mixed = torch.autocast(device, dtype=torch.bfloat16, enabled=cfg.bf16)
    with mixed:
        ref_c, ref_r = reference_logps(model, encoded, pad_id, cfg.batch_size)
    per_epoch = math.ceil(len(encoded) / cfg.batch_size)
    total = max(1, math.ceil(per_epoch * cfg.epochs / cfg.gradient_accumulation_steps))
    # transformers' default optimiser for torch >= 2.8 (adamw_torch_fused), no weight decay
    params = [p for p in model.parameters() if p.requires_grad]  # all, or LoRA's adapters
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=0.0, fused=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: max(0.0, 1 - s / total) if cfg.lr_scheduler == "linear" else 1.0)
    if batches is None:
        batches = batch_order(encoded, cfg.batch_size, cfg.epochs, seed, cfg.group_by_prompt)
    batches = batches[:total * cfg.gradient_accumulation_steps]
    history: list[dict] = []
    model.train()
    step, micro, loss_sum = 0, 0, 0.0
    with progress(total, "dpo (shared prompt)", "step") as bar:
        for idx in batches:
            with mixed:
                chosen, rejected, tok_lp, tok_mask = answer_logps(
                    model, [encoded[i] for i in idx], pad_id, with_token_logps=True)
            losses, rc, rr = preference_loss(cfg, chosen, rejected, ref_c[idx], ref_r[idx],
                                             [encoded[i] for i in idx])
            loss = losses.mean()
            if with_sft:
                loss = loss + cfg.sft_weight * sft_term(tok_lp, tok_mask)
            (loss / cfg.gradient_accumulation_steps).backward()
            micro += 1
            if micro % cfg.gradient_accumulation_steps:
                continue
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            loss_sum += float(loss)
            bar.update(1)
            if step % cfg.logging_steps == 0 or step == total:
                row = {"step": step, "loss": round(float(loss), 6),
                       "rewards/chosen": round(float(rc.mean()), 6),
                       "rewards/rejected": round(float(rr.mean()), 6),
                       "rewards/margins": round(float((rc - rr).mean()), 6),
                       "rewards/accuracies": round(float((rc > rr).float().mean()), 4),
                       "learning_rate": scheduler.get_last_lr()[0]}
                history.append(row)
                if log:
                    log(row)
    history.append({"step": step, "train_loss": round(loss_sum / max(step, 1), 6)})
    model.eval()
    return history
