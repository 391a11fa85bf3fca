"""Settings of ``veritune build`` (YAML via ``--config``, ``--set key=value`` on top).

The defaults are the FactualBench paper's: views >= 0.5M, descriptions of 100-800
characters, up to 3 questions per description with 3 wrong answers each, domains with fewer
than 500 questions folded into ``others``, about 150 test questions per domain.
"""

from __future__ import annotations

from typing import Literal

from veritune.config import ModelConfig, SamplingParams
from veritune.config.checks import at_least, matches, positive, probability, section, within
from veritune.config.checks import opt
from veritune.errors import InputError

# FactualBench's domains as listed in its README (github.com/ZSYNOTZSH/FactualBench); the
# paper counts 20 besides ``others``: the three not listed here could not be read offline.
# Any list works: set ``domains`` in the config.
FACTUALBENCH_DOMAINS = [
    "film & entertainment", "education & training",
    "physics, chemistry, mathematics & biology", "history & traditional culture", "biography",
    "politics & law", "economics & management", "computer science", "medical",
    "sociology & humanity", "agriculture, forestry & fisheries", "astronomy & geography",
    "sports & tourism", "digital & automotive", "industrial engineering", "military & war",
]
OTHERS = "others"


@section()
class BuildConfig:
    name: str = opt("build", "the dataset's name, written into each Question's source")
    seed: int = opt(0, "seed of the sampled retries and the split", check=within(0, 2**32 - 1))
    model: ModelConfig = opt(help="the model that writes, sorts and checks the questions",
                             factory=ModelConfig)
    # steps 1-2: entries and descriptions
    min_views: int = opt(500_000, "entries with a views count below this are dropped",
                         check=at_least(0))
    min_chars: int = opt(100, "descriptions shorter than this are dropped", check=at_least(0))
    max_chars: int = opt(800, "longer ones are cut at the last sentence end before this")
    lang: Literal["auto", "en", "zh"] = opt("auto", "en, zh, or auto (by the share of CJK "
                                           "characters)")
    # step 3: question generation
    questions_per_entry: int = opt(3, "questions asked of each description",
                                   check=within(1, 10))
    retries: int = opt(2, "extra attempts for a malformed output (sampled at "
                       "retry_temperature)", check=at_least(0))
    retry_temperature: float = opt(0.7, "temperature of the retries", check=at_least(0))
    max_new_tokens: int = opt(256, "tokens of a generation", check=positive)
    batch_size: int = opt(8, "prompts a batch", check=positive)
    # step 4: domains
    domains: list[str] = opt(help="the domains questions are sorted into (besides others)",
                             factory=lambda: list(FACTUALBENCH_DOMAINS))
    classifier: str = opt("llm", "llm, or module:function taking (question, answer, title)",
                          check=matches(r"llm|[\w.]+:\w+", "llm or module:function"))
    min_domain_count: int = opt(500, "smaller domains fold into others", check=at_least(0))
    # step 5: quality
    subject_answers: Literal["drop", "keep"] = opt(
        "drop", "drop or keep a question whose answer is a subject its description defines "
        "(\"X is a ...\"): most ask for X by its category, which fits others too")
    roundtrip_check: bool = opt(True, "ask each question back with its description and drop "
                                "it unless the answer matches the standard one (lexical "
                                "judge)")
    roundtrip_max_new_tokens: int = opt(32, "tokens of a round-trip answer", check=positive)
    quality_check: bool = opt(True, "the LLM check (the rule checks always run)")
    quality_on_unparsed: Literal["drop", "keep"] = opt(
        "drop", "drop or keep a question when the checker's verdict can't be read")
    quality_max_new_tokens: int = opt(256, "tokens of the checker's reasoning and verdict",
                                      check=positive)
    # step 6: split
    test_per_domain: int = opt(150, "about this many test questions a domain",
                               check=at_least(0))
    test_max_fraction: float = opt(0.5, "never more than this share of a domain goes to test",
                                   check=probability)

    def attempt_params(self, attempt: int, max_new_tokens: int) -> SamplingParams:
        """Greedy first; a retry of a malformed output sampled at ``retry_temperature``."""
        if attempt == 0:
            return SamplingParams(n=1, temperature=0.0, max_new_tokens=max_new_tokens,
                                  seed=self.seed)
        return SamplingParams(n=1, temperature=self.retry_temperature, top_p=0.95,
                              max_new_tokens=max_new_tokens, seed=self.seed)

    def __post_init__(self):
        if self.min_chars < 0 or self.max_chars < self.min_chars:
            raise InputError("need 0 <= min_chars <= max_chars", field="max_chars")
        if self.lang not in ("auto", "en", "zh"):
            raise InputError(f"must be auto, en or zh, got {self.lang!r}", field="lang")
        if not 1 <= self.questions_per_entry <= 10:
            raise InputError("must be between 1 and 10", field="questions_per_entry")
        if self.quality_on_unparsed not in ("drop", "keep"):
            raise InputError("must be drop or keep", field="quality_on_unparsed")
        if OTHERS in self.domains:
            self.domains = [d for d in self.domains if d != OTHERS]
        if not self.domains:
            raise InputError("needs at least one domain besides others", field="domains")
        if not 0.0 <= self.test_max_fraction <= 1.0:
            raise InputError("must be between 0 and 1", field="test_max_fraction")
