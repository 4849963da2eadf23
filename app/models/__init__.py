"""The model catalog and its downloads: curated GGUF models from Hugging Face.

catalog.py (the list in resources/model_catalog.json, the hub's address, this
machine's memory), download.py (one download: progress, pause and resume, cancel,
free-space check, SHA-256), installed.py (what is downloaded, register, remove),
ollama.py (Ollama's own list and pull). No Qt: the CLI and the window both use it.
"""
