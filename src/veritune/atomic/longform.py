"""Long-form prompts for entities ("Tell me about X.")."""

from __future__ import annotations

TEMPLATES = {"country": "Tell me about {name}.", "state": "Tell me about the US state of {name}.",
             "element": "Tell me about the chemical element {name}."}


def longform_prompt(entity: str, name: str, templates: dict[str, str] | None = None) -> str:
    """The prompt for one entity, by its kind (``country:FR`` -> "Tell me about France.")."""
    kind = entity.split(":", 1)[0]
    return (templates or TEMPLATES).get(kind, "Tell me about {name}.").format(name=name)
