"""The one registry of what a config can name: judges, engines and evaluation tasks.

    from veritune import registry
    registry.names("judge")                   # ('lexical', 'llm', 'ensemble')
    registry.get("task", "mmlu")              # the task object, imported on first use
    registry.register("judge", "mine", "mypackage.judges:MyJudge")

Each entry is ``module:object``, imported only when it is first used (as lm-evaluation-harness
registers its models), so ``import veritune`` stays cheap and a config checks its names
without loading torch. The config's choices (``judge.name``, ``model.engine``, ``eval.suite``
tasks) come from here, so adding a judge, an engine or a task is one module and one entry:

- a judge is a class with ``name``, ``needs_model`` and ``from_config(judge_cfg, *,
  questions, engine, cache)`` (``veritune.judge``);
- an engine is a class taking ``(model, **settings)`` with ``generate``, ``loglikelihood``
  and ``choice_logprobs`` (``veritune.engines``), built by ``from_config(model_cfg, model)``;
- a task is an object with the protocol of ``veritune.tasks.Task``.
"""

from __future__ import annotations

import importlib
from typing import Any

from veritune.errors import VerituneError

__all__ = ["KINDS", "get", "names", "register", "unregister"]

KINDS = ("judge", "engine", "task")

_ENTRIES: dict[str, dict[str, Any]] = {
    "judge": {
        "lexical": "veritune.judge.lexical:LexicalJudge",
        "llm": "veritune.judge.llm:LLMJudge",
        "ensemble": "veritune.judge.ensemble:EnsembleJudge",
        "self_eval": "veritune.judge.self_eval:SelfEvalJudge",
    },
    "engine": {
        "hf": "veritune.engines.hf:HFEngine",
        "openai": "veritune.engines.openai:OpenAIEngine",
        "vllm": "veritune.engines.vllm:VLLMEngine",
    },
    "task": {
        "precise_qa": "veritune.tasks.precise_qa:TASK",
        "truthfulqa_mc": "veritune.tasks.truthfulqa_mc:TASK",
        "truthfulqa_gen": "veritune.tasks.truthfulqa_gen:TASK",
        "halueval_qa": "veritune.tasks.halueval_qa:TASK",
        "halluqa": "veritune.tasks.halluqa:TASK",
        "mmlu": "veritune.tasks.mc:MMLU",
        "cmmlu": "veritune.tasks.mc:CMMLU",
        "nq_open": "veritune.tasks.nq_open:TASK",
        "simpleqa": "veritune.tasks.simpleqa:TASK",
        "mtbench": "veritune.tasks.mtbench:TASK",
        "winrate": "veritune.tasks.winrate:TASK",
        "factscore": "veritune.tasks.factscore:TASK",
    },
}
_LOADED: dict[tuple[str, str], Any] = {}


def _kind(kind: str) -> dict[str, Any]:
    if kind not in _ENTRIES:
        raise VerituneError(f"unknown registry kind {kind!r}; kinds: {', '.join(KINDS)}")
    return _ENTRIES[kind]


def names(kind: str) -> tuple[str, ...]:
    """The names registered for ``kind``, in registration order."""
    return tuple(_kind(kind))


def register(kind: str, name: str, target: Any) -> None:
    """Register ``target`` (``"module:object"``, or the object itself) as ``name``; a name
    registered again is replaced."""
    _kind(kind)[name] = target
    _LOADED.pop((kind, name), None)


def unregister(kind: str, name: str) -> None:
    _kind(kind).pop(name, None)
    _LOADED.pop((kind, name), None)


def get(kind: str, name: str) -> Any:
    """The object registered as ``name``; an unknown name is an error listing the known."""
    entries = _kind(kind)
    if name not in entries:
        raise VerituneError(f"unknown {kind} {name!r}; known: {', '.join(entries)}")
    if (kind, name) not in _LOADED:
        target = entries[name]
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module), attr)
        _LOADED[(kind, name)] = target
    return _LOADED[(kind, name)]
