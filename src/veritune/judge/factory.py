"""Build the configured judge: the same one for training samples and for evaluation.

``build_judge(cfg, questions)`` reads ``cfg.judge``; the names come from the one registry,
:data:`veritune.judge.JUDGES`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from veritune.errors import VeritunError
from veritune.records import Question

if TYPE_CHECKING:
    from veritune.config import RunConfig


def judge_engine(model_cfg):
    """The judge model's engine; an hf engine computes the prompts' shared start once."""
    from veritune.engines import engine_from_config

    engine = engine_from_config(model_cfg)
    if hasattr(engine, "share_prefix"):
        engine.share_prefix = True
    return engine


def build_judge(cfg: "RunConfig", questions: list[Question]):
    """The configured judge.

    The lexical judge learns each domain's competing answers from the kb questions (another
    value of the same relation in an answer makes it incorrect). ``llm`` asks the judge model
    of ``judge.model`` in ``judge.mode``; ``ensemble`` asks it only where the lexical judge is
    not sure.
    """
    from veritune.judge import JUDGES

    j = cfg.judge
    if j.name not in JUDGES:
        raise VeritunError(f"unknown judge {j.name!r}; judges: {', '.join(sorted(JUDGES))}")
    lexical = JUDGES["lexical"].for_questions([q for q in questions if q.source == "kb"])
    if j.name == "lexical":
        return lexical
    from veritune.judge.llm import JudgeCache

    cache = JudgeCache(j.cache or cfg.run_dir / "judge_cache.sqlite")
    llm = JUDGES["llm"](judge_engine(j.model), cache=cache, max_new_tokens=j.max_new_tokens,
                        batch_size=j.batch_size, mode=j.mode, threshold=j.threshold)
    return llm if j.name == "llm" else JUDGES["ensemble"](lexical, llm, j.threshold_partial)


def suite_judge(cfg: "RunConfig", task: str, questions: list[Question]):
    """The run's judge for the suite's judged tasks: precise QA and NQ-open use it as is;
    long-answer tasks use it only when it is an LLM (else their reference-overlap score)."""
    if task in ("precise_qa", "nq_open"):
        return build_judge(cfg, questions if task == "precise_qa" else [])
    return build_judge(cfg, []) if cfg.judge.name in ("llm", "ensemble") else None
