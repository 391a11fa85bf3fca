"""Evaluation tasks: one small module each, one protocol (``base.Task``), registered by name in
``veritune.registry``; the suite stage runs several on several models, the guard compares base
and tuned on the out-of-domain ones."""

from veritune.data.files import data_dirs, find_data, package_file
from veritune.tasks.base import (SUITES, Task, get_task, item_scores, run_task, seeded_subset,
                                 suite_tasks)

__all__ = ["SUITES", "Task", "data_dirs", "find_data", "get_task", "item_scores",
           "package_file", "run_task", "seeded_subset", "suite_tasks"]
