"""Evaluation tasks beyond precise QA (the suite grows here; issue 4)."""
