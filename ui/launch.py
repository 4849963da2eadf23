"""The `troupe` console script: the window without arguments, `--self-test`,
else the CLI.

Imports nothing heavy itself, so `troupe run ...` never loads Qt.
"""

from __future__ import annotations

import sys

SELF_TEST = "--self-test"
CODE_FLAGS = ("--exec-with-limits", "--exec-python")  # agents.tools.sandbox's flags


def launch() -> int:
    args = sys.argv[1:]
    if args[:1] and args[0] in CODE_FLAGS:  # the bundle running a code tool's process
        return _code_process(args)
    if args[:1] == [SELF_TEST]:  # before the CLI's parser: it is not a CLI command
        from ui.self_test import main as self_test_main  # noqa: PLC0415

        return self_test_main(args[1:])
    if args:
        from app.cli.main import main as cli_main  # noqa: PLC0415

        return cli_main(args)
    from ui.gui import main as gui_main  # noqa: PLC0415

    return gui_main()


def _code_process(args: list[str]) -> int:
    from agents.tools import sandbox  # noqa: PLC0415

    if args[0] == sandbox.LIMITS_FLAG:
        sandbox.exec_with_limits(args[1:])  # becomes the command; returns only on failure
        return 127
    sandbox.exec_python(args[1:])
    return 0
