"""`troupe providers list|add|test|remove|price|limits` and `troupe keys set|remove`.

Keys are typed at a prompt that does not echo (getpass), or piped on stdin
for scripts; they go to the OS keychain only.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Callable
from dataclasses import replace

from agents.llm.prices import Price
from app.providers import keys, secrets
from app.providers.checks import check_connection, provider_url_error, refresh_models
from app.providers.registry import (
    KINDS,
    Provider,
    ProviderError,
    Providers,
    load_providers,
    price_per_million,
    save_providers,
)
from app.settings import load_settings

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    providers = sub.add_parser("providers", help="list, add, test or remove model providers")
    verbs = providers.add_subparsers(dest="verb", required=True, parser_class=type(providers))
    listing = verbs.add_parser("list", help="configured providers, their keys and models")
    listing.add_argument("--json", action="store_true")
    add = verbs.add_parser("add", help="add (or change) a provider")
    add.add_argument("name", help='used in model references: "NAME/model"')
    add.add_argument("--kind", choices=list(KINDS), help="default: NAME, if it is a kind")
    add.add_argument("--base", help="base URL (OpenAI-compatible servers, or a non-default port)")
    add.add_argument("--model", action="append", default=[], help="a model it serves (repeatable)")
    test = verbs.add_parser("test", help="make a tiny real call and report latency or why not")
    test.add_argument("name")
    test.add_argument("--model", help="model to call (default: the provider's first)")
    remove = verbs.add_parser("remove", help="remove a provider (and its stored key)")
    remove.add_argument("name")
    remove.add_argument("--keep-key", action="store_true")
    price = verbs.add_parser("price", help="set your price for a model whose price is unknown "
                             "(US dollars per million tokens), or clear it")
    price.add_argument("name", help="the provider")
    price.add_argument("model", help='the model, as in "NAME/model"')
    price.add_argument("--input", type=_usd, metavar="USD_PER_MTOK", help="per million prompt tokens")
    price.add_argument("--output", type=_usd, metavar="USD_PER_MTOK",
                       help="per million completion tokens")
    price.add_argument("--clear", action="store_true", help="forget the price you set")
    limits = verbs.add_parser(
        "limits", help="show or set how hard a provider is driven (calls at once, per minute)",
        description="Every call to the provider, from every run, goes through one rate limiter. "
                    "Give a value to change it, 0 to lift that limit; --defaults goes back to "
                    "the kind's. With no option, shows them.")
    limits.add_argument("name")
    limits.add_argument("--concurrent", type=_limit_value, metavar="N", help="calls in flight at once")
    limits.add_argument("--rpm", type=_limit_value, metavar="N", help="requests per minute")
    limits.add_argument("--tpm", type=_limit_value, metavar="N", help="tokens per minute")
    limits.add_argument("--defaults", action="store_true", help="back to the kind's defaults")

    keys_parser = sub.add_parser("keys", help="store or remove a provider's API key in the keychain")
    key_verbs = keys_parser.add_subparsers(dest="verb", required=True, parser_class=type(keys_parser))
    key_set = key_verbs.add_parser("set", help="prompt for a key (not echoed) and store it")
    key_set.add_argument("provider")
    key_remove = key_verbs.add_parser("remove", help="delete a stored key")
    key_remove.add_argument("provider")


def cmd_providers(args: argparse.Namespace) -> int:
    first_run()
    verbs: dict[str, Callable[[argparse.Namespace], int]] = {
        "list": _list, "add": _add, "test": _test, "remove": _remove, "price": _price,
        "limits": _limits}
    return verbs[args.verb](args)


def cmd_keys(args: argparse.Namespace) -> int:
    return _set_key(args.provider) if args.verb == "set" else _remove_key(args.provider)


def first_run() -> None:
    """Once per data dir: find keys and local servers, and say what was found."""
    from app.providers.checks import run_first_time_setup  # noqa: PLC0415 - once per install

    found = run_first_time_setup()
    if found is None:
        return
    for note in found.notes:
        print(f"troupe: found {note}", file=sys.stderr)
    # what runs will use: a model the person chose (settings.json, TROUPE_MODEL) stays
    print(f"troupe: default model: {load_settings().default_model} (change it in Settings or with --model)",
          file=sys.stderr)



# --- providers ------------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    providers = load_providers()
    rows = [_row(p) for p in providers.entries]
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print("no providers configured; the embedded model (local/smollm2-135m) is used. "
              "Add one: troupe providers add openai", file=sys.stderr)
    for p in providers.entries:
        print(f"{p.name:<14} {p.info.label:<26} {_key_words(p):<22} {p.base or '-':<32} "
              f"{len(p.models)} model(s)  limits: {_limits_words(p)}")
        for model, price in p.prices.items():
            print(f"{'':<14} price of {model}: {_per_mtok(price)} (yours)")
    return EXIT_OK


def _row(provider: Provider) -> dict[str, object]:
    return {"name": provider.name, "kind": provider.kind, "kind_label": provider.info.label,
            "base": provider.base, "models": list(provider.models), "key": _key_words(provider),
            "prices": provider.to_dict().get("prices", {}),
            "limits": provider.effective_limits.to_dict(), "default_limits": provider.limits is None}


def _limits_words(provider: Provider) -> str:
    words = provider.effective_limits.describe()
    return f"{words} (default)" if provider.limits is None else words


def _key_words(provider: Provider) -> str:
    if not provider.info.needs_key and provider.kind != "openai_compatible":
        return "no key needed"
    status = keys.key_status(provider.name, provider.kind)
    return {keys.KEYCHAIN: "key in keychain", keys.SESSION: "key for this session",
            keys.ENVIRONMENT: f"key from {keys.env_var(provider.kind)}",
            keys.NONE: "no key" if provider.info.needs_key else "no key (optional)"}[status]


def _add(args: argparse.Namespace) -> int:
    kind = args.kind or args.name
    if kind not in KINDS:
        return _bad(f"{args.name!r} is not a kind of provider: give --kind, one of {', '.join(KINDS)}")
    provider = Provider(args.name, kind, api_base=args.base, models=tuple(args.model))
    providers = load_providers()
    try:
        providers = providers.with_entry(provider)
    except ProviderError as exc:
        return _bad(str(exc))
    if not provider.models and provider.info.prefix == "openai" and provider.base and kind != "openai":
        provider = _with_listed_models(provider)
        providers = providers.with_entry(provider)
    save_providers(providers)
    print(f"added {provider.name} ({provider.info.label}); models: "
          f"{', '.join(provider.model_refs()) or 'none listed'}")
    if provider.info.needs_key and keys.key_status(provider.name, kind) == keys.NONE:
        print(f"next: troupe keys set {provider.name}", file=sys.stderr)
    return EXIT_OK


def _with_listed_models(provider: Provider) -> Provider:
    try:
        return refresh_models(provider)
    except (OSError, ValueError) as exc:
        print(f"note: could not list models at {provider.base}: {provider_url_error(exc)}", file=sys.stderr)
        return provider


def _test(args: argparse.Namespace) -> int:
    providers = load_providers()
    provider = providers.named(args.name)
    if provider is None:
        return _bad(f"no provider named {args.name!r}; see `troupe providers list`")
    model = args.model or next(iter(provider.models or provider.info.suggested), None)
    if model is None:
        return _bad(f"{args.name} lists no models; give one with --model")
    report = asyncio.run(_check(f"{provider.name}/{model}", providers))
    print(report.message, file=sys.stdout if report.ok else sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILED


async def _check(ref: str, providers: Providers):  # type: ignore[no-untyped-def]
    from agents.llm.client import LiteLLMClient  # noqa: PLC0415 - litellm takes seconds to import

    async with LiteLLMClient() as llm:
        return await check_connection(ref, providers, llm)


def _remove(args: argparse.Namespace) -> int:
    try:
        providers = load_providers().without(args.name)
    except ProviderError as exc:
        return _bad(str(exc))
    save_providers(providers)
    print(f"removed {args.name}")
    if not args.keep_key:
        _delete_quietly(args.name)
    return EXIT_OK


def _usd(text: str) -> float:
    try:
        amount = float(text.strip().lstrip("$"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount in US dollars") from None
    if not 0 <= amount < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: give 0 or more US dollars per million tokens")
    return amount


def _per_mtok(price: Price) -> str:
    return (f"${price.input_per_token * 1e6:g} in, ${price.output_per_token * 1e6:g} out "
            "per million tokens")


def _price(args: argparse.Namespace) -> int:
    """Set or clear the person's price for one model of a provider (a built-in kind gets an entry)."""
    if args.clear == (args.input is not None or args.output is not None):
        return _bad("give --input and --output (US dollars per million tokens), or --clear")
    if not args.clear and (args.input is None or args.output is None):
        return _bad("give both --input and --output (US dollars per million tokens)")
    providers = load_providers()
    provider = providers.named(args.name)
    if provider is None:
        return _bad(f"no provider named {args.name!r}; see `troupe providers list`")
    if args.clear and provider.price_of(args.model) is None:
        print(f"no price of yours was set for {args.name}/{args.model}")
        return EXIT_OK
    price = None if args.clear else price_per_million(args.input, args.output)
    save_providers(providers.with_entry(provider.with_price(args.model, price)))
    if price is None:
        print(f"cleared your price for {args.name}/{args.model}")
    else:
        print(f"{args.name}/{args.model} now costs {_per_mtok(price)}")
    return EXIT_OK


def _limit_value(text: str) -> int:
    """A limit typed on the command line: a whole number, 0 for none."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (no limit) or more, not {value}")
    return value


def _limits(args: argparse.Namespace) -> int:
    """Show or change a provider's limits (a built-in kind gets an entry)."""
    providers = load_providers()
    provider = providers.named(args.name)
    if provider is None:
        return _bad(f"no provider named {args.name!r}; see `troupe providers list`")
    changes = {k: getattr(args, k) for k in ("concurrent", "rpm", "tpm") if getattr(args, k) is not None}
    if changes or args.defaults:
        start = provider.info.limits if args.defaults else provider.effective_limits
        limits = replace(start, **{k: v or None for k, v in changes.items()})
        provider = replace(provider, limits=limits if changes else None)
        save_providers(providers.with_entry(provider))
    print(f"{provider.name}: {_limits_words(provider)}")
    return EXIT_OK


# --- keys ---------------------------------------------------------------------------------------


def _set_key(name: str) -> int:
    if (problem := keys.keychain_problem()) is not None:
        provider = load_providers().named(name)
        variable = keys.env_var(provider.kind if provider else name)
        return _bad(f"{problem} Set the key in the {variable} environment variable instead, "
                    "or enter it in the desktop app, which can keep it for one session.")
    key = _read_key(name)
    if not key:
        return _bad("no key given; nothing stored")
    try:
        secrets.set_api_key(name, key)
    except Exception as exc:  # noqa: BLE001 - any keychain failure is reported, never a traceback
        return _bad(f"the keychain refused the key: {exc}")
    print(f"stored the {name} key in the system keychain")
    return EXIT_OK


def _read_key(name: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(f"{name} API key (not shown): ").strip()
    return sys.stdin.readline().strip()  # piped in by a script


def _remove_key(name: str) -> int:
    from keyring.errors import KeyringError  # noqa: PLC0415

    try:
        removed = keys.delete_api_key(name)
    except KeyringError as exc:
        return _bad(f"cannot remove the key: {exc}")
    print(f"removed the {name} key" if removed else f"no {name} key was stored")
    return EXIT_OK


def _delete_quietly(name: str) -> None:
    from keyring.errors import KeyringError  # noqa: PLC0415

    try:
        if keys.delete_api_key(name):
            print(f"removed the {name} key from the keychain")
    except KeyringError:
        pass  # no keychain: nothing was stored


def _bad(message: str) -> int:
    print(f"troupe: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT
