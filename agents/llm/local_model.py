"""GGUF models run in process with llama-cpp-python, as litellm's "local" provider.

    register_local_models(litellm)            # done by agents.llm.litellm_info when it loads litellm
    set_local_models({"smollm2-135m": LocalModelSpec(path)})  # the GGUF's own chat template
    LiteLLMClient().stream(LLMRequest("local/smollm2-135m", ...))

One `LocalModel` per GGUF file owns the llama.cpp model and ONE worker thread:
a llama context is not thread-safe, so requests queue up and run one after the
other. The worker pushes each token to the caller's event loop with
`call_soon_threadsafe`, so generation never blocks the loop. Cancelling the
awaiting coroutine (or closing the stream) stops generation between two tokens
and the worker moves on to the next queued request.

llama_cpp is imported by the worker thread when the first request arrives,
never at import time (it takes ~1 s and the window must appear first).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import queue
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "PROVIDER",
    "chat_formats",
    "LocalChunk",
    "LocalModel",
    "LocalModelError",
    "LocalModelSpec",
    "close_local_models",
    "default_threads",
    "local_model",
    "local_models",
    "register_local_models",
    "set_local_models",
    "valid_name",
]

PROVIDER = "local"
"""Model strings `local/<name>` are served by this module."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalModelSpec:
    """How to run one named local model."""

    path: Path
    """The GGUF file."""
    chat_format: str | None = None
    """A llama-cpp chat format name ("gemma", "chatml", ...); None: the GGUF's own
    chat template (llama-cpp falls back to "llama-2" when the file has none)."""
    n_ctx: int = 8192
    n_threads: int | None = None
    """Generation threads; None: `default_threads()`."""
    max_tokens: int = 1024
    """Answer length when a request sets none: a small model can ramble to n_ctx
    (minutes on a CPU), which would only end in a timeout."""
    prepare: Callable[[], object] | None = field(default=None, compare=False)
    """Called on the worker thread before the file is first loaded (e.g. to
    assemble it); its exceptions fail the request with their message."""


@dataclass(frozen=True)
class LocalChunk:
    """A piece of a streamed answer; the last one has `finish_reason` and the usage."""

    text: str = ""
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


class LocalModelError(Exception):
    """A local model could not serve a request; `status` is the HTTP-like kind
    (404 unknown model or missing file, 400 bad request, 500 llama.cpp failed)."""

    def __init__(self, message: str, *, status: int = 500) -> None:
        super().__init__(message)
        self.status = status


def default_threads() -> int:
    """Threads for generation: half the usable CPUs (SMT siblings share a core and
    decoding is memory-bound), so one core stays free for the event loop and UI."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cpus = os.cpu_count() or 2
    return max(1, min(8, cpus // 2))


# --- the registry: name -> spec, filled by the app --------------------------------------

_specs: dict[str, LocalModelSpec] = {}
_models: dict[Path, LocalModel] = {}
_registry_lock = threading.Lock()
_litellm: Any = None


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def valid_name(name: str) -> bool:
    """Whether `name` can follow "local/" in a model string."""
    return bool(_NAME.match(name))


def chat_formats() -> list[str]:
    """The chat format names llama-cpp knows (imports llama_cpp: ~1 s)."""
    from llama_cpp.llama_chat_format import LlamaChatCompletionHandlerRegistry  # noqa: PLC0415

    return sorted(LlamaChatCompletionHandlerRegistry()._chat_handlers)


def set_local_models(models: Mapping[str, LocalModelSpec]) -> None:
    """Replace the known local models (name -> spec); `local/<name>` then works."""
    with _registry_lock:
        _specs.clear()
        _specs.update(models)
    if _litellm is not None:
        _register_prices(_litellm)


def local_models() -> dict[str, LocalModelSpec]:
    """A copy of the known local models."""
    with _registry_lock:
        return dict(_specs)


def local_model(name: str) -> tuple[LocalModel, LocalModelSpec]:
    """The running model for `name` (one per file, created on first use)."""
    with _registry_lock:
        spec = _specs.get(name)
        if spec is None:
            known = ", ".join(sorted(_specs)) or "none"
            raise LocalModelError(
                f"no local model named {name!r} (known local models: {known})", status=404
            )
        path = Path(spec.path).expanduser().resolve()
        model = _models.get(path)
        if model is None or model.closed:
            model = _models[path] = LocalModel(path, n_ctx=spec.n_ctx, n_threads=spec.n_threads)
        return model, spec


def close_local_models() -> None:
    """Stop every worker and free the models (on shutdown; also between tests)."""
    with _registry_lock:
        models = list(_models.values())
        _models.clear()
    for model in models:
        model.close()


# --- one model, one worker thread --------------------------------------------------------

_PENALTY_WINDOW = 256

# Llama(verbose=False) silences loading by pointing fds 1 and 2 at /dev/null and back:
# two loads at once could restore them in the wrong order, so loads take turns.
_load_lock = threading.Lock()


@dataclass
class _Job:
    """One request, shared between the caller's loop and the worker thread."""

    messages: list[dict[str, str]]
    chat_format: str | None
    max_tokens: int | None
    temperature: float | None
    json_schema: Mapping[str, Any] | None
    prepare: Callable[[], object] | None
    loop: asyncio.AbstractEventLoop
    repeat_penalty: float | None = None
    out: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)

    def push(self, item: object) -> None:
        """Hand a str, LocalChunk or exception to the waiting coroutine."""
        try:
            self.loop.call_soon_threadsafe(self.out.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            self.cancelled.set()


class LocalModel:
    """One GGUF file loaded once, served by one worker thread in request order."""

    def __init__(self, path: Path, *, n_ctx: int = 8192, n_threads: int | None = None) -> None:
        self.path = Path(path)
        self.n_ctx = n_ctx
        self.n_threads = n_threads or default_threads()
        self.closed = False
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._llm: Any = None
        self._file_format: str | None = None

    async def stream(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        chat_format: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        json_schema: Mapping[str, Any] | None = None,
        prepare: Callable[[], object] | None = None,
        repeat_penalty: float | None = None,
    ) -> AsyncIterator[LocalChunk]:
        """Generate an answer: text chunks, then one with the finish reason and usage.

        `json_schema` constrains the output with a grammar (`{}`: any JSON object).
        Stopping early (cancel, break, aclose) stops generation between tokens.
        """
        job = _Job(
            [dict(m) for m in messages], chat_format, max_tokens, temperature,
            json_schema, prepare, asyncio.get_running_loop(), repeat_penalty,
        )  # fmt: skip
        self._submit(job)
        try:
            while True:
                item = await job.out.get()
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, LocalChunk):
                    yield item
                    return
                yield LocalChunk(text=item)
        finally:
            job.cancelled.set()  # a no-op when finished; else the worker stops at the next token

    def close(self) -> None:
        """Let the worker finish its queue, then free the model (non-blocking)."""
        self.closed = True
        self._jobs.put(None)

    def _submit(self, job: _Job) -> None:
        if self.closed:
            raise LocalModelError(f"the local model {self.path.name} was closed")
        with self._start_lock:
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._serve, name=f"local-model:{self.path.name}", daemon=True
                )
                self._worker.start()
        self._jobs.put(job)

    # --- on the worker thread ------------------------------------------------------

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            if job.cancelled.is_set():
                continue  # given up while it waited its turn
            try:
                final = self._generate(self._load(job.prepare), job)
            except Exception as exc:  # every failure goes back to the caller
                job.push(_as_local_error(exc, self.path))
            else:
                if final is not None:
                    job.push(final)
        if self._llm is not None:
            self._llm.close()
            self._llm = None

    def _load(self, prepare: Callable[[], object] | None) -> Any:
        if self._llm is not None:
            return self._llm
        if prepare is not None:
            prepare()
        if not self.path.is_file():
            raise LocalModelError(f"the model file {self.path} does not exist", status=404)
        llama_class = _counting_llama()
        try:
            with _load_lock:
                self._llm = llama_class(
                    model_path=str(self.path),
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    # more threads for the prompt than for decoding stalled on a busy
                    # 2-core machine (threads wait at each barrier for the busy core)
                    n_threads_batch=self.n_threads,
                    # how far back a repeat_penalty looks: llama-cpp-python's 64 tokens are
                    # shorter than one item of a tiny model's looping list
                    last_n_tokens_size=_PENALTY_WINDOW,
                    verbose=False,
                )
        except ValueError as exc:  # llama.cpp refused the file: retrying will not help
            raise LocalModelError(
                f"llama.cpp cannot load {self.path}: a damaged GGUF file, or a model "
                f"architecture this version does not support ({exc})",
                status=400,
            ) from exc
        self._file_format = self._llm.chat_format  # from the GGUF metadata
        return self._llm

    def _generate(self, llm: Any, job: _Job) -> LocalChunk | None:
        """Run one request, pushing text as it comes; returns the final chunk."""
        llm.chat_format = job.chat_format or self._file_format
        llm.meter = meter = _Meter(job.cancelled)
        options: dict[str, Any] = {"max_tokens": job.max_tokens, "stream": True}
        if job.temperature is not None:
            options["temperature"] = job.temperature
        if job.repeat_penalty is not None:
            options["repeat_penalty"] = job.repeat_penalty
        if job.json_schema is not None:
            options["grammar"] = _grammar(json.dumps(job.json_schema, sort_keys=True))
        messages = job.messages
        if llm.chat_format == "gemma":
            messages = _fold_system(messages)
        chunks = llm.create_chat_completion(messages, **options)
        finish = "stop"
        try:
            for chunk in chunks:
                if job.cancelled.is_set():
                    return None
                choice = chunk["choices"][0]
                text = choice["delta"].get("content")
                if text:
                    job.push(text)
                finish = choice.get("finish_reason") or finish
        finally:
            chunks.close()
        return LocalChunk("", finish, meter.prompt_tokens, meter.completion_tokens)


class _Meter:
    """What the counting model saw of one request; also its cancel flag."""

    def __init__(self, cancelled: threading.Event) -> None:
        self.cancelled = cancelled
        self.prompt_tokens = 0
        self.completion_tokens = 0


@functools.cache
def _counting_llama() -> type:
    """llama_cpp.Llama, counting tokens (its streams report no usage) and stopping
    between two tokens once the request is cancelled."""
    import llama_cpp  # noqa: PLC0415 - ~1 s; only when a local model is first used

    _route_llama_logs(llama_cpp)

    class CountingLlama(llama_cpp.Llama):  # type: ignore[misc]
        meter: _Meter | None = None

        def generate(  # type: ignore[override]
            self, tokens: Sequence[int], *args: Any, **kwargs: Any
        ) -> Iterator[int]:
            meter = self.meter
            if meter is None:
                yield from super().generate(tokens, *args, **kwargs)
                return
            meter.prompt_tokens = len(tokens)
            vocab = self._model.vocab
            for token in super().generate(tokens, *args, **kwargs):
                if meter.cancelled.is_set():
                    return
                if not llama_cpp.llama_vocab_is_eog(vocab, token):
                    meter.completion_tokens += 1
                yield token

    return CountingLlama


_log_callback: Any = None  # referenced here so ctypes does not free it


def _route_llama_logs(llama_cpp: Any) -> None:
    """Send llama.cpp's own log lines to logging (llama-cpp-python prints some to
    stderr even with verbose=False); errors also reach the caller as exceptions."""
    global _log_callback

    @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
    def forward(level: int, text: bytes, _user_data: Any) -> None:
        # ggml's levels: 1 debug, 2 info, 3 warn, 4 error (5: continued line)
        log.log(logging.WARNING if level == 4 else logging.DEBUG, "llama.cpp: %s",
                text.decode("utf-8", "replace").rstrip())  # fmt: skip

    _log_callback = forward
    llama_cpp.llama_log_set(forward, None)


@functools.lru_cache(maxsize=64)
def _grammar(schema_json: str) -> Any:
    """The llama.cpp grammar for a JSON schema ("{}": any JSON value)."""
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar  # noqa: PLC0415

    schema = json.loads(schema_json)
    if not schema:
        return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
    try:
        return LlamaGrammar.from_json_schema(schema_json, verbose=False)
    except Exception as exc:
        raise LocalModelError(
            f"cannot turn the JSON schema into a grammar: {exc}", status=400
        ) from exc


def _fold_system(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """llama-cpp's "gemma" format drops system messages; Gemma's own template puts
    them at the top of the first user turn, so do that."""
    system = "\n\n".join(m["content"] for m in messages if m.get("role") == "system")
    rest = [m for m in messages if m.get("role") != "system"]
    if not system:
        return rest
    if rest and rest[0].get("role") == "user":
        return [{"role": "user", "content": f"{system}\n\n{rest[0]['content']}"}, *rest[1:]]
    return [{"role": "user", "content": system}, *rest]


def _as_local_error(exc: Exception, path: Path) -> LocalModelError:
    if isinstance(exc, LocalModelError):
        return exc
    text = str(exc)
    if "exceed context window" in text:
        return LocalModelError(f"the prompt is too long for {path.name}: {text}", status=400)
    return LocalModelError(f"{path.name} failed: {type(exc).__name__}: {text}")


# --- litellm's "local" provider -----------------------------------------------------------


def register_local_models(litellm: Any, models: Mapping[str, LocalModelSpec] | None = None) -> None:
    """Make `local/<name>` callable through litellm (idempotent; call once litellm
    is imported). `models`, when given, replaces the known local models."""
    global _litellm
    handler = _provider_class(litellm)()
    others = [p for p in litellm.custom_provider_map if p.get("provider") != PROVIDER]
    litellm.custom_provider_map = [*others, {"provider": PROVIDER, "custom_handler": handler}]
    # litellm only does this inside its first call; get_llm_provider needs it before
    from litellm.utils import custom_llm_setup  # noqa: PLC0415

    custom_llm_setup()
    _litellm = litellm
    if models is not None:
        set_local_models(models)
    else:
        _register_prices(litellm)


def _register_prices(litellm: Any) -> None:
    """Local models are free: a known price of 0 (and JSON-schema support)."""
    entries = {
        f"{PROVIDER}/{name}": {
            "litellm_provider": PROVIDER,
            "mode": "chat",
            "input_cost_per_token": 0.0,
            "output_cost_per_token": 0.0,
            "cache_creation_input_token_cost": 0.0,
            "cache_read_input_token_cost": 0.0,
            "max_input_tokens": spec.n_ctx,
            "supports_response_schema": True,
        }
        for name, spec in local_models().items()
    }
    if entries:
        litellm.register_model(entries)


def _request_options(
    model: str, messages: list[Any], optional: Mapping[str, Any]
) -> dict[str, Any]:
    """LocalModel.stream's arguments for a litellm call."""
    local, spec = local_model(model)
    return {
        "model": local,
        "messages": [
            {"role": str(m.get("role", "user")), "content": _text(m.get("content"))}
            for m in messages
        ],
        "chat_format": spec.chat_format,
        "max_tokens": optional.get("max_tokens") or optional.get("max_completion_tokens")
        or spec.max_tokens,
        "temperature": optional.get("temperature"),
        "json_schema": bounded_schema(_schema_of(optional.get("response_format"))),
        "prepare": spec.prepare,
        "repeat_penalty": optional.get("repeat_penalty"),
    }


_MAX_ITEMS = 4
_MAX_LENGTH = 120


def bounded_schema(schema: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """`schema` with a length limit on every unbounded string and array.

    Under a grammar a small model can keep one string or list going until it
    runs out of tokens, and a cut-off JSON document does not parse; bounded,
    the grammar closes it in time.
    """
    if schema is None:
        return None
    return _bound(schema)


def _bound(node: Any) -> Any:
    if isinstance(node, list):
        return [_bound(item) for item in node]
    if not isinstance(node, Mapping):
        return node
    bounded = {key: _bound(value) for key, value in node.items()}
    if node.get("type") == "string" and "enum" not in node:
        bounded.setdefault("maxLength", _MAX_LENGTH)
    if node.get("type") == "array":
        bounded.setdefault("maxItems", _MAX_ITEMS)
    return bounded


def _text(content: Any) -> str:
    """Message content as text (OpenAI's list-of-parts form included)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def _schema_of(response_format: Any) -> Mapping[str, Any] | None:
    """The JSON schema an OpenAI-style response_format asks for; {} for any JSON."""
    if not isinstance(response_format, Mapping):
        return None
    kind = response_format.get("type")
    if kind == "json_schema":
        inner = response_format.get("json_schema") or {}
        return inner.get("schema") or {}
    if kind == "json_object":
        return response_format.get("schema") or {}
    return None


@functools.cache
def _provider_class(litellm: Any) -> type:
    """litellm.CustomLLM serving `local/<name>` from LocalModel (defined lazily:
    litellm is imported lazily)."""
    from litellm.llms.custom_llm import CustomLLM, CustomLLMError  # noqa: PLC0415

    async def chunks(
        model: str, messages: list[Any], optional: Mapping[str, Any]
    ) -> AsyncIterator[LocalChunk]:
        try:
            options = _request_options(model, messages, optional)
            local = options.pop("model")
            async for chunk in local.stream(**options):
                yield chunk
        except LocalModelError as exc:
            raise CustomLLMError(status_code=exc.status, message=str(exc)) from exc

    class LocalProvider(CustomLLM):  # type: ignore[misc]
        async def astreaming(  # type: ignore[override]
            self, model: str, messages: list[Any], *args: Any, **kwargs: Any
        ) -> AsyncIterator[dict[str, Any]]:
            async for chunk in chunks(model, messages, kwargs.get("optional_params") or {}):
                yield _generic_chunk(chunk)

        async def acompletion(
            self, model: str, messages: list[Any], *args: Any, **kwargs: Any
        ) -> Any:
            parts: list[str] = []
            final = LocalChunk(finish_reason="stop")
            async for chunk in chunks(model, messages, kwargs.get("optional_params") or {}):
                parts.append(chunk.text)
                final = chunk if chunk.finish_reason else final
            response = kwargs["model_response"]
            response.choices[0].message.content = "".join(parts)
            response.choices[0].finish_reason = final.finish_reason
            response.model = f"{PROVIDER}/{model}"
            response.usage = litellm.Usage(
                prompt_tokens=final.prompt_tokens,
                completion_tokens=final.completion_tokens,
                total_tokens=final.prompt_tokens + final.completion_tokens,
            )
            return response

    return LocalProvider


def _generic_chunk(chunk: LocalChunk) -> dict[str, Any]:
    """litellm's GenericStreamingChunk for one LocalChunk."""
    usage = None
    if chunk.finish_reason:
        usage = {
            "prompt_tokens": chunk.prompt_tokens,
            "completion_tokens": chunk.completion_tokens,
            "total_tokens": chunk.prompt_tokens + chunk.completion_tokens,
        }
    return {
        "text": chunk.text,
        "tool_use": None,
        "is_finished": chunk.finish_reason is not None,
        "finish_reason": chunk.finish_reason or "",
        "usage": usage,
        "index": 0,
    }
