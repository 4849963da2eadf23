"""Dollars in words, so that calls nobody could price never read as "$0.0000".

Shared by the CLI (`troupe runs`, `troupe show`, `troupe usage`), the exports
and the window. No imports: the window uses it before storage is open.
"""

from __future__ import annotations


def dollars(cost: float) -> str:
    """$0.0123 under a dollar, $12.34 from a dollar up."""
    return f"${cost:,.4f}" if cost < 1 else f"${cost:,.2f}"


def cost_text(cost: float, unpriced_calls: int = 0) -> str:
    """`cost` as dollars; with calls whose price was unknown, "price unknown" instead of
    $0, or the dollars known so far and "+ price unknown"."""
    if unpriced_calls <= 0:
        return dollars(cost)
    calls = f"{unpriced_calls} call{'s' if unpriced_calls != 1 else ''}"
    if cost == 0:
        return f"price unknown ({calls})"
    return f"{dollars(cost)} + price unknown ({calls})"


__all__ = ["cost_text", "dollars"]
