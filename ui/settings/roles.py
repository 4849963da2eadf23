"""Pieces of the roster editor: a role being edited, its icon, the tool checkboxes."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QIcon, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QCheckBox, QGridLayout, QWidget

from agents.plan.roster import ORCHESTRATOR, Role
from ui import theme

KNOWN_TOOLS: dict[str, str] = {
    "read_file": "Read a file",
    "list_files": "List the files in a folder",
    "write_file": "Write a file",
    "run_python": "Run Python code",
    "run_shell": "Run a shell command",
    "fetch_url": "Download a web page",
    "search_history": "Search earlier runs",
}
"""Tools a role may be allowed, with a short description for the tooltip."""

NEW_ROLE_PROMPT = (
    "You are a capable specialist on a small team. Do the task you are given "
    "carefully and report the result clearly."
)


@dataclass
class RoleDraft:
    """A role being edited (Role is frozen)."""

    name: str
    system_prompt: str
    description: str = ""
    model: str = ""
    temperature: float = 0.3
    tools: list[str] = field(default_factory=list)
    fallbacks: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, role: Role) -> RoleDraft:
        return cls(role.name, role.system_prompt, role.description, role.model or "",
                   role.temperature, list(role.tools), list(role.fallbacks))

    def role(self) -> Role:
        return Role(name=self.name.strip(), system_prompt=self.system_prompt.strip(),
                    description=self.description.strip(), model=self.model.strip() or None,
                    temperature=round(self.temperature, 2), tools=tuple(self.tools),
                    fallbacks=tuple(self.fallbacks))

    @property
    def is_orchestrator(self) -> bool:
        return self.name == ORCHESTRATOR


def role_icon(name: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(theme.palette_colour(QPalette.ColorRole.Base), 1.2))  # shows on a selection too
    painter.setBrush(theme.role_colour(name or "?"))
    painter.drawEllipse(QRectF(1, 1, 10, 10))
    painter.end()
    return QIcon(pixmap)


class ToolChecks(QWidget):
    """A checkable list of tool names, four to a row."""

    toggled = Signal()
    """A tool was checked or unchecked by the person."""

    COLUMNS = 4

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.boxes: dict[str, QCheckBox] = {}
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 2, 0, 2)
        self._grid.setHorizontalSpacing(14)
        self._grid.setColumnStretch(self.COLUMNS, 1)
        self.show_tools([])

    def show_tools(self, checked: list[str]) -> None:
        """Check exactly `checked`; tools Troupe does not know (a hand-edited file) are kept."""
        names = [*KNOWN_TOOLS, *(t for t in checked if t not in KNOWN_TOOLS)]
        if list(self.boxes) != names:
            for box in self.boxes.values():
                self._grid.removeWidget(box)
                box.hide()
                box.deleteLater()
            self.boxes = {}
            for i, name in enumerate(names):
                box = QCheckBox(name)
                box.setToolTip(KNOWN_TOOLS.get(name, "A tool Troupe does not know"))
                box.clicked.connect(lambda _on: self.toggled.emit())
                self._grid.addWidget(box, i // self.COLUMNS, i % self.COLUMNS)
                self.boxes[name] = box
        for name, box in self.boxes.items():
            box.setChecked(name in checked)

    def checked(self) -> list[str]:
        return [name for name, box in self.boxes.items() if box.isChecked()]
