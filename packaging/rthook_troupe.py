# PyInstaller runtime hook: runs in the frozen app before its entry point.
import os

# litellm would fetch its model cost map from the internet at import; the bundle
# ships the copy inside the package (the same default the source tree's Makefile sets).
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
