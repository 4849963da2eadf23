"""Model providers: the provider registry and model references (registry.py), API keys
in the keychain (secrets.py, keys.py), connection checks and first-run setup
(checks.py), and local GGUF model files (local_models.py).

May import app.paths, app.settings, app.logs and agents; never ui or Qt.
"""
