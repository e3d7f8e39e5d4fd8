"""Rendering the recipe's templates at run time: the one call the runtime makes into the sandbox.

The sandbox and its resource limits live in compiler/sandbox.py (the checker compiles templates in
the same environment). Here every failure of a render becomes a coded diagnostic that points at the
template in the recipe, never an internal error: a limit crossed (E520), an access the sandbox
refused (E021), a value that is not data turned into text (E023), or any other error the template raised on this row's data (E521).
"""

from __future__ import annotations

from typing import Any

from synthc.compiler import ir
from synthc.compiler.sandbox import RenderError, render
from synthc.runtime.errors import fail

__all__ = ["render_template"]

_HELP = {
    "E520": "shorten what the template builds; prompts are a few thousand characters (docs/security.md)",
    "E021": "read data fields only; format with filters such as `round` or `format`",
    "E023": "output data fields, or call the method: `{{ label.upper() }}`, not `{{ label.upper }}`",
    "E521": "the template fails on this row's values; guard it (`{% if x is defined %}`) or fix the data",
}


def render_template(template: ir.Template, variables: dict[str, Any], row: str | None = None,
                    help: str | None = None) -> str:
    """`template` rendered with `variables` under the sandbox's limits; `row` names the data row
    in messages, `help` replaces the generic help line of E521."""
    try:
        return render(template.text, **variables)
    except RenderError as err:
        code, message = err.code, err.message
    except Exception as err:  # noqa: BLE001 - Jinja and the values' own methods raise many types
        code, message = "E521", f"{type(err).__name__}: {err}"
    where = f" for {row}" if row else ""
    raise fail(code, f"template failed{where}: {message}", template.origin, "this template",
               help=help if help and code == "E521" else _HELP[code])
