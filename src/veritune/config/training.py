"""The ``train:`` section of the schema: the trainer's keys (``train``, ``train.lora``,
``train.anchor``), declared as :mod:`veritune.config.schema` declares the others."""

from __future__ import annotations

from typing import Any, Literal

from veritune.config.checks import (above, at_least, nonempty, opt, positive, positive_numbers,
                                    section, within)
from veritune.config.sampling import SamplingParams
from veritune.config.train_names import lr_scheduler_name, tracker_names
from veritune.errors import InputError

# TRL's DPOTrainer loss types; the prompt-sharing backend implements the first two
DPO_LOSS_TYPES = ("sigmoid", "ipo", "hinge", "exo_pair", "nca_pair", "robust", "bco_pair",
                  "sppo_hard", "aot", "aot_unpaired", "apo_zero", "apo_down", "discopop", "sft",
                  "sigmoid_norm")


@section('train.lora')
class LoraConfig:
    enabled: bool = opt(False, "train LoRA adapters instead of every weight")
    r: int = opt(16, "adapter rank", check=positive)
    alpha: int = opt(32, "adapter scale", check=above(0))
    dropout: float = opt(0.05, "adapter dropout", check=within(0.0, 1.0, high_open=True))
    target_modules: list[str] = opt(help="the modules adapted",
                                    factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"],
                                    check=nonempty)
    save: Literal["merged", "adapter"] = opt(
        "merged", "merged: one plain model folder, LoRA merged into float32 weights; adapter: "
        "the adapters alone (PEFT), trained and scored on the base in the dtype model.dtype "
        "resolves to (bf16 where native: half the memory and several times faster on a CPU "
        "with bf16)")


@section('train.anchor')
class AnchorConfig:
    """``train.anchor``: the base model's own answers to general prompts, held while training
    (``stages/anchors.py``); either backend."""
    questions: str = opt("", "the prompts: JSONL ({question} or {prompt}) or text, one a line",
                         check=nonempty)
    limit: int | None = opt(512, "prompts used, a seeded subset (unset: all)", check=positive)
    weight: float = opt(1.0, "weight of the anchors' mean per-token NLL beside the preference "
                        "loss", check=at_least(0))
    max_new_tokens: int = opt(32, "tokens of each anchor answer (sampled at T=1, no top-p or "
                              "top-k)", check=positive)
    batch_size: int = opt(4, "anchors beside each micro-batch of pairs", check=positive)
    backward: Literal["joint", "separate"] = opt(
        "joint", "joint: one backward for both terms; separate: the anchor's own, so one graph "
        "is in memory at a time (same gradient, other float sums)")

    def params(self, seed: int) -> SamplingParams:
        return SamplingParams(n=1, temperature=1.0, top_p=1.0, top_k=0,
                              max_new_tokens=self.max_new_tokens, seed=seed)


@section('train')
class TrainConfig:
    method: Literal["dpo", "sft", "sft+dpo", "sft-then-dpo", "dola", "iti"] = opt(
        "dpo", "dpo | sft (on correct answers) | sft+dpo (one loss with both terms) | "
        "sft-then-dpo | dola (no training: the base saved to decode with DoLa, a baseline; "
        "its base is evaluated without) | iti (no training: attention heads shifted toward "
        "the pairs' correct answers at inference, a baseline)")
    dola_layers: Literal["low", "high"] = opt(
        "high", "method dola: DoLa's candidate premature layers (the lower or upper half)")
    iti_heads: int = opt(16, "method iti: the attention heads shifted (those whose probes "
                         "tell correct from incorrect answers best)", check=positive)
    iti_alpha: float | list[float] = opt(help="method iti: the shift in standard deviations of a "
                                         "head's activations; a list (default 1, 2, 5, 10, 15): "
                                         "the best on validation", check=positive_numbers,
                                         factory=lambda: [1.0, 2.0, 5.0, 10.0, 15.0])
    beta: float = opt(0.1, "DPO's beta", check=above(0))
    learning_rate: float = opt(1e-5, "peak learning rate", check=above(0))
    sft_learning_rate: float | None = opt(None, "the SFT phase of sft-then-dpo (unset: "
                                          "learning_rate)", check=above(0))
    sft_weight: float = opt(1.0, "weight of the SFT term in sft+dpo", check=at_least(0))
    loss_type: str = opt("sigmoid", "TRL's DPO loss (sigmoid = DPO, ipo, ...)",
                         check=lambda v: None if v in DPO_LOSS_TYPES else
                         f"must be one of {', '.join(DPO_LOSS_TYPES)}, got {v!r}")
    epochs: float = opt(1.0, "passes over the pairs", check=above(0))
    rounds: int = opt(1, "iterative DPO: round r samples, judges, pairs and trains again from "
                      "round r-1's model (runs/<name>/round<r>/); the best round on "
                      "validation is chosen (rounds.json)", check=positive)
    batch_size: int = opt(8, "pairs a micro-batch", check=positive)
    gradient_accumulation_steps: int = opt(1, "micro-batches a step", check=positive)
    max_length: int = opt(96, "tokens of prompt + answer (answers are cut to fit)",
                          check=positive)
    lr_scheduler: str = opt("linear", "a transformers schedule: linear, cosine, constant, ...",
                            check=lr_scheduler_name)
    lr_scheduler_kwargs: dict[str, Any] | None = opt(None, "its extra arguments, e.g. "
                                                     "{min_lr_rate: 0.1}")
    warmup_ratio: float = opt(0.0, "share of the steps warmed up linearly from 0",
                              check=within(0.0, 1.0, high_open=True))
    logging_steps: int = opt(5, "steps between log rows", check=positive)
    lora: LoraConfig = opt(help="LoRA adapters (peft)", factory=LoraConfig)
    backend: Literal["trl", "prompt_sharing", "shared"] = opt(
        "trl", "trl: TRL's trainers; prompt_sharing (alias shared): veritune's DPO loop that "
        "runs each prompt and answer once a batch (one process, full or LoRA)")
    group_by_prompt: bool = opt(True, "prompt_sharing: a batch holds the pairs of few prompts, "
                                "so each prompt runs once a batch")
    bf16: bool | None = opt(None, "bf16 mixed precision (unset: where the hardware computes "
                            "bf16 natively)")
    save_steps: int = opt(50, "a checkpoint every N steps (0: none); the weights do not "
                          "depend on it", check=at_least(0))
    select: Literal["last", "validation"] = opt(
        "last", "last, or validation: the step best on validation accuracy (0 counts, ties to "
        "the earlier)")
    eval_steps: int = opt(0, "validation accuracy every N steps (0: never)", check=at_least(0))
    report_to: str | list[str] = opt("none", "trackers, as transformers names them (none, "
                                     "tensorboard, wandb, trackio, ...)", check=tracker_names)
    anchor: AnchorConfig | None = opt(None, "the base model's answers to general prompts, held "
                                      "while training (against drift out of domain)")

    def __post_init__(self):
        if self.select == "validation" and self.eval_steps < 1:
            raise InputError("validation accuracy is measured every train.eval_steps steps: "
                             "set train.eval_steps to at least 1", field="train.select")
        if self.backend != "trl" and self.loss_type not in ("sigmoid", "ipo"):
            raise InputError(f"train.backend: {self.backend} implements sigmoid and ipo, got "
                             f"{self.loss_type!r}; use train.backend: trl",
                             field="train.loss_type")
        if self.anchor is not None and self.backend == "trl" and \
                self.anchor.backward == "separate":
            raise InputError("a separate backward for the anchor term is the prompt-sharing "
                             "loop's; with train.backend: trl it joins the DPO loss's (joint)",
                             field="train.anchor.backward")
        if self.lora.save == "adapter" and self.method == "sft-then-dpo":
            raise InputError("an adapter saved apart is one phase's: use method dpo, sft or "
                             "sft+dpo, or train.lora.save: merged", field="train.lora.save")
        if self.anchor is not None and self.method == "sft":
            raise InputError("the anchor term joins a preference loss; train.method sft has "
                             "none", field="train.anchor")
        if self.decoding and (self.anchor is not None or self.eval_steps):
            raise InputError(f"train.method {self.method} trains nothing: no anchor term and "
                             "no validation during training",
                             field="train.anchor" if self.anchor is not None
                             else "train.eval_steps")

    @property
    def decoding(self) -> bool:
        """A method that trains nothing: the base saved to run differently (dola, iti)."""
        return self.method in ("dola", "iti")

    @property
    def prompt_sharing(self) -> bool:
        """True for veritune's own DPO loop (``backend: prompt_sharing``, or its alias)."""
        return self.backend in ("prompt_sharing", "shared")
