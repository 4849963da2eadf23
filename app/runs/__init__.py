"""Running plans from the app: RunService and RunConfig (service.py), which wire
agents' runner to storage, providers and tools for the window and the CLI.

May import any other app package and agents; never ui or Qt.
"""
