"""Settings › Models: default, planner and fallback models; limits per run."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QLineEdit, QPushButton, QSpinBox, QWidget

from app.providers import keys
from app.providers.registry import LOCAL, Providers, split_ref
from app.settings import Settings
from ui.settings.catalog_box import CatalogDialog
from ui.settings.jobs import Jobs
from ui.settings.model_list import ModelList
from ui.settings.widgets import (
    Problem,
    above,
    hint_label,
    left,
    model_box,
    model_problem,
    provider_title,
    row,
    section,
    set_choices,
    spacer,
    spin_box,
)

CATALOG_HINT = ("Qwen, Llama, Gemma, Phi and SmolLM2 models from Hugging Face that run offline "
                "on this computer, with the memory each needs.")


class ModelsTab(QWidget):
    """Default, planner and fallback models, endpoint, concurrency, timeouts, retries, budget."""

    modelDownloaded = Signal(str)  # noqa: N815 - Qt signal naming
    """A model from the catalog is ready: its model string ("local/qwen3-1.7b")."""

    def __init__(self, settings: Settings, providers: Providers, parent: QWidget | None = None,
                 *, jobs: Jobs | None = None) -> None:
        super().__init__(parent)
        self.providers = providers
        self.jobs = jobs or Jobs(self)
        self.catalog_button = QPushButton("Model catalog…")
        self.catalog_button.setToolTip("Download an instruction-tuned model to run offline.")
        self.catalog_hint = hint_label(CATALOG_HINT)
        self.catalog: CatalogDialog | None = None
        """The catalog window, once opened (it stays, hidden, while Settings is open)."""
        self._downloaded: list[str] = []
        """Models downloaded from the catalog while Settings is open."""
        refs = providers.model_refs()
        self.default_model = model_box(refs, settings.default_model, "provider/model")
        self.planner_model = model_box(refs, settings.planner_model, "Same as the default model")
        self.fallbacks = ModelList(refs)
        self.fallbacks.set_models(settings.fallback_models)
        self.api_base = QLineEdit(settings.api_base or "")
        self.api_base.setPlaceholderText("Each provider's own, or e.g. http://localhost:4000/v1")
        self.api_base.setClearButtonEnabled(True)
        self.max_parallel = spin_box(QSpinBox(), 1, 1000, settings.max_parallel)
        self.call_timeout = spin_box(QDoubleSpinBox(decimals=0, suffix=" s"), 1, 3600, settings.call_timeout)
        self.idle_timeout = spin_box(QDoubleSpinBox(decimals=0, suffix=" s"), 0, 3600, settings.idle_timeout)
        self.idle_timeout.setSpecialValueText("No limit")
        self.max_attempts = spin_box(QSpinBox(), 1, 20, settings.max_attempts)
        self.budget = QDoubleSpinBox(decimals=2, prefix="$ ", singleStep=0.5)
        self.budget.setSpecialValueText("No limit")
        spin_box(self.budget, 0, 1_000_000, settings.budget_usd)
        self.key_hint = hint_label()
        self._build()
        self.default_model.currentTextChanged.connect(self.refresh_key_hint)
        self.catalog_button.clicked.connect(self.open_catalog)
        self.refresh_key_hint()

    def _build(self) -> None:
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setVerticalSpacing(6)
        form.addRow(section("Models"))
        form.addRow("&Default model:", above(self.default_model, self.key_hint))
        form.addRow("Download models:", above(row(self.catalog_button, None), self.catalog_hint))
        form.addRow("&Planner model:", above(self.planner_model, hint_label(
            "Makes the plan and writes the final deliverable; empty means the default model.")))
        form.addRow("&Fallback models:", above(self.fallbacks, hint_label(
            "Tried in this order when a model still fails after its retries (after an agent's "
            "own fallbacks, set on the Agents tab).")))
        form.addRow("API &base URL:", above(self.api_base, hint_label(
            "For providers with no base URL of their own, e.g. a company gateway. "
            "Empty: each provider's own endpoint.")))
        form.addRow(spacer(4))
        form.addRow(section("Limits"))
        form.addRow("Max &parallel calls:", left(self.max_parallel, "model calls in flight at once"))
        form.addRow("&Idle timeout:", left(self.idle_timeout, "a call that receives nothing this long fails and is retried"))
        form.addRow("Per-call &timeout:", left(self.call_timeout, "overall limit: even an answer still streaming stops then"))
        form.addRow("Max &attempts:", left(self.max_attempts, "tries per model call before the task fails"))
        form.addRow("B&udget per run:", left(self.budget, "in US dollars; “No limit” at $0"))

    def open_catalog(self) -> CatalogDialog:
        """Show the model catalog (made on first use, then kept with its download)."""
        if self.catalog is None:
            self.catalog = CatalogDialog(self.jobs, self)
            self.catalog.box.defaultChosen.connect(self._on_default_chosen)
            self.catalog.box.modelAdded.connect(self._on_model_added)
            self.catalog.box.activity.connect(lambda text: self.catalog_hint.setText(text or CATALOG_HINT))
        self.catalog.show()
        self.catalog.raise_()
        return self.catalog

    def _on_model_added(self, model: str) -> None:
        """Offer a model just downloaded in the pickers (what is typed in them stays)."""
        if model not in self._downloaded:
            self._downloaded = [*self._downloaded, model]
            self.set_providers(self.providers)
            self.modelDownloaded.emit(model)

    def _on_default_chosen(self, model: str) -> None:
        self._on_model_added(model)
        self.default_model.setCurrentText(model)

    def set_providers(self, providers: Providers) -> None:
        """Offer the models of `providers` (what the Providers tab now has)."""
        self.providers = providers
        refs = list(dict.fromkeys([*providers.model_refs(), *self._downloaded]))
        for box in (self.default_model, self.planner_model):
            set_choices(box, refs)
        self.fallbacks.set_choices(refs)
        self.refresh_key_hint()

    def refresh_key_hint(self) -> None:
        """Say where the default model's key will come from."""
        self.key_hint.setText(key_hint(self.default_model.currentText().strip(), self.providers))

    def values(self) -> dict[str, object]:
        return {
            "default_model": self.default_model.currentText().strip(),
            "planner_model": self.planner_model.currentText().strip() or None,
            "fallback_models": self.fallbacks.models(),
            "api_base": self.api_base.text().strip() or None,
            "max_parallel": self.max_parallel.value(),
            "call_timeout": float(self.call_timeout.value()),
            "idle_timeout": float(self.idle_timeout.value()),
            "max_attempts": self.max_attempts.value(),
            "budget_usd": round(self.budget.value(), 2),
        }

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        if not self.default_model.currentText().strip():
            found.append(Problem("Choose a default model.", self.default_model.setFocus))
        for box in (self.default_model, self.planner_model):
            if message := model_problem(box.currentText().strip()):
                found.append(Problem(message, box.setFocus))
        base = self.api_base.text().strip()
        if base and not base.startswith(("http://", "https://")):
            found.append(Problem("The API base URL must start with http:// or https://.",
                                 self.api_base.setFocus))
        return found


def key_hint(ref: str, providers: Providers) -> str:
    """Where the key for the model `ref` will come from, in words."""
    if not ref:
        return ""
    provider = providers.provider_for(ref)
    if provider is None:
        return (f"No provider named “{split_ref(ref)[0]}”: add it on the Providers tab "
                "(any model string litellm knows also works, with its own key variable).")
    if provider.kind == LOCAL:
        if split_ref(ref)[1] in provider.info.suggested:
            return "The embedded model runs offline on this computer; it needs no key."
        return "A local model file: it runs offline on this computer and needs no key."
    title, var = provider_title(provider), keys.env_var(provider.kind)
    status = keys.key_status(provider.name, provider.kind)
    if status == keys.NONE:
        if not provider.info.needs_key:
            where = "on this computer" if provider.info.on_this_machine else "on your own server"
            return f"{title} runs {where}; it needs no key."
        return f"No {title} key yet: add one on the Providers tab, or set {var}."
    return {
        keys.SESSION: f"Uses the {title} key kept for this session only.",
        keys.KEYCHAIN: f"Uses your {title} key from the keychain.",
        keys.ENVIRONMENT: f"Uses your {title} key from {var}.",
    }[status]
