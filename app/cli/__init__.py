"""The `troupe` command line: argument parsing and commands (main.py), provider and
tool subcommands, and terminal output (console.py). `python -m app.cli` runs it.

May import any app module and agents; never ui or Qt.
"""
