"""Run each test of the given files in a process of its own.

The whole-window tests build the full app (a window, a qasync loop, litellm,
threads); one process per test means no Qt object of one test can outlive it
into the next. On a crash only the main thread's stack is dumped, so that it
is the part of the output a CI log keeps.

    python -m tests.support.run_each tests/ui/test_main_window.py
"""

from __future__ import annotations

import subprocess
import sys
import time


def collect(paths: list[str]) -> list[str]:
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "--collect-only", *paths],
                         capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if "::" in line]


def main(paths: list[str]) -> int:
    failed: list[str] = []
    start = time.monotonic()
    node_ids = collect(paths)
    for node_id in node_ids:
        code = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:faulthandler",
                               "-p", "tests.support.main_thread_faults", node_id]).returncode
        if code != 0:
            failed.append(f"{node_id} (exit {code})")
    took = time.monotonic() - start
    print(f"{len(node_ids) - len(failed)} of {len(node_ids)} passed, one process each, in {took:.1f}s")
    for line in failed:
        print("FAILED", line)
    return 1 if failed or not node_ids else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
