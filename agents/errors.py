"""The one exception hierarchy of Troupe's core.

    TroupeError
    ├── PlanError                 a plan is malformed or invalid
    │   └── PlanValidationError   names every problem found
    ├── PlannerError              the planner gave up after its repair attempts
    ├── RosterError               the roster file is malformed
    ├── LLMError                  a model call failed
    │   ├── TransientLLMError     worth retrying
    │   │   ├── RateLimited       HTTP 429; carries Retry-After when sent
    │   │   ├── ServerError       HTTP 5xx
    │   │   ├── CallTimeout       no answer within the call's overall limit
    │   │   │   └── CallStalled   no data at all for the idle timeout
    │   │   ├── ProviderUnreachable  connection refused / DNS / reset
    │   │   └── StreamDropped     a stream ended before it finished
    │   │       └── StreamInterrupted  ended cleanly ([DONE]) but with no finish reason
    │   └── PermanentLLMError     retrying will not help
    │       ├── AuthError         bad or missing key
    │       ├── ModelNotFound     the provider does not know the model
    │       ├── BadRequest        the provider refused the request
    │       ├── ToolStepsExhausted  still calling tools at the step limit
    │       ├── EmptyAnswer       the model answered with nothing, twice
    │       └── UnusableAnswer    it echoed its prompt or looped, twice
    ├── ApprovalError             an approval gate could not decide
    └── RunCancelled              the person cancelled the run or a task
"""

from __future__ import annotations


class TroupeError(Exception):
    """Root of every error Troupe raises on purpose."""


class PlanError(TroupeError):
    """A plan could not be parsed."""


class PlanValidationError(PlanError):
    """A plan parsed but is not runnable; `problems` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class PlannerError(TroupeError):
    """The orchestrator did not produce a valid plan within its attempts."""


class RosterError(TroupeError):
    """The agent roster could not be loaded."""


class LLMError(TroupeError):
    """A call to a language model failed."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TransientLLMError(LLMError):
    """A failure that may go away if the call is retried."""


class RateLimited(TransientLLMError):
    """The provider asked us to slow down (HTTP 429)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class ServerError(TransientLLMError):
    """The provider failed on its side (HTTP 5xx)."""


class CallTimeout(TransientLLMError):
    """The call took longer than its timeout."""


class CallStalled(CallTimeout):
    """No data at all came for the idle timeout (a stalled stream, a silent server)."""


class ProviderUnreachable(TransientLLMError):
    """The provider could not be reached at all."""


class StreamDropped(TransientLLMError):
    """A streamed answer stopped before the provider said it was done."""


class StreamInterrupted(StreamDropped):
    """The server ended a stream ([DONE]) without a finish reason: it cut the answer short,
    as llama-cpp-python's server does to a stream when another request arrives."""


class PermanentLLMError(LLMError):
    """A failure retrying will not fix."""


class AuthError(PermanentLLMError):
    """The provider rejected the API key (or none was given)."""


class ModelNotFound(PermanentLLMError):
    """The provider does not serve this model."""


class BadRequest(PermanentLLMError):
    """The provider refused the request as malformed."""


class ToolStepsExhausted(PermanentLLMError):
    """The model kept calling tools up to the task's step limit without answering."""


class EmptyAnswer(PermanentLLMError):
    """The model answered with no text and no tool call, and did so again when asked once more."""


class UnusableAnswer(PermanentLLMError):
    """The model repeated its prompt or the chat template, or looped on one line, and did
    so again when asked once more, cooler (agents/run/guard.py)."""


class ApprovalError(TroupeError):
    """An approval gate failed to produce a decision."""


class RunCancelled(TroupeError):
    """The run, or one task, was cancelled by the person."""
