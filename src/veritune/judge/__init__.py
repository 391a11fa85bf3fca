"""Judges: label a sampled response to a question as correct, incorrect or uncertain.

The judges are registered by name in ``veritune.registry`` (lexical, llm, ensemble);
``build_judge(cfg, questions)`` builds the one a run's ``judge:`` section names, and
``task_judge(cfg, task, questions)`` the one an evaluation task is scored with.
"""

from __future__ import annotations

from veritune.judge.base import Judge, Judgement
from veritune.judge.ensemble import EnsembleJudge
from veritune.judge.factory import (build_judge, check_judge_model, judge_engine, task_judge,
                                    task_judge_key)
from veritune.judge.lexical import LexicalJudge
from veritune.judge.llm import LLMJudge

__all__ = ["EnsembleJudge", "Judge", "Judgement", "LLMJudge", "LexicalJudge", "build_judge",
           "check_judge_model", "judge_engine", "task_judge", "task_judge_key"]
