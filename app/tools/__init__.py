"""Tools in the app: tool rules (settings.py), MCP server configuration and probing,
a run's tool set (run_tools.py), and the stored tool calls (ledger.py, history.py).

May import app.paths, app.storage, app.providers.secrets and agents; never ui or Qt.
"""
