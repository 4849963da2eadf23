"""Providers: where models live, how to reach them, and which ones this person has.

A model reference is "<provider>/<model>": "openai/gpt-4o-mini",
"ollama/llama3.2", "work/gpt-4o" (a custom OpenAI-compatible server named
"work"), "local/smollm2-135m" (the embedded model). `resolve` turns one into
an Endpoint: the litellm model string, the base URL and the key.

The configured providers live in providers.json in the data dir, never with
keys (those are in the keychain, see app/providers/secrets.py). The built-in cloud
providers need no entry: "anthropic/claude-x" works once a key exists.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agents.llm.prices import FREE, Price, PriceSource
from agents.ports import Limits
from agents.run.agent import Endpoint
from app.paths import data_dir
from app.providers import secrets
from app.settings import DEFAULT_MODEL, current_model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    """A kind of provider Troupe knows how to talk to."""

    id: str
    label: str
    prefix: str
    """The litellm provider prefix its models are called with."""
    default_base: str | None = None
    needs_key: bool = True
    suggested: tuple[str, ...] = ()
    """Models offered in the model pickers before any are listed."""
    on_this_machine: bool = False
    """Served locally: free, private, no key."""
    base_required: bool = False
    limits: Limits = Limits()
    """Default limits of its rate limiter (agents/llm/limiter.py): the low end of what
    the provider allows a new account, or what a server on this machine handles well."""


LOCAL = "local"
OLLAMA_BASE = "http://127.0.0.1:11434/v1"
LM_STUDIO_BASE = "http://127.0.0.1:1234/v1"
EMBEDDED_MODEL = DEFAULT_MODEL  # "local/smollm2-135m"
"""The tiny offline model every install has: the default until another is set up."""

KINDS: dict[str, Kind] = {k.id: k for k in (
    Kind("openai", "OpenAI", "openai", suggested=("gpt-4o-mini", "gpt-4.1-mini", "gpt-4o"),
         limits=Limits(concurrent=8, rpm=500)),
    Kind("anthropic", "Anthropic", "anthropic",
         suggested=("claude-3-5-haiku-latest", "claude-sonnet-4-20250514"),
         limits=Limits(concurrent=4, rpm=50)),
    Kind("gemini", "Google Gemini", "gemini", suggested=("gemini-2.0-flash", "gemini-2.5-pro"),
         limits=Limits(concurrent=4, rpm=60)),
    Kind("mistral", "Mistral", "mistral", suggested=("mistral-small-latest", "mistral-large-latest"),
         limits=Limits(concurrent=4, rpm=60)),
    Kind("groq", "Groq", "groq", suggested=("llama-3.1-8b-instant", "llama-3.3-70b-versatile"),
         limits=Limits(concurrent=4, rpm=30)),
    Kind("openrouter", "OpenRouter", "openrouter",
         suggested=("openai/gpt-4o-mini", "anthropic/claude-3.5-sonnet"),
         limits=Limits(concurrent=8, rpm=120)),
    # Ollama and LM Studio both serve the OpenAI wire format under /v1 (and queue what
    # they cannot run at once); the embedded model runs one call at a time per file.
    Kind("ollama", "Ollama", "openai", OLLAMA_BASE, needs_key=False, on_this_machine=True,
         limits=Limits(concurrent=4)),
    Kind("lmstudio", "LM Studio", "openai", LM_STUDIO_BASE, needs_key=False, on_this_machine=True,
         limits=Limits(concurrent=4)),
    Kind("openai_compatible", "OpenAI-compatible server", "openai", needs_key=False,
         base_required=True, limits=Limits(concurrent=16)),
    Kind(LOCAL, "Embedded model (offline)", LOCAL, needs_key=False, suggested=(EMBEDDED_MODEL.split("/", 1)[1],),
         on_this_machine=True, limits=Limits(concurrent=2)),
)}  # fmt: skip

CLOUD_KINDS = ("openai", "anthropic", "gemini", "mistral", "groq", "openrouter")


class ProviderError(ValueError):
    """A provider entry that cannot be used, with the reason in words."""


@dataclass(frozen=True)
class Provider:
    """One configured provider (what providers.json holds, per entry)."""

    name: str
    """Used in model references and as the keychain entry's name."""
    kind: str
    api_base: str | None = None
    models: tuple[str, ...] = ()
    """Models known to be there (listed from the server or typed by the person)."""
    limits: Limits | None = None
    """The person's limits for its rate limiter; None: the kind's defaults."""
    prices: Mapping[str, Price] = field(default_factory=dict, hash=False)
    """The person's price per model name, for models litellm has no price for (in the file:
    dollars per million tokens in and out); it beats "free" and litellm's map. Never mutated."""

    @property
    def info(self) -> Kind:
        return KINDS[self.kind]

    @property
    def effective_limits(self) -> Limits:
        """The limits its calls keep to: the person's, else the kind's defaults."""
        return self.limits if self.limits is not None else self.info.limits

    @property
    def base(self) -> str | None:
        return self.api_base or self.info.default_base

    def model_refs(self) -> list[str]:
        return [f"{self.name}/{m}" for m in (self.models or self.info.suggested)]

    def price_of(self, model: str) -> Price | None:
        """The person's price for `model`, if they set one."""
        return self.prices.get(model)

    def with_price(self, model: str, price: Price | None) -> Provider:
        """A copy with `model`'s price set (None: cleared)."""
        prices = {m: p for m, p in self.prices.items() if m != model}
        if price is not None:
            prices[model] = replace(price, source=PriceSource.PERSON)
        return replace(self, prices=prices)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "kind": self.kind, "api_base": self.api_base,
                                "models": list(self.models)}
        if self.limits is not None:
            data["limits"] = self.limits.to_dict()
        if self.prices:
            data["prices"] = {m: _per_million(p) for m, p in self.prices.items()}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Provider:
        provider = cls(name=str(data.get("name", "")), kind=str(data.get("kind", "")),
                       api_base=data.get("api_base") or None,
                       models=_current_names(str(data.get("kind", "")), data.get("models") or ()),
                       limits=_limits(data.get("limits"), str(data.get("name", ""))),
                       prices=_prices(data.get("prices"), str(data.get("name", ""))))
        check(provider)
        return provider


def _current_names(kind: str, models: Iterable[Any]) -> tuple[str, ...]:
    """A provider's model names, the embedded one's retired name replaced (providers.json
    of an earlier version lists "gemma-3-270m" under "local")."""
    if kind != LOCAL:
        return tuple(str(m) for m in models)
    names = (current_model(f"{LOCAL}/{m}").split("/", 1)[1] for m in models)
    return tuple(dict.fromkeys(names))


def _limits(data: Any, name: str) -> Limits | None:
    """An entry's "limits" object; absent, null or unreadable: the kind's defaults."""
    if data is None:
        return None
    try:
        return Limits.from_dict(data)
    except (ValueError, TypeError) as exc:  # the provider stays usable
        log.warning("provider %r: ignoring its limits (%s); using the defaults", name, exc)
        return None


def _per_million(price: Price) -> dict[str, float]:
    return {"input": round(price.input_per_token * 1e6, 9), "output": round(price.output_per_token * 1e6, 9)}


def _prices(data: Any, name: str) -> dict[str, Price]:
    """An entry's "prices" ({model: {"input": USD per Mtok, "output": ...}}); one that cannot
    be read is left out with a warning (its calls are then "price unknown" again)."""
    prices: dict[str, Price] = {}
    for model, value in (data.items() if isinstance(data, Mapping) else ()):
        try:
            prices[str(model)] = price_per_million(value["input"], value["output"])
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("provider %r: ignoring the price of %r (%s)", name, model, exc)
    return prices


def price_per_million(input_usd: Any, output_usd: Any) -> Price:
    """The person's price from dollars per million tokens; ValueError for what is not a
    finite amount of 0 or more."""
    amounts = (float(input_usd), float(output_usd))
    if not all(0 <= a < float("inf") for a in amounts):
        raise ValueError("a price is 0 or more US dollars per million tokens")
    return Price.per_million(*amounts, source=PriceSource.PERSON)


def check(provider: Provider) -> None:
    """Raise ProviderError naming what is wrong with an entry."""
    name = provider.name
    if not name or "/" in name or name != name.strip():
        raise ProviderError(f"provider name {name!r} must be a single word without '/'")
    if provider.kind not in KINDS:
        raise ProviderError(f"provider {name!r}: unknown kind {provider.kind!r}; "
                            f"one of {', '.join(KINDS)}")
    if provider.info.base_required and not provider.api_base:
        raise ProviderError(f"provider {name!r} needs a base URL, e.g. http://127.0.0.1:8000/v1")
    if provider.api_base and not provider.api_base.startswith(("http://", "https://")):
        raise ProviderError(f"provider {name!r}: base URL must start with http:// or https://")


def split_ref(ref: str) -> tuple[str, str]:
    """"ollama/llama3.2" -> ("ollama", "llama3.2"); a bare name is OpenAI's."""
    name, sep, model = ref.partition("/")
    return (name, model) if sep and model else ("openai", ref)


# --- the configuration file ----------------------------------------------------------


def providers_path() -> Path:
    return data_dir() / "providers.json"


@dataclass(frozen=True)
class Providers:
    """Every configured provider, in the order the person sees them."""

    entries: tuple[Provider, ...] = ()
    detected: bool = field(default=False, compare=False)
    """True once first-run detection has been done (it runs once)."""

    def get(self, name: str) -> Provider | None:
        return next((p for p in self.entries if p.name == name), None)

    def names(self) -> list[str]:
        return [p.name for p in self.entries]

    def provider_for(self, ref: str) -> Provider | None:
        """The entry a reference names; built-in kinds need none."""
        return self.named(split_ref(ref)[0])

    def named(self, name: str) -> Provider | None:
        """The entry called `name`, or the built-in kind of that name."""
        if found := self.get(name):
            return found
        return Provider(name, name) if name in KINDS and name != "openai_compatible" else None

    def with_entry(self, provider: Provider) -> Providers:
        check(provider)
        kept = [p for p in self.entries if p.name != provider.name]
        at = next((i for i, p in enumerate(self.entries) if p.name == provider.name), len(kept))
        kept.insert(at, provider)
        return replace(self, entries=tuple(kept))

    def without(self, name: str) -> Providers:
        if self.get(name) is None:
            raise ProviderError(f"no provider named {name!r}; configured: {', '.join(self.names()) or 'none'}")
        return replace(self, entries=tuple(p for p in self.entries if p.name != name))

    def model_refs(self) -> list[str]:
        """Every model reference worth offering in a picker."""
        return [ref for p in self.entries for ref in p.model_refs()]

    def to_dict(self) -> dict[str, Any]:
        return {"providers": [p.to_dict() for p in self.entries], "detected": self.detected}


def load_providers(path: Path | None = None) -> Providers:
    """providers.json, or an empty list when there is none; a broken entry is skipped with a warning."""
    path = path or providers_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Providers()
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("ignoring unreadable providers file %s: %s", path, exc)
        return Providers()
    entries = []
    for item in data.get("providers", []) if isinstance(data, dict) else []:
        try:
            entries.append(Provider.from_dict(item))
        except (ProviderError, AttributeError, TypeError) as exc:
            log.warning("ignoring a provider in %s: %s", path, exc)
    return Providers(tuple(entries), detected=bool(data.get("detected")) if isinstance(data, dict) else False)


def save_providers(providers: Providers, path: Path | None = None) -> None:
    path = path or providers_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(providers.to_dict(), indent=2), encoding="utf-8")
    tmp.replace(path)  # atomic: a crash never leaves half a file


# --- resolving a reference -------------------------------------------------------------


def resolve(ref: str, providers: Providers, *, api_base: str | None = None) -> Endpoint:
    """How to reach the model `ref` names, with its provider's key read now.

    `api_base` is a run-level override (the CLI's --api-base) for references
    whose provider entry sets no base URL of its own.
    """
    provider = providers.provider_for(ref)
    if provider is None:  # a litellm provider Troupe does not manage ("bedrock/...")
        return Endpoint(ref, api_base, secrets.get_api_key(ref), provider=split_ref(ref)[0])
    _, model = split_ref(ref)
    configured = providers.get(provider.name) is not None
    # an entry's own base URL wins; the run's override beats the kind's default
    base = provider.api_base or api_base or provider.info.default_base
    key = secrets.get_key(provider.name, provider.kind) if provider.info.needs_key or configured else None
    if not key and provider.info.prefix == "openai" and provider.kind != "openai":
        key = "not-needed"  # local servers ignore it; the OpenAI wire format wants one
    # the person's price wins; a model on this machine is free; else litellm's map (None)
    price = provider.price_of(model) or (FREE if provider.info.on_this_machine else None)
    return Endpoint(f"{provider.info.prefix}/{model}", base, key, price,
                    provider=provider.name, limits=_limits_at(provider, base))


def _limits_at(provider: Provider, base: str | None) -> Limits:
    """The limits of calls to `base`: the person's, else the kind's defaults, which describe
    the kind's own endpoint; a run's --api-base elsewhere gets none set (the limiter learns
    that server's from its 429s)."""
    if provider.limits is None and base not in (provider.api_base, provider.info.default_base):
        return Limits()
    return provider.effective_limits


def endpoints(refs: Iterable[str], providers: Providers, *, api_base: str | None = None) -> dict[str, Endpoint]:
    return {ref: resolve(ref, providers, api_base=api_base) for ref in dict.fromkeys(refs) if ref}
