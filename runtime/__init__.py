"""The synthc runtime: executes a compiled plan. Heavy libraries (llama_cpp, guidance, bm25s,
scikit-learn) are imported inside the functions that need them."""

from __future__ import annotations

from typing import Any

from synthc.runtime.errors import RunFailed
from synthc.runtime.engine.scheduler import execute

__all__ = ["execute", "RunFailed", "build"]


def build(path: str, overrides: dict[str, str] | None = None, **options: Any) -> str:
    """Compile `path` and execute its plan; raises CompileFailed or RunFailed."""
    from synthc.compiler import compile_or_raise

    result = compile_or_raise(path, overrides)
    assert result.plan is not None
    return execute(result.plan, result.sources, **options)
