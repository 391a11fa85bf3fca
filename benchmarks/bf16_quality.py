"""bf16 vs fp32 sampling quality on 64 kb questions (n=8, quickstart sampling; greedy too): the
share of samples the judge calls correct, greedy accuracy, and identical greedy answers.

    python benchmarks/bf16_quality.py   # writes benchmarks/results/bf16_quality.json
"""
import json

from veritune.data import kb_questions
from veritune.engines import SamplingParams
from veritune.engines.hf import HFEngine
from veritune.judge import LexicalJudge
from veritune.prompts import question_messages

qs_all = kb_questions(seed=0)
qs = qs_all[::5][:64]
judge = LexicalJudge.for_questions(qs_all)
params = SamplingParams(n=8, temperature=1.0, top_p=0.95, top_k=50, max_new_tokens=32, seed=0)
greedy = SamplingParams(n=1, max_new_tokens=32)
msgs = [question_messages(q, "Answer with just the answer. {question}") for q in qs]
out = {}
for dtype in ("float32", "bfloat16"):
    e = HFEngine("embedded", dtype=dtype)
    rows = e.generate(msgs, params)
    labels = [judge.judge(q, g.text).label for q, row in zip(qs, rows) for g in row]
    g = e.generate(msgs, greedy)
    gl = [judge.judge(q, row[0].text).label for q, row in zip(qs, g)]
    out[dtype] = {"sample_correct_rate": round(labels.count("correct") / len(labels), 4),
                  "greedy_accuracy": round(gl.count("correct") / len(gl), 4),
                  "greedy_same_text_as_fp32": None}
    out[dtype]["_greedy"] = [row[0].text for row in g]
same = sum(a == b for a, b in zip(out["float32"]["_greedy"], out["bfloat16"]["_greedy"]))
out["bfloat16"]["greedy_same_text_as_fp32"] = f"{same}/64"
for d in out.values(): d.pop("_greedy")
print(json.dumps(out))
json.dump(out, open("benchmarks/results/bf16_quality.json", "w"), indent=2)
