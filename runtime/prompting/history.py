"""Fitting a conversation turn's history to the model's context.

A Li et al. conversation sends each turn with every earlier turn of its conversation (prompts and
answers; runtime/prompting/rows.py build_request), so a long one — `reset_after` turns of up to `max_tokens`
each — can outgrow the model's `context`. `fit_history` leaves out the oldest whole turns
(user + assistant pairs) until the prompt plus `max_tokens` fits, keeping the system message, the
current user message and the most recent turns.

Which turns go. The first turn is not kept specially: recency wins. In our recipes Li et al.'s
context prompt ("Now you are a movie critic. …") is the system message, which is always kept, and
the user message repeats the whole generation instruction every turn, so the first turn carries
nothing the later ones lack; the diversity prompt asks for "something more diverse compared to the
previously generated data", and the model can only avoid what it still sees — the latest answers.

Determinism. The result is a pure function of the request (with its full history), the measure
and the context: the build (runtime/engine/groups.py) calls it on the full history, and so do
`plan`/`diff`/`show`, which run the same job (runtime/preview/run.py), so their cache keys agree.

Cost. A request without history is returned as is, unmeasured (no earlier turn to leave out); one
with history is measured once, and only a request that does not fit is measured again per turn left
out — rendering through an endpoint may be an HTTP call. A turn is at most `reset_after` turns
long, so that is a handful of measures for the rows that need it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from synthc.runtime.backends.base import Backend, Request

__all__ = ["Fitted", "Fit", "Measure", "fit_history", "history_turns", "prompt_size", "fitter"]

Measure = Callable[[Request], int]  # prompt tokens of a request, as the backend will count them


@dataclass(frozen=True, slots=True)
class Fitted:
    request: Request  # the request to send: its history trimmed to fit, or as it was
    dropped: int = 0  # earlier turns left out (0: the whole history was sent)


Fit = Callable[[Request], Fitted]


def history_turns(request: Request) -> int:
    """Earlier turns (user + assistant pairs) a chat request carries between its leading shared
    messages (the system message) and its current user message.

    >>> r = Request((("system", "s"), ("user", "a"), ("assistant", "b"), ("user", "c")), "chat",
    ...             None, 8, 1.0, 1.0, (), 0, shared=1)  # type: ignore[arg-type]
    >>> history_turns(r)
    1
    """
    if request.mode != "chat":
        return 0
    return max(0, len(request.messages) - request.shared - 1) // 2


def fit_history(request: Request, measure: Measure, context: int) -> Fitted:
    """`request` with its oldest earlier turns left out until `measure(request) + max_tokens` fits
    `context`. When even the current message alone does not fit, the request goes without any
    history and the backend refuses it as before (ContextOverflow → E506), naming the size of
    what cannot be trimmed."""
    turns = history_turns(request)
    if turns == 0:
        return Fitted(request)
    head, body, current = (request.messages[:request.shared], request.messages[request.shared:-1],
                           request.messages[-1:])
    assert len(body) == 2 * turns and all(body[k][0] == "user" for k in range(0, len(body), 2)), \
        "a conversation's history is whole user/assistant turns"
    budget = context - request.max_tokens
    for dropped in range(turns + 1):  # the full request first: most rows fit, one measure each
        trimmed = request if dropped == 0 else replace(request, messages=head + body[2 * dropped:] + current)
        if dropped == turns or measure(trimmed) <= budget:
            return Fitted(trimmed, dropped)
    raise AssertionError("unreachable: the last candidate carries no history")


def prompt_size(backend: Backend) -> Measure:
    """How `backend` counts a request's prompt against its context. llama.cpp checks the prompt's
    own tokens (BOS and chat-template special tokens included: `prompt_tokens`), so that is the
    measure where the backend has it; others (the fake, an endpoint) count the rendered prompt."""
    exact = getattr(backend, "prompt_tokens", None)
    if callable(exact):
        return lambda request: len(exact(request)[0])
    return lambda request: backend.count_tokens(backend.render(request))


def fitter(backend: Backend, context: int) -> Fit:
    """The history fit for one model: its backend's measure and its declared `context`."""
    measure = prompt_size(backend)
    return lambda request: fit_history(request, measure, context)
