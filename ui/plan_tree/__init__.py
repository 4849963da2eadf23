"""The plan tree editor: an editable Plan as a Qt model, its undo commands and view.

    model = PlanTreeModel(plan, load_roster())
    view = PlanTreeView(model)
    model.planChanged.connect(store_new_version)
    model.validityChanged.connect(run_button.setEnabled)
"""

from ui.plan_tree.cells import Column
from ui.plan_tree.commands import DependencyCleanup
from ui.plan_tree.detail import TaskDetailPane
from ui.plan_tree.model import MIME_TYPE, PlanTreeModel, TaskIdRole
from ui.plan_tree.runtime import RETRYING
from ui.plan_tree.view import PlanTreeView

__all__ = [
    "MIME_TYPE",
    "RETRYING",
    "Column",
    "DependencyCleanup",
    "PlanTreeModel",
    "PlanTreeView",
    "TaskDetailPane",
    "TaskIdRole",
]
