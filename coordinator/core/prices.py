"""What the models cost per token: the table ``metrics`` prices recorded tokens with, dated, sourced, overridable.

Prices change (and new models appear) faster than releases of coordinator, so the table says when it was taken
and from where, and a team passes its own (``coordinator metrics --prices FILE.json``) when it is out of date.
A model the table does not know is never guessed from its family: its tokens stay unpriced and the report says so.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from coordinator.models import Tokens

#: When the built-in table was taken, and from where.
PRICES_AS_OF = "2026-11-29"
PRICES_SOURCE = (
    "https://platform.claude.com/docs/en/about-claude/pricing (standard API list prices, 5-minute cache writes), "
    "every row and alias checked against the costUSD of the claude CLI 2.1.332"
)


class ModelPrice(BaseModel):
    """USD per million tokens of one model."""

    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0, description="Base input tokens.")
    output: float = Field(ge=0, description="Output tokens.")
    cache_write: float = Field(ge=0, description="Cache writes (5-minute cache).")
    cache_read: float = Field(ge=0, description="Cache hits and refreshes.")

    def cost(self, tokens: Tokens) -> float:
        """What these tokens cost at this price, in USD."""
        return (
            tokens.input * self.input
            + tokens.output * self.output
            + tokens.cache_creation * self.cache_write
            + tokens.cache_read * self.cache_read
        ) / 1_000_000


def _price(input_: float, output: float, cache_write: float, cache_read: float) -> ModelPrice:
    return ModelPrice(input=input_, output=output, cache_write=cache_write, cache_read=cache_read)


# Checked on 2026-11-29 by running the claude CLI 2.1.332 against a local fake of the API that reported 1M input,
# 2M cache-write and 4M cache-read tokens for each model: its costUSD matched every row (tests/test_prices_cli.py
# repeats the check for the aliases whenever the real CLI is installed).
_BUILT_IN_MODELS: dict[str, ModelPrice] = {
    "claude-fable-5-2": _price(8, 40, 10, 0.20),
    "claude-mythos-5-2": _price(8, 40, 10, 0.20),
    "claude-fable-5-1": _price(10, 50, 12.5, 0.25),
    "claude-mythos-5-1": _price(10, 50, 12.5, 0.25),
    "claude-fable-5": _price(10, 50, 12.5, 1.0),
    "claude-mythos-5": _price(10, 50, 12.5, 1.0),
    "claude-opus-5-5": _price(4, 20, 5, 0.20),
    "claude-opus-5": _price(5, 25, 6.25, 0.50),
    "claude-opus-4-8": _price(5, 25, 6.25, 0.50),
    "claude-opus-4-7": _price(5, 25, 6.25, 0.50),
    "claude-opus-4-6": _price(5, 25, 6.25, 0.50),
    "claude-opus-4-5": _price(5, 25, 6.25, 0.50),
    "claude-opus-4-1": _price(15, 75, 18.75, 1.50),
    "claude-opus-4": _price(15, 75, 18.75, 1.50),
    "claude-sonnet-5-5": _price(2, 10, 2.5, 0.10),
    "claude-sonnet-5": _price(2, 10, 2.5, 0.20),
    "claude-sonnet-4-6": _price(3, 15, 3.75, 0.30),
    "claude-sonnet-4-5": _price(3, 15, 3.75, 0.30),
    "claude-sonnet-4": _price(3, 15, 3.75, 0.30),
    "claude-3-7-sonnet": _price(3, 15, 3.75, 0.30),
    # Haiku 5.5 costs five times more on a request whose prompt (input and cache tokens) exceeds 100,000 tokens; an
    # attempt records only its total tokens, so they are priced at the lower band (low for very long prompts).
    "claude-haiku-5-5": _price(0.10, 0.50, 0.125, 0.01),
    "claude-haiku-4-5": _price(1, 5, 1.25, 0.10),
    "claude-3-5-haiku": _price(0.80, 4, 1, 0.08),
}

#: The aliases a mode may name (``model: opus``), as the CLI resolves them.
_BUILT_IN_ALIASES: dict[str, str] = {
    "opus": "claude-opus-5-5",
    "sonnet": "claude-sonnet-5-5",
    "haiku": "claude-haiku-5-5",
}

# What may follow a model's name in an id of the same model: a release date, a cloud's version suffix, a context
# variant. A minor version does not ("claude-opus-4-9" is not "claude-opus-4": it stays unpriced).
_SAME_MODEL_SUFFIX = re.compile(r"(?:-\d{8}|@|\[|:|-v\d)")


class PriceTable(BaseModel):
    """Prices by model id, the aliases modes use, and where the figures come from."""

    model_config = ConfigDict(extra="forbid")

    as_of: str = Field(default=PRICES_AS_OF, description="When the prices were taken.")
    source: str = Field(default=PRICES_SOURCE, description="Where they were taken from.")
    models: dict[str, ModelPrice] = Field(default_factory=lambda: dict(_BUILT_IN_MODELS))
    aliases: dict[str, str] = Field(default_factory=lambda: dict(_BUILT_IN_ALIASES))

    def resolve(self, model: str) -> str:
        """The model id an alias stands for (``opus`` -> ``claude-opus-5-5``); other names as they are."""
        return self.aliases.get(model.strip().lower(), model.strip())

    def lookup(self, model: str | None) -> tuple[str, ModelPrice] | None:
        """The table's entry for a model id or alias (longest matching name), or None when it has no price."""
        if not model:
            return None
        name = self.resolve(model).lower()
        if "claude-" in name:  # cloud ids: us.anthropic.claude-opus-4-1-20250805-v1:0
            name = name[name.index("claude-") :]
        best: str | None = None
        for key in self.models:
            same = name == key or (name.startswith(key) and _SAME_MODEL_SUFFIX.match(name, len(key)))
            if same and (best is None or len(key) > len(best)):
                best = key
        return (best, self.models[best]) if best is not None else None

    def merged(self, override: PriceOverride) -> PriceTable:
        """This table with a team's own prices on top (their models and aliases win)."""
        return PriceTable(
            as_of=override.as_of or self.as_of,
            source=override.source or self.source,
            models={**self.models, **{k.lower(): v for k, v in override.models.items()}},
            aliases={**self.aliases, **{k.lower(): v for k, v in override.aliases.items()}},
        )


class PriceOverride(BaseModel):
    """A team's price file (``--prices FILE.json``): models and aliases to add or replace, and their source."""

    model_config = ConfigDict(extra="forbid")

    as_of: str | None = None
    source: str | None = None
    models: dict[str, ModelPrice] = Field(default_factory=dict)
    aliases: dict[str, str] = Field(default_factory=dict)


def default_prices() -> PriceTable:
    """The built-in table."""
    return PriceTable()
