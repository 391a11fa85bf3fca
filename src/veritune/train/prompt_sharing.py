"""veritune's own DPO loop, each prompt computed once for all its answers
(``train.backend: prompt_sharing``; the old name ``shared`` is an alias).

    history = PromptSharingDPO(model, tokenizer, pairs, cfg, seed, with_sft=True).run()


TRL's DPOTrainer runs prompt+chosen and prompt+rejected as two full sequences. In PKUE the
prompt is most of the sequence (a chat template, a system turn, the question), the answers
are a few tokens, and a question has up to K pairs that reuse its answers. Here a batch runs
each distinct prompt once, keeps its KV cache, and runs each distinct answer once on top;
gradients flow back through the cache into the prompt. Batches keep a question's pairs
together (``train.group_by_prompt``), so that sharing happens. Reference log-probs are
computed once before training (the policy at step 0 is the reference) and kept beside the
model (``reference_logps.safetensors``, keyed by the base weights and the encoded pairs), so a
retrain of the same pairs with another learning rate, β or schedule reads them back instead of
a forward pass over every pair. Logits are taken only where an answer token is predicted.

Same maths as TRL's sigmoid and IPO losses (``losses``; with ``sft+dpo`` plus
``losses.sft_term``), same defaults as TRL's (bf16 mixed precision, fused AdamW, no weight
decay, gradient norm clipped at 1.0), the Trainer's steps, warmup and schedule
(``schedule.py``), TRL's log names (``logps/chosen`` and ``/rejected`` too, for likelihood
displacement); the order of the pairs is the seed's, not TRL's sampler's. With LoRA
(``train.lora``) only the adapters train; the reference is the base, computed before
training, so no second copy is held. Checkpoints and resuming: ``checkpoint.py``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from veritune.config import TrainConfig
from veritune.dtype import train_bf16
from veritune.engines.prompt_cache import BatchPlan, plan_batch, row_logps
from veritune.errors import VerituneError
from veritune.progress import progress, say
from veritune.records import Pair
from veritune.train.checkpoint import StepCheckpoints, set_rng_state
from veritune.train.losses import dpo_loss, ipo_loss, sft_term
from veritune.train.policy import finished, peft_config
from veritune.train.schedule import make_scheduler, optimizer_steps
from veritune.train.tracking import Tracker, tb_dir


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


def anchor_nll(model, batch: Sequence[EncodedPair], pad_id: int) -> torch.Tensor:
    """Mean per-token negative log-likelihood of anchor answers (``anchors.py``): each
    entry's ``chosen`` after its prompt; the prompts are distinct, so nothing is shared."""
    plan = BatchPlan([e.prompt for e in batch], [(i, e.chosen) for i, e in enumerate(batch)],
                     list(range(len(batch))), [])
    token_logps, mask = row_logps(model, plan, pad_id)
    return sft_term(token_logps, mask)


def anchor_batch(order: Sequence[int], micro_index: int, size: int) -> list[int]:
    """The anchors that go with the ``micro_index``-th micro-batch of pairs: the next
    ``size`` of the seeded order, cycling; a function of the index alone, so a resumed run
    draws what an uninterrupted one would."""
    return [order[(micro_index * size + j) % len(order)] for j in range(min(size, len(order)))]


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


def reference_key(model, encoded: Sequence[EncodedPair], autocast: bool) -> str:
    """What the reference log-probs depend on: the weights (their dtype, shapes and a sample
    of every tensor's values), the precision of the forward pass and every pair's token ids.
    Fresh LoRA adapters are left out: their B is zero, so the output is the base's."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        if "lora_" in name:
            continue
        flat = t.detach().reshape(-1)
        step = max(1, flat.numel() // 64)
        h.update(f"{name}{tuple(t.shape)}{t.dtype}".encode())
        h.update(flat[::step][:64].float().cpu().numpy().tobytes())
    h.update(json.dumps([autocast, [[e.prompt, e.chosen, e.rejected] for e in encoded]])
             .encode())
    return h.hexdigest()


def cached_reference(path: Path | None, key: str,
                     compute: Callable[[], tuple[torch.Tensor, torch.Tensor]]):
    """The reference log-probs stored at ``path`` under ``key``, else ``compute()``'s, then
    stored there (atomically) for the next training of the same pairs on the same base."""
    if path is not None and path.exists():
        try:
            with safe_open(str(path), "pt") as f:  # the header alone, to read the key
                stored = (f.metadata() or {}).get("key")
            if stored == key:
                t = load_file(str(path))
                say(f"train: reference log-probs read back from {path}")
                return t["chosen"], t["rejected"]
        except (OSError, ValueError, KeyError, SafetensorError):  # unreadable: computed again
            pass
    chosen, rejected = compute()
    if path is not None:
        tmp = path.with_name(path.name + ".tmp")
        save_file({"chosen": chosen.contiguous(), "rejected": rejected.contiguous()}, str(tmp),
                  metadata={"key": key})
        os.replace(tmp, path)
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


METRICS = ("rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies",
           "logps/chosen", "logps/rejected", "anchor/nll")


class LogWindow:
    """Sums since the last log row; a row holds their means, as TRL's ``log`` averages its
    metrics over the micro-batches and the Trainer its loss over the steps of the window."""

    def __init__(self, sums: dict | None = None):
        self.sums = sums or {"steps": 0, "micro": 0, "loss": 0.0, **{k: 0.0 for k in METRICS}}

    def add_micro(self, rc, rr, chosen, rejected, anchor=None) -> None:
        values = (rc.mean(), rr.mean(), (rc - rr).mean(), (rc > rr).float().mean(),
                  chosen.detach().mean(), rejected.detach().mean(),
                  0.0 if anchor is None else anchor.detach())
        for key, v in zip(METRICS, values):
            self.sums[key] += float(v)
        self.sums["micro"] += 1

    def row(self, step: int, epoch: float, grad_norm: float, lr: float,
            anchored: bool = False) -> dict:
        s = self.sums
        keys = METRICS if anchored else METRICS[:-1]
        row = {"loss": s["loss"] / s["steps"], "grad_norm": grad_norm, "learning_rate": lr,
               **{k: s.get(k, 0.0) / s["micro"] for k in keys}, "epoch": epoch, "step": step}
        self.sums = LogWindow().sums
        return row


class PromptSharingDPO:
    """The recipe (torchtune's shape): ``setup()`` encodes the pairs and anchors, plans the
    batches, builds the optimiser and schedule, and resumes a checkpoint or computes the
    reference log-probs; ``run()`` trains ``model`` in place and returns the log history
    (TRL's key names).

    ``batches`` (the pairs' indices, batch by batch) replaces the seed's order, e.g. to replay
    TRL's. ``checkpoints``: a folder for resumable checkpoints every ``cfg.save_steps`` steps
    (a rerun resumes from the newest); ``selector`` scores validation (``train/select.py``);
    ``tracker`` reports each log row (``train/tracking.py``); ``anchors``: the base model's
    answers to general prompts (``veritune.stages.anchors``), ``cfg.anchor.weight`` times
    their NLL added to each micro-batch's loss; ``reference_cache``: a file that keeps the
    reference log-probs for the next training of the same pairs (``cached_reference``)."""

    def __init__(self, model, tokenizer, pairs: Sequence[Pair], cfg: TrainConfig, seed: int,
                 with_sft: bool = False, log: Callable[[dict], None] | None = None,
                 batches: list[list[int]] | None = None, checkpoints: Path | None = None,
                 selector=None, tracker=None, anchors: Sequence[Pair] = (),
                 reference_cache: Path | None = None):
        if cfg.loss_type not in LOSS_TYPES:
            raise VerituneError(f"train.backend: prompt_sharing supports loss_type "
                                f"{' or '.join(LOSS_TYPES)}, got {cfg.loss_type!r}; use "
                                "train.backend: trl")
        self.model, self.tokenizer, self.pairs, self.cfg, self.seed = \
            model, tokenizer, pairs, cfg, seed
        self.with_sft, self.log, self.batches = with_sft, log, batches
        self.checkpoints, self.selector, self.tracker, self.anchors = \
            checkpoints, selector, tracker, anchors
        self.reference_cache = reference_cache
        self.history: list[dict] = []

    # -- setup -------------------------------------------------------------------------------
    def setup(self) -> None:
        cfg, model = self.cfg, self.model
        torch.manual_seed(self.seed)
        # e.g. left on by TRL's SFT phase; it would turn off the prompt's KV cache
        # (transformers 5.24 renamed gradient to activation checkpointing; the old names warn)
        if hasattr(model, "is_activation_checkpointing"):  # (a LoRA wrapper forwards it)
            if model.is_activation_checkpointing:
                model.activation_checkpointing_disable()
        elif getattr(model, "is_gradient_checkpointing", False):
            model.gradient_checkpointing_disable()
        tok = self.tokenizer
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
        self.encoded = [encode_pair(tok, p, cfg.max_length) for p in self.pairs]
        # anchors whole: their answers were capped when sampled (anchor.max_new_tokens)
        self.anchored = [encode_pair(tok, dataclasses.replace(a, rejected=""), 10**9)
                         for a in self.anchors]
        self.anchor_order = random.Random(self.seed + 1).sample(range(len(self.anchored)),
                                                                len(self.anchored))
        self.weight = cfg.anchor.weight if cfg.anchor is not None else 0.0
        self.separate = bool(self.anchored) and cfg.anchor.backward == "separate"
        # bf16 mixed precision as TRL's default (and the Trainer's autocast): fp32 weights and
        # optimiser, bf16 matmuls; log-softmax stays fp32
        device_type = next(model.parameters()).device.type
        self.autocast = train_bf16(cfg.bf16, device_type)
        self.mixed = torch.autocast(device_type, dtype=torch.bfloat16, enabled=self.autocast)
        self.per_epoch = math.ceil(len(self.encoded) / cfg.batch_size)
        if self.batches is None:
            self.batches = batch_order(self.encoded, cfg.batch_size, cfg.epochs, self.seed,
                                       cfg.group_by_prompt)
        self.steps = optimizer_steps(self.batches, self.per_epoch, cfg.epochs,
                                     cfg.gradient_accumulation_steps)
        self.total = len(self.steps)
        # transformers' default optimiser for torch >= 2.8 (adamw_torch_fused), no weight decay
        self.params = [p for p in model.parameters() if p.requires_grad]  # all, or LoRA's
        self.optimizer = torch.optim.AdamW(self.params, lr=cfg.learning_rate, weight_decay=0.0,
                                           fused=True)
        self.scheduler = make_scheduler(cfg, self.optimizer, self.total)
        self.store = StepCheckpoints(self.checkpoints) \
            if self.checkpoints is not None and cfg.save_steps else None
        self.window, self.start, self.loss_sum = LogWindow(), 0, 0.0
        resume = self.store.latest() if self.store else None
        if resume:
            tensors, state = self.store.load(resume, model, self.optimizer, self.scheduler)
            self.ref_c, self.ref_r = tensors["ref_chosen"], tensors["ref_rejected"]
            self.steps, self.start, self.history = state["steps"], state["step"], \
                state["history"]
            self.window, self.loss_sum = LogWindow(state["window"]), state["loss_sum"]
            if self.selector:
                self.selector.restore(state["select"], self.checkpoints)
            set_rng_state(state["rng"])
        else:
            def compute():
                with self.mixed:
                    return reference_logps(model, self.encoded, self.pad_id, cfg.batch_size)

            key = reference_key(model, self.encoded, self.autocast)
            self.ref_c, self.ref_r = cached_reference(self.reference_cache, key, compute)
            if self.selector:  # step 0, the policy before training, is a candidate
                self._record(self.selector.measure(model, 0))

    # -- train -------------------------------------------------------------------------------
    def _record(self, row: dict) -> None:
        self.history.append(row)
        if self.tracker:
            self.tracker.log(row)
        if self.log:
            self.log(row)

    def _micro_batch(self, idx: list[int], n_micro: int) -> float:
        """Forward and backward of one micro-batch of pairs (and its anchors); its loss."""
        cfg, separate = self.cfg, self.separate
        batch = [self.encoded[i] for i in idx]
        with self.mixed:
            chosen, rejected, tok_lp, tok_mask = answer_logps(self.model, batch, self.pad_id,
                                                              with_token_logps=True)
        losses, rc, rr = preference_loss(cfg, chosen, rejected, self.ref_c[idx],
                                         self.ref_r[idx], batch)
        loss = losses.mean()
        if self.with_sft:
            loss = loss + cfg.sft_weight * sft_term(tok_lp, tok_mask)
        held = None
        if self.anchored:
            if separate:  # the pairs' graph freed before the anchor's is built (with both,
                # a 1.5B model with LoRA under bf16 autocast ran out of 24 GB)
                (loss / n_micro).backward()
                loss = loss.detach()
            idx_a = anchor_batch(self.anchor_order, self.micro_done, cfg.anchor.batch_size)
            with self.mixed:
                held = anchor_nll(self.model, [self.anchored[i] for i in idx_a], self.pad_id)
            term = self.weight * held
            if separate:
                (term / n_micro).backward()
                term = term.detach()
            loss = loss + term
        if not separate:  # the Trainer's scaling, short last step too
            (loss / n_micro).backward()
        self.window.add_micro(rc, rr, chosen, rejected, held)
        self.micro_done += 1
        return float(loss.detach()) / n_micro

    def _save(self, step: int) -> None:
        select_state = self.selector.state(self.checkpoints) if self.selector else None
        self.store.save(step, self.model, self.optimizer, self.scheduler,
                        {"ref_chosen": self.ref_c, "ref_rejected": self.ref_r},
                        {"steps": self.steps, "history": self.history,
                         "window": self.window.sums, "loss_sum": self.loss_sum,
                         "select": select_state})
        if self.selector:
            self.selector.prune(self.checkpoints)

    def run(self) -> list[dict]:
        """Set up, train every step, and return the log history."""
        self.setup()
        cfg, model, total = self.cfg, self.model, self.total
        model.train()
        self.micro_done = sum(len(s) for s in self.steps[:self.start])
        with progress(total, "dpo (prompt sharing)", "step", initial=self.start) as bar:
            for step in range(self.start + 1, total + 1):
                micro_batches = self.steps[step - 1]
                step_loss = sum(self._micro_batch(idx, len(micro_batches))
                                for idx in micro_batches)
                grad_norm = float(torch.nn.utils.clip_grad_norm_(self.params, 1.0))
                lr = self.scheduler.get_last_lr()[0]  # the rate this step uses, as logged
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                self.loss_sum += step_loss
                self.window.sums["loss"] += step_loss
                self.window.sums["steps"] += 1
                bar.update(1)
                if step % cfg.logging_steps == 0:
                    self._record(self.window.row(step, round(self.micro_done / self.per_epoch,
                                                             4), grad_norm, lr,
                                                 bool(self.anchored)))
                if self.selector and self.selector.due(step, total):
                    self._record(self.selector.measure(model, step))
                if self.store and step % cfg.save_steps == 0 and step < total:
                    self._save(step)
        self._record({"train_loss": self.loss_sum / max(total, 1),
                      "epoch": round(self.micro_done / self.per_epoch, 4), "step": total})
        if self.selector and (row := self.selector.finish(model, total)):
            self.history.append(row)
        model.eval()
        return self.history


def run_prompt_sharing(model, tokenizer, pairs, cfg: TrainConfig, phase_dir: Path, seed: int,
                       with_sft: bool, selector, resumed: dict, anchors=(), tracker_args=None,
                       reference_cache: Path | None = None):
    """The DPO phase on this backend: LoRA adapters when asked, checkpoints in
    ``phase_dir``, trackers fed the log rows; returns (the merged model, its history).
    ``tracker_args``: the Trainer's arguments the trackers are told (as the TRL path's);
    ``reference_cache``: where the reference log-probs are kept for a retrain."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise VerituneError("train.backend: prompt_sharing runs on one process; use "
                            "train.backend: trl under accelerate launch")
    if cfg.lora.enabled:  # the reference is computed before training: the bare base
        from peft import get_peft_model  # deferred: peft is heavy and only LoRA needs it

        model = get_peft_model(model, peft_config(cfg))
    if torch.cuda.is_available():  # TRL's Trainer places the model itself; here, we do
        model.to("cuda")
    last = StepCheckpoints(phase_dir).latest() if cfg.save_steps else None
    if last:
        resumed[phase_dir.name] = int(last.name.split("-")[1])
        say(f"train: {phase_dir.name} resumes from step {resumed[phase_dir.name]} ({last})")
    tracker = Tracker(tracker_args, tb_dir(phase_dir), model) if tracker_args else None
    try:
        history = PromptSharingDPO(model, tokenizer, pairs, cfg, seed, with_sft,
                                   checkpoints=phase_dir, selector=selector, tracker=tracker,
                                   anchors=anchors, reference_cache=reference_cache).run()
    finally:
        if tracker:
            tracker.end()
    return finished(model, cfg), history
