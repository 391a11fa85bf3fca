"""One multiple-choice question, for every task that scores options by log-likelihood.

    MCItem.from_letter("2+2?", ["3", "4"], "B")                       # mmlu, cmmlu
    MCItem.from_answers("2+2?", "4", ["4", "Four"], ["5", "22"])      # truthfulqa_mc

``options`` are every option in order; ``correct_indices`` say which are right, the first of
them the best one (MMLU's gold letter, TruthfulQA's "Best Answer").
"""

from __future__ import annotations

from dataclasses import dataclass, field

LETTERS = "ABCDEFGHIJ"
LETTER_INSTRUCTION = "Answer with the letter of the correct option."


@dataclass
class MCItem:
    question: str
    options: list[str]
    correct_indices: list[int] = field(default_factory=lambda: [0])
    subject: str = ""  # MMLU subject, TruthfulQA category
    instruction: str = ""  # the lettered prompt's last line (mmlu, cmmlu)

    @classmethod
    def from_letter(cls, question: str, options: list[str], gold: str, subject: str = "",
                    instruction: str = LETTER_INSTRUCTION) -> "MCItem":
        return cls(question, list(options), [LETTERS.index(gold)], subject, instruction)

    @classmethod
    def from_answers(cls, question: str, best: str, correct: list[str], incorrect: list[str],
                     category: str = "") -> "MCItem":
        correct = list(dict.fromkeys([best, *correct]))
        return cls(question, correct + list(incorrect), list(range(len(correct))), category)

    @property
    def best(self) -> str:
        return self.options[self.correct_indices[0]]

    @property
    def correct(self) -> list[str]:
        return [self.options[i] for i in self.correct_indices]

    @property
    def incorrect(self) -> list[str]:
        right = set(self.correct_indices)
        return [o for i, o in enumerate(self.options) if i not in right]

    @property
    def category(self) -> str:
        return self.subject

    @property
    def letters(self) -> str:
        return LETTERS[:len(self.options)]

    @property
    def gold(self) -> str:
        return LETTERS[self.correct_indices[0]]

    def prompt(self) -> str:
        lines = "\n".join(f"{letter}. {o}" for letter, o in zip(self.letters, self.options))
        return f"{self.question}\n\n{lines}\n\n{self.instruction}"
