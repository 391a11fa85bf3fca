"""``train.method: iti``: fit inference-time intervention (Li et al. 2023) on the run's pairs.

    veritune ablate configs/baselines/kb/     # ITI beside PKUE, on the same judged samples

No weight changes. The run's preference pairs hold, for each question, answers of the model's
own that the judge called correct (chosen) and incorrect (rejected): the true and false
answers ITI probes. As in the paper:

1. every answer runs through the base model after its prompt, and each attention head's output
   (the input of the output projection) at the answer's last token is kept;
2. a logistic probe per head tells correct from incorrect; probes are fitted on 4/5 of the
   questions and ranked by balanced accuracy on the other 1/5 (the classes weighted equally:
   most of a model's own answers are incorrect, where TruthfulQA's are about even);
3. the ``train.iti_heads`` best heads are shifted by ``train.iti_alpha`` standard deviations
   along their mass-mean direction (mean of the correct answers' activations minus the
   incorrect ones', over all answers: the paper's best direction);
4. given several ``iti_alpha``, each is tried on the validation split and the most accurate
   kept (the paper chose alpha and the head count by cross-validation).

The base is saved to ``DIR/model`` with the shifts in ``iti.safetensors``
(:mod:`veritune.engines.iti`). What is simplified from the paper: the probes read the run's own
judged answers, not TruthfulQA (which veritune keeps for the guard); the shift is added at every
position (the paper's code: after the prompt), which makes a given alpha stronger: on
SmolLM2-135M the paper's alpha 15 with 16 heads leaves only noise; the head count is a
setting, not chosen on validation.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Callable, Sequence

import torch

from veritune.config import TrainConfig
from veritune.engines.iti import FILE, apply_shifts, attention_modules, head_shape, save_shifts
from veritune.errors import VerituneError
from veritune.progress import progress
from veritune.records import Pair
from veritune.train.policy import load_policy, save_model
from veritune.train.select import SCORE_KEY

PROBE_SHARE = 0.2  # of the questions: where each head's probe is ranked
BATCH = 16


def iti_alphas(cfg: TrainConfig) -> list[float]:
    """``train.iti_alpha`` as a list (several: chosen on validation)."""
    a = cfg.iti_alpha
    return [float(x) for x in a] if isinstance(a, list) else [float(a)]


def labelled_answers(pairs: Sequence[Pair]) -> list[tuple[Pair, str, int]]:
    """(the pair its prompt comes from, an answer, 1 correct / 0 incorrect), each answer of a
    question once."""
    seen: set[tuple[str, str]] = set()
    out = []
    for p in pairs:
        for text, label in ((p.chosen, 1), (p.rejected, 0)):
            if text is None or (p.question_id, text) in seen:
                continue
            seen.add((p.question_id, text))
            out.append((p, text, label))
    return out


@torch.inference_mode()
def head_activations(model, tokenizer, answers: Sequence[tuple[Pair, str, int]],
                     max_length: int) -> torch.Tensor:
    """answers x layers x heads x head_dim: each head's output at each answer's last token."""
    heads, dim = head_shape(model)
    layers = attention_modules(model)
    out = torch.empty(len(answers), len(layers), heads, dim)
    grabbed: dict[int, torch.Tensor] = {}

    def grab(i):
        def hook(module, args):
            grabbed[i] = args[0]
        return hook

    handles = [m.o_proj.register_forward_pre_hook(grab(i)) for i, m in enumerate(layers)]
    device = next(model.parameters()).device
    bar = progress(len(answers), desc="iti activations", unit="answer")
    try:
        for start in range(0, len(answers), BATCH):
            chunk = answers[start:start + BATCH]
            texts = [_through_answer(tokenizer, p, text) for p, text, _ in chunk]
            enc = tokenizer(texts, return_tensors="pt", padding=True, truncation=True,
                            max_length=max_length, add_special_tokens=False)
            ids, mask = enc["input_ids"].to(device), enc["attention_mask"].to(device)
            model(input_ids=ids, attention_mask=mask)
            last = mask.sum(1) - 1  # right padding: each row's last token, the answer's
            rows = torch.arange(len(chunk), device=device)
            for i in range(len(layers)):
                acts = grabbed[i][rows, last].float().cpu()
                out[start:start + len(chunk), i] = acts.view(len(chunk), heads, dim)
            bar.update(len(chunk))
    finally:
        bar.close()
        for h in handles:
            h.remove()
    return out


def _through_answer(tokenizer, pair: Pair, text: str) -> str:
    """The chat-template text of the prompt and the answer, cut after the answer (the
    template's end-of-turn tokens left out, so the last token is the answer's)."""
    full = tokenizer.apply_chat_template(
        list(pair.prompt) + [{"role": "assistant", "content": text}], tokenize=False)
    end = full.rfind(text)
    return full[:end + len(text)] if end >= 0 else full


def probe_accuracy(x: torch.Tensor, y: torch.Tensor, fit: torch.Tensor,
                   steps: int = 200, l2: float = 1e-2) -> torch.Tensor:
    """Held-out balanced accuracy (the mean of the two classes' recalls) of a logistic probe
    per head, fitted with the classes weighted equally: a model's own answers are mostly
    incorrect, and plain accuracy would rank heads by how well they say "incorrect" always.
    ``x``: answers x heads x dim; ``y``: 0/1 per answer; ``fit``: which answers the probes are
    fitted on (the rest score them)."""
    mean = x[fit].mean(0, keepdim=True)
    std = x[fit].std(0, keepdim=True).clamp_min(1e-6)
    z = (x - mean) / std
    heads, dim = x.shape[1], x.shape[2]
    w = torch.zeros(heads, dim, requires_grad=True)
    b = torch.zeros(heads, requires_grad=True)
    target = y[fit].float()[:, None].expand(-1, heads)
    positives = float(y[fit].sum())
    pos_weight = torch.tensor((len(target) - positives) / max(positives, 1.0))
    opt = torch.optim.LBFGS([w, b], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        logits = torch.einsum("nhd,hd->nh", z[fit], w) + b
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            logits, target, pos_weight=pos_weight) + l2 * (w ** 2).sum(1).mean()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    held = ~fit
    with torch.no_grad():
        pred = (torch.einsum("nhd,hd->nh", z[held], w) + b) > 0
    truth = y[held].bool()[:, None]
    recalls = [(pred[truth[:, 0]] == 1).float().mean(0), (pred[~truth[:, 0]] == 0).float().mean(0)]
    return torch.stack([r.nan_to_num(0.5) for r in recalls]).mean(0)


def fit_shifts(acts: torch.Tensor, labels: torch.Tensor, fit: torch.Tensor, n_heads: int,
               alpha: float, o_proj_weights: Sequence[torch.Tensor]) -> tuple[dict, dict]:
    """(layer -> the shift added to its attention output, what was chosen): the ``n_heads``
    heads whose probes score best, each moved ``alpha`` standard deviations along its
    mass-mean direction, through that layer's output projection."""
    n, layers, heads, dim = acts.shape
    flat = acts.view(n, layers * heads, dim)
    accuracy = probe_accuracy(flat, labels, fit)
    top = torch.argsort(accuracy, descending=True)[:n_heads].tolist()
    shifts: dict[int, torch.Tensor] = {}
    chosen = []
    for k in sorted(top):
        layer, head = divmod(k, heads)
        x = flat[:, k]
        theta = x[labels == 1].mean(0) - x[labels == 0].mean(0)
        theta = theta / theta.norm().clamp_min(1e-12)
        sigma = float((x @ theta).std())
        head_shift = torch.zeros(heads * dim)
        head_shift[head * dim:(head + 1) * dim] = alpha * sigma * theta
        weight = o_proj_weights[layer].float().cpu()
        shifts[layer] = shifts.get(layer, torch.zeros(weight.shape[0])) + weight @ head_shift
        chosen.append({"layer": layer, "head": head,
                       "probe_balanced_accuracy": round(float(accuracy[k]), 4),
                       "sigma": round(sigma, 4)})
    return shifts, {"heads": chosen,
                    "probe_balanced_accuracy_best": round(float(accuracy.max()), 4),
                    "probe_balanced_accuracy_median": round(float(accuracy.median()), 4)}


def fit_iti(model_name: str, pairs: Sequence[Pair], cfg: TrainConfig, out_dir: Path,
            trust_remote_code: bool, model_dtype: str, seed: int,
            evaluate: Callable[[object], float] | None = None) -> dict:
    """Fit the shifts on the pairs' answers and save the base with them to ``out_dir/model``;
    the model returned has them applied. With several ``train.iti_alpha``, each is scored
    by ``evaluate(model)`` (validation accuracy) and the best kept (a tie: the smaller)."""
    alphas = sorted(iti_alphas(cfg))
    if len(alphas) > 1 and evaluate is None:
        raise VerituneError("several train.iti_alpha are chosen on validation: run ITI through "
                            "the pipeline (veritune run / ablate) with a validation split")
    answers = labelled_answers(pairs)
    labels = torch.tensor([a[2] for a in answers])
    questions = sorted({a[0].question_id for a in answers})
    if len(questions) < 5 or labels.sum() == 0 or labels.sum() == len(labels):
        raise VerituneError(f"ITI probes need correct and incorrect answers of at least 5 "
                            f"questions; the pairs hold {len(questions)} questions")
    rng = random.Random(seed)
    held = set(rng.sample(questions, max(1, round(PROBE_SHARE * len(questions)))))
    fit = torch.tensor([a[0].question_id not in held for a in answers])
    model, tokenizer = load_policy(model_name, trust_remote_code, model_dtype)
    tokenizer.padding_side = "right"
    acts = head_activations(model, tokenizer, answers, cfg.max_length)
    n_heads = min(cfg.iti_heads, acts.shape[1] * acts.shape[2])
    weights = [m.o_proj.weight for m in attention_modules(model)]
    unit, chosen = fit_shifts(acts, labels, fit, n_heads, 1.0, weights)  # shifts scale with alpha
    history: list[dict] = []
    alpha = alphas[0]
    if len(alphas) > 1:
        scores = {}
        for a in alphas:
            handles = apply_shifts(model, {i: a * v for i, v in unit.items()})
            try:
                scores[a] = float(evaluate(model))
            finally:
                for h in handles:
                    h.remove()
            history.append({"iti_alpha": a, SCORE_KEY: scores[a]})
        alpha = max(alphas, key=lambda a: (scores[a], -a))
    shifts = {i: alpha * v for i, v in unit.items()}
    meta = {"alpha": alpha, "alphas_tried": alphas, "n_heads": n_heads,
            "answers": len(answers), "correct": int(labels.sum()), "questions": len(questions),
            "probe_questions": len(held), **chosen}
    save_model(model, tokenizer, out_dir / "model",
               also=lambda folder: save_shifts(folder, shifts, meta))
    apply_shifts(model, shifts)
    history.append({"iti_heads": n_heads, "iti_alpha": alpha,
                    "probe_balanced_accuracy_best": chosen["probe_balanced_accuracy_best"],
                    "probe_balanced_accuracy_median": chosen["probe_balanced_accuracy_median"],
                    "probe_balanced_accuracy_chosen_min": min(
                        h["probe_balanced_accuracy"] for h in chosen["heads"])})
    return {"meta": meta, "history": history, "model": model, "file": FILE}
