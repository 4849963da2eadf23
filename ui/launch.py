"""The `troupe` console script: the window without arguments, else the CLI.

Imports nothing heavy itself, so `troupe run ...` never loads Qt.
"""

from __future__ import annotations

import sys


def launch() -> int:
    if len(sys.argv) > 1:
        from app.cli import main as cli_main  # noqa: PLC0415

        return cli_main(sys.argv[1:])
    from ui.gui import main as gui_main  # noqa: PLC0415

    return gui_main()
