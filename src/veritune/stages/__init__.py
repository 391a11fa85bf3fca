"""The stages of a run, one module each, and the order PKUE runs them in.

    data -> sample -> judge -> pairs -> train (anchors first) -> eval (base, tuned, compare,
    guard, suite) -> report

Each stage declares its inputs, outputs, key and ``run`` (``base.Stage``);
``veritune.pipeline`` walks them over a run directory. ``STAGES`` maps the names a user gives
(``veritune run --stages sample,judge``) to the stages they stand for; ``apeft.py`` holds
APEFT's own stages and ``APEFT_STAGES`` its order.
"""

from __future__ import annotations

from veritune.stages.base import Context, RunPaths, Stage
from veritune.stages.data import DataStage
from veritune.stages.eval import CompareStage, EvalModelStage
from veritune.stages.guard import GuardStage
from veritune.stages.judge import JudgeStage
from veritune.stages.pairs import PairsStage
from veritune.stages.report import ReportStage
from veritune.stages.sample import SampleStage
from veritune.stages.suite import SuiteStage
from veritune.stages.train import TrainStage


def eval_stages() -> list[Stage]:
    return [EvalModelStage("base"), EvalModelStage("tuned"), CompareStage(), GuardStage(),
            SuiteStage()]


STAGES: dict[str, list[Stage]] = {
    "data": [DataStage()],
    "sample": [SampleStage()],
    "judge": [JudgeStage()],
    "pairs": [PairsStage()],
    "train": [TrainStage()],
    "eval": eval_stages(),
    "report": [ReportStage()],
}

__all__ = ["STAGES", "Context", "RunPaths", "Stage", "eval_stages"]
