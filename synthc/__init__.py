"""synthc: a typed, reproducible compiler for synthetic training data.

The public API: `compile_file`, `compile_text` (from the compiler) and `build` (the runtime,
imported lazily so that checking a recipe never loads the model stack).
"""

from __future__ import annotations

from typing import Any

from synthc.compiler import CompileFailed, CompileResult, compile_file, compile_text

__version__ = "0.1.0"
__all__ = ["__version__", "compile_file", "compile_text", "CompileResult", "CompileFailed", "build"]


def build(path: str, **options: Any) -> Any:
    """Compile and execute the spec at `path`; see `synthc.runtime.build` for options."""
    from synthc.runtime import build as run_build

    return run_build(path, **options)
