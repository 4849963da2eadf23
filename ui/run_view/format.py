"""Short human forms of numbers the run view shows."""

from __future__ import annotations


def tokens(n: int) -> str:
    """12345 -> "12,345"; 1234567 -> "1.23M"."""
    if n >= 10_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 1_000_000:
        return f"{n / 1_000_000:.2f}M"
    return f"{n:,}"


def cost(dollars: float, known: bool = True) -> str:
    """$0.0123 under a dollar, $12.34 above; "≥" when some prices were unknown, and
    "price unknown" when none was known (never a silent $0.0000)."""
    if not known and dollars == 0:
        return "price unknown"
    text = f"${dollars:,.4f}" if dollars < 1 else f"${dollars:,.2f}"
    return text if known else f"≥ {text}"


def waiting(provider: str) -> str:
    """A task's status while its model calls only wait for their provider's rate limiter."""
    return f"Waiting for {provider} rate limit"


def took(seconds: float, waited: float) -> str:
    """How long a task worked, and how long it waited for rate limits besides (not counted)."""
    text = duration(seconds)
    return f"{text} (+{duration(waited)} waiting for rate limits)" if waited >= 1 else text


def duration(seconds: float) -> str:
    """65 -> "1:05"; 3725 -> "1:02:05"; negatives count as 0."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def offset(seconds: float) -> str:
    """An axis label: "0s", "45s", "2m", "2m30s", "1h05m"."""
    total = max(0.0, seconds)
    if total < 10 and total != int(total):
        return f"{total:.1f}s"
    whole = int(round(total))
    if whole < 60:
        return f"{whole}s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m" if secs == 0 else f"{minutes}m{secs:02d}s"
