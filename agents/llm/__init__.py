"""Talking to models: the litellm adapter (client.py, direct.py, errors.py,
litellm_info.py), SSE decoding, in-process GGUF models, pacing, `call_model`
(calls.py: retries, timeouts, accounting), one rate limiter per provider
(limiter.py) and what local servers refuse, learned per server (quirks.py).

The only package of Troupe that may import litellm (an import-linter contract
checks it), and only lazily. May import the agents root (ports, errors, events).
"""
