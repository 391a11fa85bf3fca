"""Question sources (files, hf datasets, offline knowledge bases) and entity-level splits."""

from veritune.data.kb import KB_RELATIONS
from veritune.data.loaders import load_questions
from veritune.data.relations import RELATIONS, kb_questions
from veritune.data.split import assign_splits, subsample_entities

__all__ = ["KB_RELATIONS", "RELATIONS", "assign_splits", "kb_questions", "load_questions",
           "subsample_entities"]
