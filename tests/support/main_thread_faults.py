"""pytest plugin: on a fatal signal, dump the main thread's stack only."""

import faulthandler
import sys

faulthandler.enable(file=sys.stderr, all_threads=False)
