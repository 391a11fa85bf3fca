"""Typed config: one dataclass per stage, layered once: defaults, then YAML, then ``--set``.

``load_config("configs/quickstart.yaml", ["sample.n=4"])`` returns a :class:`RunConfig`.
An unknown key, a value of the wrong type, or one outside its choices or range is an
:class:`InputError` naming the file, the line and the key, before any model loads. Loading
lives in ``config_load.py``; the choices and ranges in ``config_validate.py`` (``RULES``: a new
key with a range gets a row there).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from veritune.config_load import load
from veritune.config_train import check_train
from veritune.config_validate import DTYPES, ENGINES, JUDGE_NAMES  # noqa: F401  (the choices)
from veritune.errors import InputError

DEFAULT_PROMPT = "Answer with just the answer. {question}"


@dataclass
class ModelConfig:
    name: str = "embedded"  # "embedded", a local folder, or a Hugging Face model name
    engine: str = "hf"  # one of ENGINES
    # one of DTYPES; auto: bfloat16 where the GPU or CPU computes it natively, else float32
    # (dtype.py); runs hash the dtype auto resolves to, so float32 runs keep their hashes
    dtype: str = "auto"
    device: str | None = None  # None: cuda when available, else cpu
    trust_remote_code: bool = False
    # engine: openai (any OpenAI-compatible chat-completions server)
    base_url: str = "http://127.0.0.1:8000/v1"
    api_key_env: str = "OPENAI_API_KEY"  # the variable that holds the key, never the key
    concurrency: int = 8
    timeout: float = 60.0
    top_k: bool = False  # the server accepts a top_k field (vLLM does; OpenAI's API does not)
    # engine: vllm (GPU): passed to vllm.LLM, e.g. {tensor_parallel_size: 8,
    # data_parallel_size: 1, gpu_memory_utilization: 0.9, max_model_len: 4096}
    vllm: dict[str, Any] | None = field(default=None, metadata={"hash": "omit_if_default"})


@dataclass
class DataConfig:
    source: str = "kb"  # "kb" or a file path (Question JSONL, NQ-open JSONL, CSV, hf:NAME)
    format: str = "auto"
    columns: dict[str, str] | None = None
    relations: list[str] | None = None  # kb relations; None = all
    max_entities_per_domain: int | None = None
    test_fraction: float = 0.3
    validation_fraction: float = 0.0
    max_test_per_domain: int | None = None
    # seed of the questions (kb, subsampling, split) and of the evaluation draws and items;
    # None: the run's seed. Fixed across training seeds by ``veritune run --seeds``.
    seed: int | None = field(default=None, metadata={"hash": "omit_if_default"})

    def __post_init__(self):
        if not 0 < self.test_fraction < 1:
            raise InputError("must be between 0 and 1", field="data.test_fraction")


@dataclass
class SampleConfig:
    # The PKUE paper's settings; configs for small models may choose gentler ones.
    n: int = 8
    temperature: float = 1.4
    top_p: float = 0.9
    top_k: int = 50
    max_new_tokens: int = 32
    # questions a batch (each brings n rows): 64 sampled 261 tokens/s against 198 for 8 on a
    # 2-core CPU (benchmarks/results/sampling_compare.json); it sets the random streams
    batch_size: int = 64
    splits: list[str] = field(default_factory=lambda: ["train"])


@dataclass
class JudgeConfig:
    name: str = "lexical"  # JUDGE_NAMES: lexical | llm | ensemble (lexical decides clear cases,
    # LLM the rest)
    model: ModelConfig = field(default_factory=ModelConfig)  # the judge model (llm, ensemble)
    max_new_tokens: int = 256  # mode generate: the analysis and the verdict line
    cache: str | None = None  # SQLite verdict cache; None: <run dir>/judge_cache.sqlite
    # LLM verdicts: "generate" (analysis, then a verdict line) or "score" (P(Yes) vs P(No) of
    # the reply's first word, one forward pass per answer)
    mode: str = field(default="generate", metadata={"hash": "omit_if_default"})
    # mode score: correct when P(correct) >= threshold
    threshold: float = field(default=0.5, metadata={"hash": "omit_if_default"})
    # ensemble, mode score: the threshold for answers the lexical judge gave partial credit
    # (a shorter or longer form, a year of the date); None: the same as threshold
    threshold_partial: float | None = field(default=None, metadata={"hash": "omit_if_default"})
    batch_size: int = field(default=8, metadata={"hash": "omit_if_default"})  # answers a call


@dataclass
class PairsConfig:
    max_pairs_per_question: int = 4  # K
    chosen: str = "concise"  # "concise": shortest correct samples first; "random"
    drop_truncated: bool = True  # samples that hit max_new_tokens never become chosen
    distinct: bool = True  # identical texts count once
    # Incorrect answers that negate or hedge ("not", "no", "unknown", "depends", ...) are never
    # rejected: DPO would learn that negating is wrong, and out of domain the true answer
    # often negates (TruthfulQA; docs/RESULTS.md). Off by default (the paper keeps them).
    drop_hedged_rejected: bool = False
    # Ablations (PKUE Tables 5-6): where chosen / rejected answers come from. "self": the
    # model's own judged samples (PKUE); "dataset": the standard answer / the wrong answers.
    chosen_source: str = "self"
    rejected_source: str = "self"
    sft_targets: str = "all"  # SFT on "all" correct samples (at most K) or "one" per question
    question_fraction: float = 1.0  # keep this share of training questions (data-size sweep)

    def __post_init__(self):
        for name in ("chosen_source", "rejected_source"):
            if getattr(self, name) not in ("self", "dataset"):
                raise InputError(f"must be self or dataset, got {getattr(self, name)!r}",
                                 field=f"pairs.{name}")
        if self.sft_targets not in ("all", "one"):
            raise InputError(f"must be all or one, got {self.sft_targets!r}",
                             field="pairs.sft_targets")
        if not 0 < self.question_fraction <= 1:
            raise InputError("must be in (0, 1]", field="pairs.question_fraction")


@dataclass
class LoraConfig:
    enabled: bool = False
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj",
                                                               "o_proj"])


@dataclass
class AnchorConfig:
    """``train.anchor``: the base model's own answers to general prompts, held while training
    (anchors.py); shared backend only."""
    questions: str = ""  # the prompts: JSONL ({"question"} or {"prompt"}) or text, one a line
    limit: int | None = 512  # prompts used (a seeded subset); None: all
    weight: float = 1.0  # of the anchors' mean per-token NLL, beside the preference loss
    max_new_tokens: int = 32  # of each anchor answer (sampled at T=1, no top-p / top-k)
    batch_size: int = 4  # anchors beside each micro-batch of pairs (cycling through them)
    # joint: one backward for the pairs' loss and the anchor term together (the kb and
    # quickstart figures in docs/RESULTS.md); separate: the anchor's own backward after the
    # pairs', so one graph is in memory at a time (what let a 1.5B model with LoRA train in
    # 24 GB). The same gradient; the float sums differ, so the weights differ in the last bits.
    backward: str = field(default="joint", metadata={"hash": "omit_if_default"})


@dataclass
class TrainConfig:
    method: str = "dpo"  # dpo | sft | sft+dpo | sft-then-dpo
    beta: float = 0.1
    learning_rate: float = 1e-5
    sft_learning_rate: float | None = None  # the SFT phase of sft-then-dpo; None: learning_rate
    sft_weight: float = 1.0  # weight of the SFT term in sft+dpo
    loss_type: str = "sigmoid"  # TRL DPO loss (sigmoid = DPO, ipo, ...)
    epochs: float = 1.0
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    max_length: int = 96
    lr_scheduler: str = "linear"  # a transformers SchedulerType: linear, cosine, constant, ...
    lr_scheduler_kwargs: dict[str, Any] | None = field(  # e.g. {min_lr_rate: 0.1}
        default=None, metadata={"hash": "omit_if_default"})
    warmup_ratio: float = 0.0  # share of the steps warmed up linearly from 0, in [0, 1)
    logging_steps: int = 5
    lora: LoraConfig = field(default_factory=LoraConfig)
    # "trl": TRL's DPOTrainer; "shared": veritune's DPO/IPO that runs each prompt and answer
    # once a batch (train/shared_prompt.py; one process, full or LoRA; same loss)
    backend: str = field(default="trl", metadata={"hash": "omit_if_default"})
    # shared backend: a batch holds the pairs of few prompts (each question's pairs together),
    # so each prompt and each distinct answer runs once a batch; false: pairs shuffled freely
    group_by_prompt: bool = field(default=True, metadata={"hash": "omit_if_default"})
    # bf16 mixed precision (fp32 weights, bf16 matmuls) on both backends; None (auto): where
    # the hardware computes bf16 natively (dtype.py), since an AVX2-only CPU emulates it 4x
    # slower than fp32; true / false: as written
    bf16: bool | None = field(default=None, metadata={"hash": "omit_if_default"})
    # a checkpoint every N steps in <out>/checkpoints (0: none); the weights do not depend on it
    save_steps: int = field(default=50, metadata={"hash": "omit"})
    # last | validation: the step (0 counts, ties to the earlier) best on validation accuracy
    select: str = field(default="last", metadata={"hash": "omit_if_default"})
    eval_steps: int = field(default=0, metadata={"hash": "omit_if_default"})  # 0: never
    report_to: str | list[str] = field(  # trackers as transformers' (none, tensorboard, ...)
        default="none", metadata={"hash": "omit"})
    # replay of the base model's answers to general prompts against drift out of domain
    anchor: AnchorConfig | None = field(default=None, metadata={"hash": "omit_if_default"})

    def __post_init__(self):
        check_train(self)


@dataclass
class EvalConfig:
    splits: list[str] = field(default_factory=lambda: ["test"])
    # at most this many questions per split, round-robin across domains (eval --limit)
    limit: int | None = field(default=None, metadata={"hash": "omit_if_default"})
    max_new_tokens: int = 32
    batch_size: int = 32  # questions a batch (greedy: one row each; best-of-n: n rows each)
    best_of_n: int = 8  # 0 turns the best-of-n potential off
    best_of_n_temperature: float | None = None  # None: the sampling temperature
    repetition_ngram: int = 3
    # Other tasks, run on the base and the tuned model after the precise-QA evaluation:
    # a suite name ("default") or comma-separated task names; "" turns it off.
    suite: str = ""
    suite_limit: int | None = None  # items per task; None: each task's default limit
    suite_batch_size: int = 16
    # Out-of-domain guard (guard.py): "default" (truthfulqa_mc, nq_open, halueval_qa) or
    # comma-separated tasks, scored on base and tuned and compared per item; "": off
    guard: str = field(default="", metadata={"hash": "omit_if_default"})
    # items per guard task; None: the guard's own sizes
    guard_limit: int | None = field(default=None, metadata={"hash": "omit_if_default"})

    def __post_init__(self):
        if self.guard_limit is not None and self.guard_limit < 1:
            raise InputError("must be at least 1", field="eval.guard_limit")


@dataclass
class ApeftConfig:
    """``veritune apeft``: atomic preferences mixed with paragraph-level (general) pairs."""
    entities_per_domain: int | None = 40  # train entities per kb relation that get long answers
    n: int = 4  # long answers per prompt
    temperature: float = 1.0
    top_p: float = 0.95
    max_new_tokens: int = 160
    batch_size: int = 8
    extraction: str = "sentences"  # sentences (each one fact) | llm (decomposed by decomposer)
    # the model that decomposes sentences with extraction: llm (like judge.model); None: the
    # policy (model). A 135M model decomposes poorly (docs/RESULTS.md): name a strong one.
    decomposer: ModelConfig | None = field(default=None, metadata={"hash": "omit_if_default"})
    gamma: int = 0  # FActScore length penalty (0: off)
    min_gap: float = 0.5  # general pair: best minus worst precision of a prompt's answers
    max_general_pairs_per_prompt: int = 1
    probe_n: int = 8  # samples per probe question
    probe_temperature: float = 1.0
    probe_low: float = 0.0  # potentially known: probe_low < correct rate < probe_high
    probe_high: float = 1.0
    use_atomic: bool = True  # False: general pairs only (the baseline)
    atomic_prompt: str = "probe"  # probe (the fact's question) | longform (the entity prompt)
    atomic_ratio: float | None = None  # atomic pairs per general pair; None: all of them
    shift_ood: str = "truthfulqa"  # out-of-domain prompts for the shift analysis: a file, or
    # "truthfulqa" (its questions); in-domain: the held-out entities' long-form prompts
    shift_limit: int = 50
    shift_max_new_tokens: int = 96

    def __post_init__(self):
        if self.extraction not in ("sentences", "llm"):
            raise InputError("must be sentences or llm", field="apeft.extraction")
        if self.atomic_prompt not in ("probe", "longform"):
            raise InputError("must be probe or longform", field="apeft.atomic_prompt")


@dataclass
class RunConfig:
    name: str = "run"
    description: str = ""  # one line for reports and ablation tables
    runs_dir: str = "runs"
    seed: int = 0
    limit: int | None = None  # at most this many questions per split (a quick look)
    prompt: str = DEFAULT_PROMPT  # user turn: {question} is replaced, other braces kept
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    pairs: PairsConfig = field(default_factory=PairsConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    apeft: ApeftConfig = field(default_factory=ApeftConfig)

    @property
    def run_dir(self) -> Path:
        return Path(self.runs_dir) / self.name

    @property
    def data_seed(self) -> int:
        """The seed of the questions and the evaluation side: ``data.seed``, else ``seed``."""
        return self.seed if self.data.seed is None else self.data.seed

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def hashable(obj: Any) -> Any:
    """Plain data for hashing: like ``dataclasses.asdict``, but a field added later with
    ``metadata={"hash": "omit_if_default"}`` is left out while it has its default, so adding
    an option does not invalidate the stages of runs made before it existed; one with
    ``{"hash": "omit"}`` (how often to checkpoint, where to report) never counts. A model's
    ``dtype: auto`` hashes as the dtype it resolves to (float32 runs keep their hashes)."""
    if isinstance(obj, ModelConfig) and obj.dtype == "auto":
        from veritune.dtype import hash_dtype

        obj = dataclasses.replace(obj, dtype=hash_dtype(obj))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: hashable(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if not (f.metadata.get("hash") == "omit" or
                        (f.metadata.get("hash") == "omit_if_default"
                         and getattr(obj, f.name) == f.default))}
    if isinstance(obj, (list, tuple)):
        return [hashable(x) for x in obj]
    if isinstance(obj, dict):
        return {k: hashable(v) for k, v in obj.items()}
    return obj


def config_hash(obj: Any) -> str:
    """Stable hash of a config section (or any JSON-able value)."""
    obj = hashable(obj)
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def load_config(path: str | Path | None = None, overrides: list[str] | None = None,
                cls: type = RunConfig):
    """Defaults, then the YAML file, then ``--set`` overrides, then the choices and ranges of
    ``config_validate.RULES``. A file may start from another with ``extends: other.yaml``
    (relative to it); its own keys win, section by section. ``cls`` is the top-level dataclass
    (``RunConfig``; ``BuildConfig`` for ``veritune build``). See ``veritune.config_load``."""
    return load(cls, path, overrides)


def dump_config(config) -> str:
    return yaml.safe_dump(dataclasses.asdict(config), sort_keys=False, allow_unicode=True)
