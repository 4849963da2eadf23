"""The frozen app's entry point: the same `troupe` command as the console script."""

import multiprocessing
import sys

from ui.launch import launch

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a no-op unless a library starts a child interpreter
    sys.exit(launch())
