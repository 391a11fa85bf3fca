"""Running stages over run directories: one run (``loop.py``), several training seeds on one
split (``seeds.py``), ablation variants on shared samples (``ablate.py``), and two runs'
tuned models compared (``compare.py``)."""

from veritune.pipeline.loop import run_pipeline, run_stage, stage_names

__all__ = ["run_pipeline", "run_stage", "stage_names"]
