"""``veritune analyze``: token-distribution shift and representation k-NN of two models."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from veritune.cli.errors import friendly
from veritune.errors import VerituneError

analyze_app = typer.Typer(no_args_is_help=True,
                          help="Diagnostics: token-distribution shift, representation k-NN.")


def _prompt_sets(items: list[str]) -> dict[str, str]:
    sets = {}
    for item in items:
        name, _, path = item.rpartition("=") if "=" in item else (Path(item).stem, "", item)
        if name in sets:
            raise VerituneError(f"two prompt sets named {name!r}: use NAME=PATH")
        sets[name] = path
    return sets


@analyze_app.command("shift")
@friendly
def analyze_shift(base: str = typer.Option(..., help="Base model (path, HF name, embedded)."),
                  tuned: str = typer.Option(..., help="Tuned model (same tokenizer)."),
                  prompts: list[str] = typer.Option(
                      ..., help="Prompt file (JSONL with prompt/question, or text lines); "
                      "repeat as NAME=PATH for sets side by side (in_domain=..., ood=...)."),
                  out: Path = typer.Option(..., help="Writes metrics.json, shift.png, tokens_*.jsonl."),
                  template: str = typer.Option("{prompt}", help="Wraps each prompt text."),
                  limit: Optional[int] = typer.Option(None, help="At most N prompts per set."),
                  max_new_tokens: int = typer.Option(128, help="Tokens generated per prompt."),
                  top_k: int = typer.Option(3, help="Ranks 2..k count as marginal.")):
    """How much the tuned model's answers depart from the base model's top-1 tokens."""
    from veritune.analysis.run import run_shift  # deferred: loads torch

    m = run_shift(base, tuned, _prompt_sets(prompts), out, template=template, limit=limit,
                  max_new_tokens=max_new_tokens, top_k=top_k)
    for name, s in m["sets"].items():
        typer.echo(f"{name:>14}: shifted {s['shifted_rate']:.2%}  marginal {s['marginal_rate']:.2%}"
                   f"  unshifted {s['unshifted_rate']:.2%}  ({s['n_tokens']} tokens)")
    typer.echo(f"-> {out / 'metrics.json'}, {out / 'shift.png'}")


@analyze_app.command("knn")
@friendly
def analyze_knn(model_a: str = typer.Option(..., "--model-a", help="First model (path, HF "
                                            "name, embedded)."),
                model_b: str = typer.Option(..., "--model-b", help="Second model."),
                prompts: Path = typer.Option(..., help="Prompt file (JSONL or text lines)."),
                out: Path = typer.Option(..., help="Writes metrics.json."),
                k: int = typer.Option(10, help="Neighbours per prompt."),
                template: str = typer.Option("{prompt}", help="Wraps each prompt text."),
                limit: Optional[int] = typer.Option(None, help="At most N prompts.")):
    """Mutual k-NN alignment of two models' last-layer prompt representations."""
    from veritune.analysis.run import run_knn  # deferred: loads torch

    m = run_knn(model_a, model_b, str(prompts), out, k=k, template=template, limit=limit)
    typer.echo(f"mutual k-NN (k={k}, {m['n_prompts']} prompts): {m['mutual_knn']:.4f} "
               f"-> {out / 'metrics.json'}")
