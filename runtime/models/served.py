"""Served models in a build: opening the client (E511/E512/E513 at the model's line), turning its
failures during generation into coded diagnostics, and the plain statement `--locked` makes
about a model whose bytes live on someone else's server."""

from __future__ import annotations

from typing import Any

from synthc.compiler import ir
from synthc.compiler.source import Span
from synthc.runtime.backends.endpoint import (
    ApiKeyMissing, EndpointBackend, EndpointError, EndpointRefused, EndpointUnavailable,
)
from synthc.runtime.errors import RunFailed, fail

__all__ = ["open_endpoint", "endpoint_failure", "model_info", "locked_notes", "is_endpoint_error"]


def open_endpoint(m: ir.Model) -> EndpointBackend:
    assert m.endpoint is not None
    try:
        return EndpointBackend(m.endpoint, m.mode, m.context)
    except EndpointError as exc:
        raise endpoint_failure(exc, m.origin, "model declared here") from None


def is_endpoint_error(exc: BaseException) -> bool:
    return isinstance(exc, EndpointError)


def endpoint_failure(exc: BaseException, origin: Span, label: str, saved: int | None = None) -> RunFailed:
    """The coded diagnostic of an endpoint failure; `saved` = rows already in the cache."""
    kept = f"; {saved} finished row(s) are saved and a rerun continues from there" if saved is not None else ""
    if isinstance(exc, ApiKeyMissing):
        return fail("E513", str(exc), origin, label, help="export the variable before building")
    if isinstance(exc, EndpointRefused):
        return fail("E512", f"the server refused the request: {exc}", origin, label,
                    help="check `served_model`, the API key and the `dialect`")
    return fail("E511", f"the model's server is unavailable: {exc}{kept}", origin, label,
                help="start or restart the server and run the same command again; "
                     "raise `timeout` or `retries` for a slow or busy server")


def model_info(name: str, be: EndpointBackend) -> dict[str, Any]:
    """The lockfile / manifest entry: identity only — no key, no variable value."""
    return {"name": name, **be.info()}


def locked_notes(models: dict[str, dict[str, Any]]) -> list[str]:
    return [f"model `{n}` is served by {info['endpoint']}: its weights cannot be verified byte for byte; "
            f"--locked checks only what the server reports (model id `{info['served_model']}`, fingerprint)"
            for n, info in sorted(models.items()) if "endpoint" in info]


# Re-exported for callers that catch the unavailable case to save partial results.
Unavailable = EndpointUnavailable
