"""The `troupe` console script: the window without arguments, `--self-test`,
else the CLI.

Imports nothing heavy itself, so `troupe run ...` never loads Qt.
"""

from __future__ import annotations

import sys

SELF_TEST = "--self-test"


def launch() -> int:
    args = sys.argv[1:]
    if args[:1] == [SELF_TEST]:  # before the CLI's parser: it is not a CLI command
        from ui.self_test import main as self_test_main  # noqa: PLC0415

        return self_test_main(args[1:])
    if args:
        from app.cli.main import main as cli_main  # noqa: PLC0415

        return cli_main(args)
    from ui.gui import main as gui_main  # noqa: PLC0415

    return gui_main()
