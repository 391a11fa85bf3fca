"""Build the configured judge, and the judge each evaluation task is scored with.

``build_judge(cfg, questions)`` reads ``cfg.judge``: the class registered under its name
(``veritune.registry``), given the judge model's engine when it needs one and its verdict
cache. Evaluation tasks declare how they use a judge (``Task.judged``): ``always`` (precise QA,
NQ-open: the run's judge, whatever it is), ``if_model`` (long answers: the run's judge only
when it is a model, else their own reference overlap), ``model`` (open-ended answers: only a
judge model scores them) or ``never`` (multiple choice). Both the
judge a task gets and what its cached result depends on follow from that one declaration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from veritune import registry
from veritune.engines import engine_from_config
from veritune.errors import InputError
from veritune.judge.llm import JudgeCache
from veritune.records import Question
from veritune.runs.keys import hashable

if TYPE_CHECKING:
    from veritune.config import JudgeConfig, RunConfig


def judge_engine(model_cfg):
    """The judge model's engine; an hf engine computes the prompts' shared start once."""
    engine = engine_from_config(model_cfg)
    if hasattr(engine, "share_prefix"):
        engine.share_prefix = True
    return engine


def build_judge(cfg: "RunConfig", questions: list[Question]):
    """The configured judge. The lexical judge learns each kb relation's competing answers
    from the kb ``questions`` (another value of the same relation in an answer makes it
    incorrect); a judge that needs a model gets ``judge.model``'s engine and the SQLite cache
    (``judge.cache``, else ``<run dir>/judge_cache.sqlite``)."""
    j = cfg.judge
    cls = registry.get("judge", j.name)
    if not cls.needs_model:
        return cls.from_config(j, questions=questions)
    cache = JudgeCache(j.cache or cfg.run_dir / "judge_cache.sqlite")
    return cls.from_config(j, questions=questions, engine=judge_engine(j.model), cache=cache)


def _task(task):
    return registry.get("task", task) if isinstance(task, str) else task


def task_judge(cfg: "RunConfig", task, questions: list[Question]):
    """The judge ``task`` (a name or a task object) is scored with, or None (its own
    scoring). Precise QA learns kb competitors from ``questions``; NQ-open has none."""
    t, needs_model = _task(task), registry.get("judge", cfg.judge.name).needs_model
    if t.judged == "always":
        return build_judge(cfg, questions if t.name == "precise_qa" else [])
    return build_judge(cfg, []) if t.judged in ("if_model", "model") and needs_model else None


def check_judge_model(judge_cfg: "JudgeConfig", tasks, field: str) -> None:
    """Fail before any model loads when a task only a judge model can score (``judged:
    model``: mtbench, winrate) would get a judge without one."""
    if registry.get("judge", judge_cfg.name).needs_model:
        return
    need = [_task(t).name for t in tasks if _task(t).judged == "model"]
    if need:
        raise InputError(f"{', '.join(need)} need a judge model: set eval.judge.name (or "
                         f"judge.name) to llm or ensemble, not {judge_cfg.name!r}", field=field)


def task_judge_key(judge_cfg: "JudgeConfig", task):
    """What a task's result depends on of the run's judge: its config without the cache
    path, or None when the task is scored without it. (A model judge counts for every task,
    as results were keyed before tasks declared how they use one.)"""
    t = _task(task)
    if t.judged == "always" or registry.get("judge", judge_cfg.name).needs_model:
        return {k: v for k, v in hashable(judge_cfg).items() if k != "cache"}
    return None
