"""Save screenshots of the Settings dialog to docs/screenshots/.

    .venv/bin/python -m scripts.settings_screenshots

Real widgets, offscreen, in a throwaway data directory, with an in-memory
keychain (and then none at all); "Ollama" is the local scripted server, so
Test connection makes a real call without the network.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ["TROUPE_HOME"] = tempfile.mkdtemp(prefix="troupe-shots-")
for _var in ("OPENAI_API_KEY", "GROQ_API_KEY", "MISTRAL_API_KEY", "GEMINI_API_KEY", "OPENROUTER_API_KEY"):
    os.environ.pop(_var, None)
os.environ["ANTHROPIC_API_KEY"] = "sk-ant-demo"

import qasync  # noqa: E402
from keyring.backends import fail  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from agents.plan.roster import load_roster  # noqa: E402
from app.providers.registry import Provider, Providers  # noqa: E402
from app.providers.secrets import SERVICE  # noqa: E402
from app.settings import Settings  # noqa: E402
from tests.support.keyrings import MemoryKeyring, use_keyring  # noqa: E402
from tests.support.scripted_server import Reply, ScriptedServer  # noqa: E402
from ui.settings import SettingsDialog  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def providers(server: ScriptedServer) -> Providers:
    return Providers((
        Provider("openai", "openai"),
        Provider("anthropic", "anthropic"),
        Provider("ollama", "ollama", api_base=server.base_url, models=tuple(server.models)),
        Provider("lab", "openai_compatible", api_base="http://192.168.1.20:8000/v1",
                 models=("qwen2.5-32b-instruct",)),
        Provider("local", "local", models=("smollm2-135m",)),
    ), detected=True)


def open_dialog(server: ScriptedServer) -> SettingsDialog:
    settings = Settings(default_model="ollama/llama3.2", planner_model="openai/gpt-4o",
                        fallback_models=("openai/gpt-4o-mini", "local/smollm2-135m"))
    dialog = SettingsDialog(settings, load_roster(), providers=providers(server))
    dialog.show()
    return dialog


async def settle(app: QApplication, seconds: float = 0.2) -> None:
    await asyncio.sleep(seconds)
    app.processEvents()


def shot(dialog: SettingsDialog, name: str) -> None:
    path = OUT / f"{name}.png"
    dialog.grab().save(str(path))
    print(f"saved {path}")


async def with_keychain(app: QApplication, server: ScriptedServer) -> None:
    dialog = open_dialog(server)
    await settle(app)
    shot(dialog, "settings_models")
    tab = dialog.providers_tab
    dialog.tabs.setCurrentIndex(1)
    tab.select("ollama")
    tab.panels["ollama"].test_button.click()
    while tab.panels["ollama"].last_report is None:  # noqa: ASYNC110 - polling a widget
        await asyncio.sleep(0.02)
    tab.select("openai")
    tab.panels["openai"].test_model.setCurrentText("gpt-4o-mini")
    await settle(app)
    shot(dialog, "settings_providers")
    tab.select("ollama")
    await settle(app)
    shot(dialog, "settings_providers_tested")
    local = Path(os.environ["TROUPE_HOME"]) / "Qwen2.5-0.5B-Instruct-Q4_K_M.gguf"
    local.write_bytes(b"GGUF" + bytes(60))
    tab.select("local")
    tab.panels["local"].local_box.add_file(str(local))
    await settle(app)
    shot(dialog, "settings_providers_local")
    tab.add_button.click()
    editor = tab.editor
    editor.kind.setCurrentIndex(editor.kind.findData("openai_compatible"))
    editor.name.setText("work")
    editor.api_base.setText("http://gpu-box.local:8000/v1")
    await settle(app)
    editor.grab().save(str(OUT / "settings_provider_editor.png"))
    editor.reject()
    dialog.tabs.setCurrentIndex(2)
    dialog.agents_tab.select("researcher")
    dialog.agents_tab.model.setCurrentText("anthropic/claude-3-5-haiku-latest")
    dialog.agents_tab.fallbacks.set_models(["openai/gpt-4o-mini", "ollama/llama3.2"])
    await settle(app)
    shot(dialog, "settings_agents")
    dialog.reject()


async def without_keychain(app: QApplication, server: ScriptedServer) -> None:
    dialog = open_dialog(server)
    dialog.tabs.setCurrentIndex(1)
    dialog.providers_tab.select("openai")
    dialog.providers_tab.panels["openai"].key.edit.setText("sk-demo-key")
    await settle(app)
    shot(dialog, "settings_providers_no_keychain")
    dialog.reject()


async def tour(app: QApplication, server: ScriptedServer) -> None:
    keychain = MemoryKeyring()
    keychain.set_password(SERVICE, "openai", "sk-demo")
    with use_keyring(keychain):
        await with_keychain(app, server)
    with use_keyring(fail.Keyring()):
        await without_keychain(app, server)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with ScriptedServer(models=("llama3.2", "qwen2.5:7b", "mistral-nemo")) as server:
        server.default = Reply("OK", latency=0.35)
        loop.run_until_complete(asyncio.wait_for(tour(app, server), 60))
    loop.close()  # joins the worker threads of asyncio.to_thread
    return 0


if __name__ == "__main__":
    sys.exit(main())
