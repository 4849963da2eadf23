"""What a model's tokens cost, as a typed value the client and the estimate share.

A call is priced from, in order: the price the person set for that provider
and model (`Endpoint.price`), "free" for a model on this machine (Ollama, LM
Studio, the embedded model), then litellm's cost map. A model none of these
knows is "price unknown": its calls count $0 with `cost_known=False`, and the
estimate names the tasks it could not price.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from agents.ports import Usage

__all__ = ["FREE", "Price", "PriceSource", "map_price"]


class PriceSource(enum.Enum):
    """Where a price comes from."""

    PERSON = "person"
    """Set by the person for a provider's model (Settings, `troupe providers price`)."""
    FREE = "free"
    """A model served on this machine."""
    MAP = "map"
    """litellm's cost map."""


@dataclass(frozen=True)
class Price:
    """US dollars per token, in and out."""

    input_per_token: float
    """Dollars per prompt token."""
    output_per_token: float
    """Dollars per completion token."""
    source: PriceSource = PriceSource.MAP
    """Where the numbers come from."""

    @property
    def free(self) -> bool:
        return self.input_per_token == 0 and self.output_per_token == 0

    def cost(self, usage: Usage) -> float:
        return usage.prompt_tokens * self.input_per_token + usage.completion_tokens * self.output_per_token

    @classmethod
    def per_million(cls, input_usd: float, output_usd: float, source: PriceSource = PriceSource.PERSON) -> Price:
        """A price as providers quote it: dollars per million tokens."""
        return cls(input_usd / 1e6, output_usd / 1e6, source)


FREE = Price(0.0, 0.0, PriceSource.FREE)
"""A model on this machine."""


def map_price(model: str) -> Price | None:
    """litellm's price for a litellm model string ("openai/gpt-4o-mini"), None if unknown.

    Imports litellm (about 3 s the first time): call it off the UI thread or once litellm is in.
    """
    from agents.llm import litellm_info  # noqa: PLC0415 - litellm loads lazily

    provider, _, name = model.partition("/")
    entry = litellm_info.model_entry(name, provider) if name else litellm_info.model_entry(model, "")
    if not entry:
        return None
    given_in, given_out = entry.get("input_cost_per_token"), entry.get("output_cost_per_token")
    if given_in is None and given_out is None:
        return None
    return Price(float(given_in or 0.0), float(given_out or 0.0), PriceSource.MAP)
