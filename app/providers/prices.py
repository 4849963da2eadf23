"""What a model reference's tokens cost, before any call: the price the estimate uses.

The order is the one calls are priced by (`registry.resolve` puts the first two
on the Endpoint, agents/llm/client.py falls back to litellm's map): the person's
price for that provider and model, then "free" for a model on this machine,
then litellm's cost map for the litellm model string. None: price unknown.
"""

from __future__ import annotations

from agents.llm.prices import FREE, Price, map_price
from app.providers.registry import Providers, split_ref


def price_for(ref: str, providers: Providers) -> Price | None:
    """The price of `ref` ("provider/model"), None when nobody knows it.

    Reads no key. The cost map needs litellm (about 3 s to import the first time):
    call it off the UI thread or once litellm is loaded.
    """
    provider = providers.provider_for(ref)
    if provider is None:  # a litellm provider Troupe does not manage ("bedrock/...")
        return map_price(ref)
    _, model = split_ref(ref)
    if (price := provider.price_of(model)) is not None:
        return price
    if provider.info.on_this_machine:
        return FREE
    return map_price(f"{provider.info.prefix}/{model}")


__all__ = ["price_for"]
