"""What tokens cost, for a run that ended before the ``claude`` CLI could report its own total.

The CLI prices every run itself (``total_cost_usd`` in its result object) and that figure is always preferred.
A run that was timed out, cancelled or killed prints no result, only the usage of each API message it streamed;
its spend is then estimated here from those token counts and the model's list prices, and recorded as partial.

Prices are US dollars per million tokens, as the CLI 2.1.332 charges them (observed: ``costUSD`` of
``modelUsage`` for each model, ``costBasis: list``). A cache read costs a tenth of an input token and a cache
write (5-minute) a quarter more, as on Anthropic's price list. A model this table does not know is priced like
the most expensive one the CLI knows (which is what the CLI itself does for an unknown model), so a budget is
never undercounted because a model is new.
"""

from __future__ import annotations

from dataclasses import dataclass

from coordinator.models import Tokens

#: Cache reads and writes, relative to the input price.
CACHE_READ_FACTOR = 0.1
CACHE_WRITE_FACTOR = 1.25


@dataclass(frozen=True)
class Price:
    """US dollars per million input and output tokens."""

    input: float
    output: float

    def cost(self, tokens: Tokens) -> float:
        """What ``tokens`` cost at this price."""
        per_token_in = self.input / 1_000_000
        return (
            tokens.input * per_token_in
            + tokens.output * self.output / 1_000_000
            + tokens.cache_read * per_token_in * CACHE_READ_FACTOR
            + tokens.cache_creation * per_token_in * CACHE_WRITE_FACTOR
        )


#: Exact model ids, as the CLI names them in its events.
MODEL_PRICES: dict[str, Price] = {
    "claude-opus-5-5": Price(4.0, 20.0),
    "claude-sonnet-5-5": Price(2.0, 10.0),
    "claude-haiku-5-5": Price(0.1, 0.5),
    "claude-opus-4-5": Price(5.0, 25.0),
    "claude-opus-4-1": Price(15.0, 75.0),
    "claude-opus-4": Price(15.0, 75.0),
    "claude-sonnet-4-5": Price(3.0, 15.0),
    "claude-sonnet-4": Price(3.0, 15.0),
    "claude-haiku-4-5": Price(1.0, 5.0),
    "claude-3-5-haiku": Price(0.8, 4.0),
    "claude-3-haiku": Price(0.25, 1.25),
}

#: A model id that is none of the above but names a family: the price of the family's model the CLI's alias
#: (``--model haiku``) stands for.
FAMILY_PRICES: dict[str, Price] = {
    "opus": MODEL_PRICES["claude-opus-5-5"],
    "sonnet": MODEL_PRICES["claude-sonnet-5-5"],
    "haiku": MODEL_PRICES["claude-haiku-5-5"],
}

#: Neither a known id nor a family: the CLI's own price for a model it does not know.
UNKNOWN_MODEL_PRICE = Price(4.0, 20.0)


def price_of(model: str | None) -> Price:
    """The list price of ``model`` (a full id such as ``claude-haiku-4-5-20251001``, or an alias)."""
    name = (model or "").strip().lower()
    # Longest id first, so "claude-opus-4-1-2025…" is not taken for "claude-opus-4".
    for known in sorted(MODEL_PRICES, key=len, reverse=True):
        if name == known or name.startswith(known + "-") or name.startswith(known + "@"):
            return MODEL_PRICES[known]
    for family, price in FAMILY_PRICES.items():
        if family in name:
            return price
    return UNKNOWN_MODEL_PRICE


def estimated_cost(model: str | None, tokens: Tokens) -> float:
    """What ``tokens`` of ``model`` cost at list prices (US dollars)."""
    return price_of(model).cost(tokens)
