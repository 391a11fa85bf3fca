"""The KV cache's name in a forward call and its output, whatever transformers' version.

transformers 5.24 renamed ``past_key_values`` to ``cache`` (forward keyword and output field);
the old name still works there but warns on every run and goes in 5.40. Older releases (the
5.0 that pyproject admits) know only the old name.
"""

from __future__ import annotations

from functools import cache


@cache
def cache_name() -> str:
    """``cache`` where transformers has the new name, else ``past_key_values``."""
    # deferred: transformers is slow to import
    from transformers.modeling_outputs import CausalLMOutputWithPast
    return "cache" if "cache" in CausalLMOutputWithPast.__dataclass_fields__ \
        else "past_key_values"


def cache_arg(kv) -> dict:
    """The keyword argument that hands the KV cache ``kv`` to a model's forward."""
    return {cache_name(): kv}


def cache_of(out):
    """The KV cache a forward call returned."""
    return getattr(out, cache_name())
