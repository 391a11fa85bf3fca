"""The report stage: ``report.md``, ``report.html`` and figures from what the run holds.

    veritune report runs/quickstart
"""

from __future__ import annotations

from veritune.report.markdown import write_report
from veritune.stages.base import Context, Stage


class ReportStage(Stage):
    name = "report"
    recorded = False  # it only reads the run: written again every time

    def run(self, ctx: Context) -> None:
        ctx.log(f"report: {write_report(ctx.paths.root)}")
