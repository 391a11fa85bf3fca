"""The four prompts of the build (English and Chinese): question generation (few-shot, JSON
out), the round trip (the question answered from its own description), domain classification
and the quality check (reasoning first, then a verdict line).

``PROMPT_VERSION`` is part of every cached record's key: editing a prompt re-runs its step.
"""

from __future__ import annotations

import json

PROMPT_VERSION = "v1"

GEN_EXAMPLE_EN = {
    "description": "Marie Curie (1867-1934) was a Polish and naturalised-French physicist and "
                   "chemist who conducted pioneering research on radioactivity. She was the "
                   "first woman to win a Nobel Prize, and she discovered the elements polonium "
                   "and radium with her husband Pierre Curie.",
    "output": [
        {"question": "Which chemical element, named after her home country, did Marie Curie "
                     "discover together with Pierre Curie?",
         "answer": "Polonium", "wrong_answers": ["Radon", "Francium", "Thorium"]},
        {"question": "In which year was the physicist and chemist Marie Curie born?",
         "answer": "1867", "wrong_answers": ["1859", "1871", "1880"]},
    ],
}
GEN_EXAMPLE_ZH = {
    "description": "长江是亚洲第一长河，全长约6300公里，发源于青藏高原的唐古拉山脉各拉丹冬峰，"
                   "流经青海、西藏、四川、重庆、湖北、湖南、江西、安徽、江苏、上海等省区市，"
                   "在上海注入东海。",
    "output": [
        {"question": "长江发源于哪座山峰？", "answer": "各拉丹冬峰",
         "wrong_answers": ["珠穆朗玛峰", "巴颜喀拉山", "昆仑山"]},
        {"question": "长江在哪里注入东海？", "answer": "上海",
         "wrong_answers": ["南京", "宁波", "杭州"]},
    ],
}

GEN_EN = """Write up to {n} precise factual questions from an encyclopedia description.
Rules:
- Each question has exactly one correct answer: a short name, number, date or term stated in
  the description.
- The question must make sense on its own, without the description: name the subject in
  full, no "he", "it" or "this".
- Give the standard answer and exactly 3 wrong answers of the same kind that sound plausible.
- Output only JSON: a list of objects with the keys "question", "answer", "wrong_answers".
  If no good question exists, output [].

Description: {description}"""

GEN_ZH = """根据百科描述，写出最多 {n} 个精确的事实性问题。
要求：
- 每个问题只有一个正确答案：描述中出现的简短名称、数字、日期或术语。
- 问题脱离描述也能看懂：写出主体的全称，不用“他”“它”“该”等指代。
- 给出标准答案和恰好 3 个同类、看似合理的错误答案。
- 只输出 JSON：由对象组成的列表，键为 "question"、"answer"、"wrong_answers"。
  如果无法提出好问题，输出 []。

描述：{description}"""


def generation_prompt(description: str, lang: str, n: int) -> list[dict[str, str]]:
    """The few-shot example is a turn of its own (user: rules + example description,
    assistant: its JSON), then the description: small chat models follow that far better
    than an example inlined in one message (the 135M default wrote JSON only this way)."""
    zh = lang.startswith("zh")
    ex = GEN_EXAMPLE_ZH if zh else GEN_EXAMPLE_EN
    template = GEN_ZH if zh else GEN_EN
    return [{"role": "user", "content": template.format(n=n, description=ex["description"])},
            {"role": "assistant", "content": json.dumps(ex["output"][:n], ensure_ascii=False)},
            {"role": "user", "content": ("描述：" if zh else "Description: ") + description}]


ROUNDTRIP_EN = """Answer the question using the passage. Reply with just the answer: a short name,
number, date or term, no sentence.
Passage: {description}
Question: {question}"""

ROUNDTRIP_ZH = """根据短文回答问题。只回复答案本身（简短的名称、数字、日期或术语），不要写句子。
短文：{description}
问题：{question}"""


def roundtrip_prompt(description: str, question: str, lang: str) -> list[dict[str, str]]:
    """The question asked back with the description it was written from (open book)."""
    template = ROUNDTRIP_ZH if lang.startswith("zh") else ROUNDTRIP_EN
    return [{"role": "user", "content": template.format(description=description,
                                                        question=question)}]


CLASSIFY_EN = """Which domain does this question belong to?
Question: {question}
Answer: {answer}
Domains:
{domains}
Reply with one line: DOMAIN: <the domain name exactly as listed>"""

CLASSIFY_ZH = """这个问题属于哪个领域？
问题：{question}
答案：{answer}
领域：
{domains}
只回复一行：DOMAIN: <与列表完全一致的领域名>"""


# One worked example per language, shown as its own turn when its domain is configured.
CLASSIFY_EXAMPLES = {
    "en": ("What is the chemical symbol of gold?", "Au",
           "physics, chemistry, mathematics & biology"),
    "zh": ("金的化学符号是什么？", "Au", "physics, chemistry, mathematics & biology"),
}


def classification_prompt(question: str, answer: str, lang: str,
                          domains: list[str]) -> list[dict[str, str]]:
    listed = "\n".join(f"- {d}" for d in domains)
    key = "zh" if lang.startswith("zh") else "en"
    template = CLASSIFY_ZH if key == "zh" else CLASSIFY_EN
    ask = [{"role": "user",
            "content": template.format(question=question, answer=answer, domains=listed)}]
    ex_q, ex_a, ex_d = CLASSIFY_EXAMPLES[key]
    if ex_d not in domains:
        return ask
    return [{"role": "user",
             "content": template.format(question=ex_q, answer=ex_a, domains=listed)},
            {"role": "assistant", "content": f"DOMAIN: {ex_d}"}] + ask


QUALITY_TYPES = ("LONG_TAIL", "MULTIPLE_ANSWERS", "WRONG_ANSWER", "NOT_SELF_CONTAINED")

QUALITY_EN = """You review a quiz question and its standard answer for a factual QA dataset.
Reject it if it is one of these:
- LONG_TAIL: obscure knowledge that few well-read people could know.
- MULTIPLE_ANSWERS: more than one answer would be correct.
- WRONG_ANSWER: the standard answer is wrong.
- NOT_SELF_CONTAINED: it needs missing context (a vague "he", "it", "this", "the above"), or
  uses an abbreviation it does not explain.
Question: {question}
Standard answer: {answer}
First write your reasoning on a line starting with "Reasoning:". Then end with one line:
VERDICT: KEEP, or VERDICT: <one of LONG_TAIL, MULTIPLE_ANSWERS, WRONG_ANSWER, NOT_SELF_CONTAINED>"""

QUALITY_ZH = """你在审核事实问答数据集中的一道题及其标准答案。
属于以下任一类型就拒绝：
- LONG_TAIL：冷门知识，博学的人也很少知道。
- MULTIPLE_ANSWERS：不止一个答案正确。
- WRONG_ANSWER：标准答案是错的。
- NOT_SELF_CONTAINED：缺少上下文（含糊的“他”“它”“该”“上述”），或使用未解释的缩写。
问题：{question}
标准答案：{answer}
先在以 "Reasoning:" 开头的行写出理由，最后单独一行写：
VERDICT: KEEP，或 VERDICT: <LONG_TAIL、MULTIPLE_ANSWERS、WRONG_ANSWER、NOT_SELF_CONTAINED 之一>"""


QUALITY_EXAMPLES = {
    "en": [("What is the capital of Australia?", "Canberra",
            "Reasoning: Widely known, one answer, and Canberra is correct. It names Australia, "
            "so it stands on its own.\nVERDICT: KEEP"),
           ("In which year was he awarded the prize?", "1921",
            "Reasoning: \"he\" and \"the prize\" are not said; the question needs missing "
            "context.\nVERDICT: NOT_SELF_CONTAINED")],
    "zh": [("澳大利亚的首都是哪座城市？", "堪培拉",
            "理由：常识性问题，只有一个答案，堪培拉正确，问题本身完整。\nVERDICT: KEEP"),
           ("他在哪一年获得了该奖项？", "1921",
            "理由：“他”和“该奖项”指代不明，缺少上下文。\nVERDICT: NOT_SELF_CONTAINED")],
}


def quality_prompt(question: str, answer: str, lang: str) -> list[dict[str, str]]:
    """Two worked examples (keep, and one rejection) as turns, then the question."""
    key = "zh" if lang.startswith("zh") else "en"
    template = QUALITY_ZH if key == "zh" else QUALITY_EN
    turns: list[dict[str, str]] = []
    for q, a, reply in QUALITY_EXAMPLES[key]:
        turns += [{"role": "user", "content": template.format(question=q, answer=a)},
                  {"role": "assistant", "content": reply}]
    return turns + [{"role": "user", "content": template.format(question=question,
                                                                 answer=answer)}]
