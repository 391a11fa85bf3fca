"""Every config key, declared once: its type, default, check and help.

    veritune run configs/quickstart.yaml --set sample.n=4

One dataclass per section. A key is a field made by :func:`opt`: a ``Literal[...]`` type holds
its choices, ``check`` its range, ``registry`` the registry its names come from (judges,
engines), ``help`` what it means. The loader (``load.py``), the validator (``checks.py``), the
CLI's flag help and the config reference in ``docs/CONFIG.md`` (``reference.py``) all read
these declarations. Checks across two keys of a section are that section's ``__post_init__``.
What a stage's hash keeps of a section is the run store's business (``veritune.runs.keys``),
not the schema's.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal

from veritune.config.checks import (above, at_least, each_of, fraction, has_placeholder, matches,
                                    nonempty, opt, positive, probability,
                                    section, within)
from veritune.config.sampling import SamplingParams
from veritune.config.training import AnchorConfig, LoraConfig, TrainConfig
from veritune.errors import InputError
from veritune.records import SPLITS

__all__ = ["DEFAULT_PROMPT", "POLICY", "AnchorConfig", "ApeftConfig", "DataConfig", "EvalConfig",
           "JudgeConfig", "LoraConfig", "ModelConfig", "PairsConfig", "RunConfig",
           "SampleConfig", "SamplingParams", "TrainConfig", "opt"]

DEFAULT_PROMPT = "Answer with just the answer. {question}"
POLICY = "policy"  # judge.model.name: the run's own base model judges its answers


@section()
class ModelConfig:
    name: str = opt("embedded", "embedded, a local folder, a .gguf file, or a Hugging Face "
                    "model name", check=nonempty)
    engine: str = opt("hf", "the engine that runs it (hf: transformers; vllm; openai: any "
                      "OpenAI-compatible server)", registry="engine")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = opt(
        "auto", "auto: bfloat16 where the GPU or CPU computes it natively, else float32")
    device: str | None = opt(None, "a torch device (cpu, cuda, cuda:1, mps); unset: cuda when "
                             "there is one, else cpu",
                             check=matches(r"[a-z]+(:\d+)?", "a torch device such as cpu, "
                                           "cuda, cuda:1 or mps"))
    trust_remote_code: bool = opt(False, "run the model repository's own code (off unless "
                                  "you trust it)")
    base_url: str = opt("http://127.0.0.1:8000/v1", "engine openai: the server's URL",
                        check=matches(r"https?://\S+", "an http(s) URL"))
    api_key_env: str = opt("OPENAI_API_KEY", "engine openai: the variable that holds the key "
                           "(never the key itself)", check=nonempty)
    concurrency: int = opt(8, "engine openai: requests in flight", check=positive)
    timeout: float = opt(60.0, "engine openai: seconds a request may take", check=above(0))
    top_k: bool = opt(False, "engine openai: the server takes a top_k field (vLLM does, "
                      "OpenAI's API does not)")
    vllm: dict[str, Any] | None = opt(None, "engine vllm: arguments for vllm.LLM, e.g. "
                                      "{tensor_parallel_size: 8, gpu_memory_utilization: 0.9}")
    dola_layers: Literal["off", "low", "high"] = opt(
        "off", "engine hf: DoLa decoding (Chuang et al. 2024) of greedy answers, the final "
        "layer against the lower or upper half's most different early layer; not sampling")

    def __post_init__(self):
        if self.dola_layers != "off" and self.engine != "hf":
            raise InputError(f"DoLa decoding runs in the hf engine, not {self.engine!r}",
                             field="model.dola_layers")


@section('data')
class DataConfig:
    source: str = opt("kb", "kb, or a question file (Question JSONL, NQ-open JSONL, CSV, "
                      "Parquet, a saved dataset folder) or hf:NAME", check=nonempty)
    # the formats data.loaders reads (a test keeps the two the same)
    format: Literal["auto", "questions", "nq_open", "jsonl", "csv", "tsv"] = opt(
        "auto", "how to read data.source (auto: by extension, then by the first record)")
    columns: dict[str, str] | None = opt(None, "JSONL/CSV: Question field -> column name")
    relations: list[str] | None = opt(None, "kb relations (unset: the six defaults; "
                                      "data/relations.py lists the harder ones)")
    max_entities_per_domain: int | None = opt(None, "a seeded subset of entities per domain",
                                              check=positive)
    test_fraction: float = opt(0.3, "share of each domain's entities held out for test",
                               check=within(0.0, 1.0, True, True))
    validation_fraction: float = opt(0.0, "share of each domain's entities held out for "
                                     "choosing settings", check=within(0.0, 1.0,
                                                                       high_open=True))
    max_test_per_domain: int | None = opt(None, "at most this many test questions per domain",
                                          check=positive)
    seed: int | None = opt(None, "seed of the questions, the split and the evaluation draws "
                           "(unset: the run's seed; veritune run --seeds fixes it)")
    test_source: str | None = opt(None, "a question file that is the whole test split "
                                  "(data.source then gives train and validation only, and no "
                                  "test question may be one of theirs)", check=nonempty)
    test_format: Literal["auto", "questions", "nq_open", "jsonl", "csv", "tsv"] = opt(
        "auto", "how to read data.test_source")
    max_test: int | None = opt(None, "data.test_source: a seeded subset of this many "
                               "questions", check=positive)

    def __post_init__(self):
        if not 0 < self.test_fraction < 1:
            raise InputError("must be between 0 and 1", field="data.test_fraction")
        if self.test_fraction + self.validation_fraction >= 1:
            raise InputError("test_fraction + validation_fraction must be below 1",
                             field="data.validation_fraction")


@section('sample')
class SampleConfig:
    """How the policy's own answers are drawn (the paper's settings are the defaults)."""
    n: int = opt(8, "answers per question", check=positive)
    temperature: float = opt(1.4, "sampling temperature", check=at_least(0))
    top_p: float = opt(0.9, "nucleus share (1: off)", check=fraction)
    top_k: int = opt(50, "the k most likely tokens (0: off)", check=at_least(0))
    max_new_tokens: int = opt(32, "tokens an answer may take", check=positive)
    batch_size: int = opt(64, "questions a batch (each brings n rows); it sets the random "
                          "streams", check=positive)
    splits: list[str] = opt(help="the splits sampled for training", factory=lambda: ["train"],
                            check=each_of(*SPLITS))

    def params(self, seed: int, n: int | None = None,
               temperature: float | None = None) -> SamplingParams:
        """The engine's sampling settings for these answers (``n``/``temperature``: another
        count or temperature with the same top-p and top-k, as best-of-n and probing use)."""
        return SamplingParams(n=self.n if n is None else n,
                              temperature=self.temperature if temperature is None
                              else temperature, top_p=self.top_p, top_k=self.top_k,
                              max_new_tokens=self.max_new_tokens, seed=seed)


@section('judge')
class JudgeConfig:
    name: str = opt("lexical", "lexical | llm | ensemble (lexical decides clear cases, the "
                    "LLM the rest) | self_eval (the model's P(True) of its answer, no "
                    "reference: Self-Eval-SKT)", registry="judge")
    model: ModelConfig = opt(help="the judge model (llm, ensemble); name: policy judges with "
                             "the run's own base model (self-verification)",
                             factory=ModelConfig)
    max_new_tokens: int = opt(256, "mode generate: tokens for the analysis and the verdict",
                              check=positive)
    cache: str | None = opt(None, "SQLite verdict cache (unset: <run dir>/judge_cache.sqlite)",
                            check=nonempty)
    mode: Literal["generate", "score"] = opt(
        "generate", "generate: analysis, then a verdict line; score: P(Yes) against P(No) of "
        "the reply's first word, one forward pass per answer")
    prompt: Literal["veritune", "simpleqa"] = opt(
        "veritune", "veritune: the project's rules and examples; simpleqa: SimpleQA's grader "
        "verbatim (Wei et al. 2024; a reply of A, B or C)")
    threshold: float = opt(0.5, "mode score: correct when P(correct) >= threshold",
                           check=within(0.0, 1.0, low_open=True, high_open=True))
    threshold_partial: float | None = opt(None, "ensemble, mode score: the threshold where the "
                                          "lexical judge gave partial credit (unset: threshold)",
                                          check=within(0.0, 1.0, low_open=True, high_open=True))
    batch_size: int = opt(8, "answers a judge call", check=positive)
    require_overlap: bool = opt(True, "llm, ensemble: a judge model's correct needs a word of "
                                "a reference in the answer statement (false: a strong judge)")

    def describe(self) -> str:
        """One line for reports: "lexical", "ensemble (MODEL, score mode, threshold 0.75)"."""
        if self.name == "lexical":
            return "lexical"
        how = [self.model.name, f"{self.mode} mode"] + [f"{self.prompt} prompt"] * (
            self.prompt != "veritune") + ["require_overlap off"] * (not self.require_overlap)
        if self.mode == "score":
            how.append(f"threshold {self.threshold}" + (
                f", partial {self.threshold_partial}" if self.threshold_partial else ""))
        return f"{self.name} ({', '.join(how)})"


@section('pairs')
class PairsConfig:
    max_pairs_per_question: int = opt(4, "K: at most this many pairs a question", check=positive)
    chosen: Literal["concise", "random"] = opt("concise", "concise: shortest correct answers "
                                               "first; random")
    drop_truncated: bool = opt(True, "answers that hit max_new_tokens never become chosen")
    distinct: bool = opt(True, "identical texts count once")
    drop_hedged_rejected: bool = opt(
        False, "never reject an incorrect answer that negates or hedges (not, no, unknown, "
        "depends, ...)")
    chosen_source: Literal["self", "dataset"] = opt(
        "self", "self: the model's own judged answers (PKUE); dataset: the standard answer")
    rejected_source: Literal["self", "dataset"] = opt(
        "self", "self: the model's own judged answers; dataset: the wrong answers")
    sft_targets: Literal["all", "one"] = opt("all", "SFT on all correct answers (at most K) or "
                                             "one a question")
    question_fraction: float = opt(1.0, "a seeded share of the training questions "
                                   "(the data-size sweep)", check=fraction)
    abstain: Literal["off", "fixed", "own"] = opt(
        "off", "a question with incorrect answers and no correct one: off (no pair); fixed: "
        "prefer abstain_text to each incorrect answer; own: prefer the model's own refusals")
    abstain_text: str = opt("I don't know.", "abstain: fixed, the preferred abstention",
                            check=nonempty)
    min_correct: int = opt(
        1, "a question gives pairs and SFT targets only when at least this many of its "
        "samples are judged correct (1: any, as the paper)", check=positive)
    skip_questions: str | None = opt(
        None, "questions that give no pairs or SFT targets: a file, JSONL (question or "
        "prompt) or text, one a line; e.g. those the base already answers right "
        "(benchmarks/said_anchors.py)", check=nonempty)


@section('eval')
class EvalConfig:
    splits: list[str] = opt(help="the splits evaluated", factory=lambda: ["test"],
                            check=each_of(*SPLITS))
    limit: int | None = opt(None, "at most this many questions per split, round-robin across "
                            "domains", check=positive)
    max_new_tokens: int = opt(32, "tokens a greedy answer may take", check=positive)
    batch_size: int = opt(32, "questions a batch (best-of-n: n rows each)", check=positive)
    best_of_n: int = opt(8, "samples for the best-of-n potential (0: off)", check=at_least(0))
    best_of_n_temperature: float | None = opt(None, "their temperature (unset: "
                                              "sample.temperature)", check=at_least(0))
    repetition_ngram: int = opt(3, "n of the word n-grams that count as repetition",
                                check=positive)
    suite: str = opt("", "other tasks on base and tuned: a suite name (default) or "
                     "comma-separated tasks; empty: off")
    suite_limit: int | None = opt(None, "items per suite task (unset: each task's default)",
                                  check=positive)
    suite_batch_size: int = opt(16, "items a batch in the suite and the guard", check=positive)
    guard: str = opt("", "out-of-domain guard: default (truthfulqa_mc, nq_open, halueval_qa) or "
                     "comma-separated tasks, compared item by item; empty: off")
    guard_limit: int | None = opt(None, "items per guard task (unset: the guard's own sizes)",
                                  check=positive)
    judge: JudgeConfig | None = opt(None, "the judge of held-out answers, validation "
                                    "selection, the guard and the suite (unset: the run's "
                                    "judge); e.g. a stronger model than the training judge")

    def greedy(self, seed: int) -> SamplingParams:
        return SamplingParams(n=1, temperature=0.0, max_new_tokens=self.max_new_tokens,
                              seed=seed)

    def best_of_n_params(self, sample: SampleConfig, seed: int) -> SamplingParams:
        """The best-of-n draws: ``sample``'s top-p and top-k, this section's count, length
        and temperature (``best_of_n_temperature``, else the sampling temperature)."""
        return dataclasses.replace(
            sample.params(seed, n=self.best_of_n, temperature=self.best_of_n_temperature),
            max_new_tokens=self.max_new_tokens)


@section('apeft')
class ApeftConfig:
    """``veritune apeft``: atomic preferences mixed with paragraph-level (general) pairs."""
    entities_per_domain: int | None = opt(40, "train entities per kb relation that get long "
                                          "answers", check=positive)
    n: int = opt(4, "long answers per prompt", check=positive)
    temperature: float = opt(1.0, "their temperature", check=at_least(0))
    top_p: float = opt(0.95, "their nucleus share", check=fraction)
    max_new_tokens: int = opt(160, "tokens of a long answer", check=positive)
    batch_size: int = opt(8, "prompts a batch", check=positive)
    extraction: Literal["sentences", "llm"] = opt(
        "sentences", "sentences (each one fact) | llm (decomposed by apeft.decomposer)")
    decomposer: ModelConfig | None = opt(None, "the model that decomposes sentences with "
                                         "extraction: llm (unset: the policy)")
    gamma: int = opt(0, "FActScore length penalty (0: off)", check=at_least(0))
    min_gap: float = opt(0.5, "a general pair: best minus worst precision of a prompt's "
                         "answers", check=probability)
    max_general_pairs_per_prompt: int = opt(1, "general pairs a prompt", check=positive)
    probe_n: int = opt(8, "samples per probe question", check=positive)
    probe_temperature: float = opt(1.0, "their temperature", check=at_least(0))
    probe_low: float = opt(0.0, "potentially known: probe_low < correct rate < probe_high",
                           check=probability)
    probe_high: float = opt(1.0, "(see probe_low)", check=probability)
    use_atomic: bool = opt(True, "false: general pairs only (the baseline)")
    atomic_prompt: Literal["probe", "longform"] = opt(
        "probe", "the prompt of an atomic pair: the fact's question, or the entity prompt")
    atomic_ratio: float | None = opt(None, "atomic pairs per general pair (unset: all)",
                                     check=above(0))
    shift_ood: str = opt("truthfulqa", "out-of-domain prompts of the shift analysis: a file, "
                         "or truthfulqa (its questions)", check=nonempty)
    shift_limit: int = opt(50, "prompts of each shift set", check=positive)
    shift_max_new_tokens: int = opt(96, "tokens of each shift answer", check=positive)

    def __post_init__(self):
        if self.probe_high <= self.probe_low:
            raise InputError(f"must be above probe_low ({self.probe_low})",
                             field="apeft.probe_high")

    def longform_params(self, seed: int) -> SamplingParams:
        return SamplingParams(n=self.n, temperature=self.temperature, top_p=self.top_p,
                              top_k=0, max_new_tokens=self.max_new_tokens, seed=seed)

    def probe_params(self, sample: SampleConfig, seed: int) -> SamplingParams:
        return sample.params(seed, n=self.probe_n, temperature=self.probe_temperature)


@section()
class RunConfig:
    name: str = opt("run", "the run's folder under runs_dir",
                    check=matches(r"(?!\.\.?$)[^/\\\x00]+", "a folder name (no slashes)"))
    description: str = opt("", "one line for reports and ablation tables")
    runs_dir: str = opt("runs", "where run folders go", check=nonempty)
    seed: int = opt(0, "seed of sampling, pairs and training", check=within(0, 2**32 - 1))
    limit: int | None = opt(None, "at most this many questions per split (a quick look)",
                            check=positive)
    prompt: str = opt(DEFAULT_PROMPT, "the user turn: {question} is replaced, other braces "
                      "kept", check=has_placeholder("question"))
    model: ModelConfig = opt(help="the policy: the model tuned", factory=ModelConfig)
    data: DataConfig = opt(help="the questions", factory=DataConfig)
    sample: SampleConfig = opt(help="the policy's own answers", factory=SampleConfig)
    judge: JudgeConfig = opt(help="the judge of every answer", factory=JudgeConfig)
    pairs: PairsConfig = opt(help="preference pairs from the verdicts", factory=PairsConfig)
    train: TrainConfig = opt(help="training", factory=TrainConfig)
    eval: EvalConfig = opt(help="evaluation", factory=EvalConfig)
    apeft: ApeftConfig = opt(help="veritune apeft only", factory=ApeftConfig)

    @property
    def run_dir(self) -> Path:
        return Path(self.runs_dir) / self.name

    @property
    def data_seed(self) -> int:
        """The seed of the questions and the evaluation side: ``data.seed``, else ``seed``."""
        return self.seed if self.data.seed is None else self.data.seed

    def __post_init__(self):
        for judge in (self.judge, self.eval.judge):  # self-verification: the policy judges
            if judge is not None and judge.model.name == POLICY:
                judge.model = dataclasses.replace(self.model)
        if self.train.rounds > 1 and self.train.decoding:
            raise InputError(f"train.method {self.train.method} trains nothing: one round",
                             field="train.rounds")
        if self.train.decoding and self.model.engine != "hf":
            raise InputError(f"train.method {self.train.method} changes how veritune's hf "
                             f"engine runs the model; engine {self.model.engine!r} would run "
                             "the plain base", field="model.engine")
        if self.train.rounds > 1 and "validation" not in self.eval.splits:
            raise InputError("rounds are chosen on validation accuracy: add validation to "
                             "eval.splits", field="train.rounds")
        if self.train.rounds > 1 and self.train.lora.enabled and \
                self.train.lora.save == "adapter":
            raise InputError("the next round trains from this round's whole model: set "
                             "train.lora.save: merged", field="train.rounds")

    @property
    def eval_judge(self) -> JudgeConfig:
        """The judge of everything evaluated: ``eval.judge``, else the run's judge."""
        return self.eval.judge or self.judge

    def judges(self) -> dict[str, str]:
        """Which judge scored what, for the report and the model card."""
        return {"training samples": self.judge.describe(),
                "held-out, validation, guard and suite": self.eval_judge.describe()}

    def for_evaluation(self) -> "RunConfig":
        """This config with ``eval.judge`` as its judge: what evaluation builds judges from."""
        if self.eval.judge is None:
            return self
        return dataclasses.replace(self, judge=self.eval.judge)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
