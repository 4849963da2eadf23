"""`python -m bench`: every benchmark, one table each."""

from __future__ import annotations

import runpy
import sys

MODULES = ["bench.runner_bench", "bench.map_bench", "bench.storage_writer", "bench.llm_overhead", "bench.ui_bench",
           "bench.startup_bench", "bench.local_model_bench", "bench.estimate_bench", "bench.limiter_bench"]


def main() -> None:
    for name in MODULES:
        print(f"\n== {name} ==", flush=True)
        sys.argv = [name]
        try:
            runpy.run_module(name, run_name="__main__")
        except ModuleNotFoundError as exc:
            print(f"(skipped: {exc})")


if __name__ == "__main__":
    main()
