"""What tokens cost, for a run that ended before the ``claude`` CLI could report its own total.

The CLI prices every run itself (``total_cost_usd`` in its result object) and that figure is always preferred.
A run that was timed out, cancelled or killed prints no result, only the usage of each API message it streamed;
its spend is then estimated from those token counts with the one price table of the product
(:mod:`coordinator.core.prices`, checked row by row against the CLI's own ``costUSD``), and recorded as partial.

Unlike the cost report, which never guesses, a budget must never be undercounted: a model id the table does not
know is priced like its family's current model (``opus``, ``sonnet``, ``haiku``), and a model of no known family
like the most expensive model the CLI's aliases stand for (which is what the CLI does for a model it does not know).
"""

from __future__ import annotations

from coordinator.core.prices import ModelPrice, default_prices
from coordinator.models import Tokens

_TABLE = default_prices()
_FAMILIES = ("opus", "sonnet", "haiku")


def _alias(name: str) -> ModelPrice:
    found = _TABLE.lookup(name)
    assert found is not None, f"the price table has no {name}"
    return found[1]


#: Neither a known model nor of a known family: priced as the CLI prices a model it does not know.
UNKNOWN_MODEL_PRICE = _alias("opus")


def price_of(model: str | None) -> ModelPrice:
    """The list price of ``model`` (a full id such as ``claude-haiku-4-5-20251001``, or an alias)."""
    found = _TABLE.lookup(model)
    if found is not None:
        return found[1]
    name = (model or "").lower()
    family = next((f for f in _FAMILIES if f in name), None)
    return _alias(family) if family is not None else UNKNOWN_MODEL_PRICE


def estimated_cost(model: str | None, tokens: Tokens) -> float:
    """What ``tokens`` of ``model`` cost at list prices (US dollars)."""
    return price_of(model).cost(tokens)
