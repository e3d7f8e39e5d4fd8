"""The one Jinja environment prompts are checked and rendered in: Jinja's sandbox plus resource limits.

The sandbox stops code execution (`__class__`, `mro`, `__globals__` …); it does not stop a template
from exhausting memory or time (`{{ "x" * 10**9 }}`, nested loops, `"{:>999999999}"`). This module
adds those limits (values in `limits.py`) and makes crossing one a `RenderError` with a code:

- every string or list a template builds, and all text it outputs, stays under MAX_RENDER_CHARS;
- loops run at most MAX_RENDER_ITERATIONS times per render, `range()` yields at most MAX_RANGE items;
- `*`, `**`, `+` and `%` are checked before they allocate; width-like arguments of filters and
  string methods (`center`, `ljust`, `indent`, `wordwrap` …) are bounded;
- macros and recursive loops call each other at most MAX_CALL_DEPTH deep;
- `str.format` / `format_map` are refused like the sandbox refuses `_`-attributes (format specs
  can ask for a billion-character field), so the static checker and the renderer agree;
- only data becomes text (E023): a method, function, class, module or generator printed, joined,
  formatted or filtered would put a memory address, different every run, into the prompt.

Every template is compiled through `_instrument`, which routes loop iterables, `~` concatenation and
every output through the guards below, so that even text captured by `{% set %}` blocks is counted.
"""

from __future__ import annotations

import contextvars
import datetime
import decimal
import functools
import operator
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, Template, Undefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import LoopContext, Macro
from jinja2.sandbox import SandboxedEnvironment

from synthc.compiler.limits import (
    MAX_CALL_DEPTH, MAX_EXPONENT, MAX_INT_BITS, MAX_RANGE, MAX_RENDER_CHARS, MAX_RENDER_ITERATIONS,
)

__all__ = ["RenderError", "environment", "compiled", "render", "BLOCKED_ATTRIBUTES", "is_blocked_attribute"]

# Attributes the sandbox refuses on some object type (jinja2.sandbox.is_internal_attribute), and the
# string formatting methods; plus every name that starts with `_`.
BLOCKED_ATTRIBUTES = frozenset({
    "mro", "format", "format_map",
    "gi_code", "gi_frame", "gi_yieldfrom", "cr_code", "cr_frame", "cr_await", "ag_code", "ag_frame", "ag_await",
    "f_globals", "f_locals", "f_builtins", "f_back", "f_code", "tb_frame", "tb_next", "co_code",
})

# Filters and string methods whose integer arguments size their result.
_WIDTH_FILTERS = frozenset({"center", "indent", "wordwrap", "truncate", "batch", "slice", "filesizeformat"})
_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


def is_blocked_attribute(name: str) -> bool:
    """True if the sandbox refuses `name` on some object (the static checker's rule).

    >>> is_blocked_attribute("__class__"), is_blocked_attribute("mro"), is_blocked_attribute("upper")
    (True, True, False)
    """
    return name.startswith("_") or name in BLOCKED_ATTRIBUTES


class RenderError(Exception):
    """A template crossed a limit (E520), made an access the sandbox refused (E021) or turned a value
    that is not data into text (E023)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _LimitExceeded(Exception):
    pass


class _NotData(Exception):
    """A template output (or turned into text) a value that is not data (E023)."""


# What a template may turn into text: the values recipes and data files carry. Anything else — a
# method (`{{ label.count }}`), a function, a class, a module, a generator (`{{ x|map('upper') }}`)
# — prints as `<… at 0x7f…>`, an address that changes every run, and with it the prompt, its
# cache key and the dataset's bytes.
_DATA_SCALARS = (str, int, float, bool, type(None), bytes, decimal.Decimal, datetime.date, datetime.time,
                 datetime.timedelta)


def _check_data(value: Any, what: str) -> Any:
    """`value` if it is data (scalars above; lists, tuples and dicts of data), else _NotData.
    An Undefined passes: turning it into text raises Jinja's own error (E521)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (_DATA_SCALARS, Undefined)):
            continue
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            raise _NotData(f"{what} is {_kind(item)}, not data: its text would change from run to run")
    return value


def _kind(value: Any) -> str:
    import inspect

    name = getattr(value, "__name__", "") or type(value).__name__
    if inspect.ismodule(value):
        return f"the module `{name}`"
    if inspect.isclass(value):
        return f"the class `{name}`"
    if callable(value):
        return f"the function or method `{name}`"
    return f"a `{type(value).__name__}` object"


def _is_code(value: Any) -> bool:
    """A function, method, class or module passed to a filter (`{{ label.upper|string }}`)."""
    import inspect

    return not isinstance(value, Undefined) and (callable(value) or inspect.ismodule(value))


@dataclass(slots=True)
class _Budget:
    chars: int = 0
    iterations: int = 0
    depth: int = 0


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("synthc_render_budget", default=None)


def _budget() -> _Budget:
    budget = _BUDGET.get()
    # Outside render() (compile-time constant folding) only the per-value limits apply.
    return budget if budget is not None else _Budget()


def _check_size(value: Any, what: str = "a value") -> Any:
    if isinstance(value, (str, list, tuple, dict)) and len(value) > MAX_RENDER_CHARS:
        raise _LimitExceeded(f"{what} of {len(value):,} items is over the limit of {MAX_RENDER_CHARS:,}")
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise _LimitExceeded(f"an integer of {value.bit_length():,} bits is over the limit of {MAX_INT_BITS}")
    return value


def _check_widths(name: str, args: Iterable[Any]) -> None:
    for a in args:
        if isinstance(a, int) and not isinstance(a, bool) and abs(a) > MAX_RENDER_CHARS:
            raise _LimitExceeded(f"`{name}({a:,})` would build a value over the limit of {MAX_RENDER_CHARS:,}")


_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\d+|\*)?(?:\.(\d+|\*))?")
_FORMAT_WIDTH = re.compile(r"\d+")


def _check_printf(fmt: str) -> None:
    for m in _PRINTF.finditer(fmt):
        for part in m.groups():
            if part and part != "*" and (len(part) > 7 or int(part) > MAX_RENDER_CHARS):
                raise _LimitExceeded(f"a format width of {part} is over the limit of {MAX_RENDER_CHARS:,}")


def _repeat(left: Any, right: Any) -> Any:
    for seq, n in ((left, right), (right, left)):
        if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * max(n, 0) > MAX_RENDER_CHARS:
            raise _LimitExceeded(f"repeating {len(seq):,} {'characters' if isinstance(seq, str) else 'items'} {n:,} times "
                                 f"is over the limit of {MAX_RENDER_CHARS:,}")
    return operator.mul(left, right)


def _power(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int) and abs(right) > MAX_EXPONENT and abs(left) > 1:
        raise _LimitExceeded(f"the exponent {right:,} is over the limit of {MAX_EXPONENT}")
    try:
        return operator.pow(left, right)
    except OverflowError:
        raise _LimitExceeded("the power overflows") from None


def _modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        _check_printf(left)
        _check_widths("%", right if isinstance(right, tuple) else (right,))
    return operator.mod(left, right)


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {"*": _repeat, "**": _power, "+": operator.add, "%": _modulo}


def _range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise _LimitExceeded(f"range() of {len(r):,} items is over the limit of {MAX_RANGE:,}")
    return r


def _lipsum(n: int = 5, html: bool = False, min: int = 20, max: int = 100) -> str:  # noqa: A002 - jinja's names
    from jinja2.utils import generate_lorem_ipsum

    _check_product(n, max)
    return str(generate_lorem_ipsum(n, html, min, max))


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)  # keeps jinja's pass_context/pass_environment marks
    def guarded(*args: Any, **kwargs: Any) -> Any:
        code = next((a for a in (*args, *kwargs.values()) if _is_code(a)), None)
        if code is not None:
            _check_data(code, f"the value given to `|{name}`")
        if name in _WIDTH_FILTERS:
            _check_widths(name, (*args, *kwargs.values()))
        strings = [a for a in (*args, *kwargs.values()) if isinstance(a, str)]
        if name == "format" and strings:
            _check_printf(strings[0])
        elif name == "replace":
            _check_replace(*strings[:3])
        elif name in ("indent", "wordwrap") and len(strings) > 1:
            _check_product(strings[0].count("\n") + 1, max(len(s) for s in strings[1:]))
        elif name == "join":
            value = [x for x in args if not isinstance(x, (str, int)) and hasattr(x, "__iter__")]
            if value:
                items = list(value[0])
                args = tuple(items if a is value[0] else a for a in args)
                _check_join(items, strings[0] if strings else "")
        return _check_size(func(*args, **kwargs), f"the result of `|{name}`")

    return guarded


def _check_product(count: int, size: int) -> None:
    if count * size > MAX_RENDER_CHARS:
        raise _LimitExceeded(f"the result would be over {MAX_RENDER_CHARS:,} characters")


def _check_replace(s: str = "", old: str = "", new: str = "", *_: str) -> None:
    hits = len(s) + 1 if old == "" else s.count(old)
    _check_product(1, len(s) + hits * len(new))


def _check_join(items: list[Any], sep: str) -> None:
    _check_product(1, sum(len(str(x)) for x in items) + len(sep) * max(0, len(items) - 1))


class _Environment(SandboxedEnvironment):
    intercepted_binops = frozenset(_BINOPS)

    def __init__(self) -> None:
        super().__init__(autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True)
        self.globals["range"] = _range
        self.globals["lipsum"] = _lipsum
        self.filters = {name: _guard_filter(name, f) for name, f in self.filters.items()}

    # -- the sandbox's hooks -------------------------------------------------------------------
    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return attr not in ("format", "format_map") and super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value: Any) -> None:
        return None  # str.format is refused (is_safe_attribute), not wrapped

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "%":  # `"%s" % label.count` prints the value
            _check_data(right, "a value formatted with `%`")
        return _check_size(_BINOPS[op](left, right), f"the result of `{op}`")

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - jinja's signature
        name = getattr(__obj, "__name__", "")
        if name in _WIDTH_METHODS and isinstance(getattr(__obj, "__self__", None), str):
            _check_widths(name, (*args, *kwargs.values()))
        if name == "replace" and isinstance(getattr(__obj, "__self__", None), str):
            _check_replace(__obj.__self__, *[a for a in args if isinstance(a, str)][:2])
        elif name == "join" and isinstance(getattr(__obj, "__self__", None), str) and args:
            args = (list(args[0]), *args[1:])
            _check_join(args[0], __obj.__self__)
        recursive = isinstance(__obj, (Macro, LoopContext))
        budget = _budget()
        if recursive:
            budget.depth += 1
            if budget.depth > MAX_CALL_DEPTH:
                raise _LimitExceeded(f"macros or recursive loops call each other more than {MAX_CALL_DEPTH} deep")
        try:
            return _check_size(SandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs),
                               f"the result of `{name or 'a call'}`")
        finally:
            if recursive:
                budget.depth -= 1

    # -- the guards the instrumented code calls --------------------------------------------------
    def synthc_iter(self, iterable: Any) -> Iterator[Any]:
        budget = _budget()
        for item in iterable:
            budget.iterations += 1
            if budget.iterations > MAX_RENDER_ITERATIONS:
                raise _LimitExceeded(f"loops ran more than {MAX_RENDER_ITERATIONS:,} iterations")
            yield item

    def synthc_concat(self, *parts: Any) -> str:
        texts = [str(_check_data(p, "a value joined with `~`")) for p in parts]
        if sum(len(t) for t in texts) > MAX_RENDER_CHARS:
            raise _LimitExceeded(f"`~` would build over {MAX_RENDER_CHARS:,} characters")
        return "".join(texts)

    def synthc_output(self, value: Any) -> str:
        text = str(_check_data(value, "a value the template outputs"))
        budget = _budget()
        budget.chars += len(text)
        if budget.chars > MAX_RENDER_CHARS:
            raise _LimitExceeded(f"the template output more than {MAX_RENDER_CHARS:,} characters")
        return text

    def _generate(self, source: nodes.Template, name: str | None, filename: str | None,
                  defer_init: bool = False) -> str:
        _instrument(source, self)
        return super()._generate(source, name, filename, defer_init=defer_init)  # type: ignore[no-any-return]


def _guard_call(guard: str, args: list[nodes.Expr], lineno: int, env: _Environment) -> nodes.Call:
    call = nodes.Call(nodes.EnvironmentAttribute(guard), args, [], None, None, lineno=lineno)
    call.set_environment(env)
    return call


def _instrument(tree: nodes.Template, env: _Environment) -> None:
    """Route loop iterables, `~` and every output through the guards (an iterative walk)."""
    stack: list[nodes.Node] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, nodes.For):
            node.iter = _guard_call("synthc_iter", [node.iter], node.lineno, env)
        elif isinstance(node, nodes.Output):
            node.nodes = [_guard_call("synthc_output", [child], child.lineno, env) for child in node.nodes]
        for field in node.fields:
            value = getattr(node, field)
            children = value if isinstance(value, list) else [value]
            for i, child in enumerate(children):
                if isinstance(child, nodes.Concat):
                    replacement = _guard_call("synthc_concat", child.nodes, child.lineno, env)
                    if isinstance(value, list):
                        value[i] = replacement
                    else:
                        setattr(node, field, replacement)
                    stack.extend(child.nodes)
                elif isinstance(child, nodes.Node):
                    stack.append(child)


@functools.cache
def environment() -> SandboxedEnvironment:
    """The one Jinja environment, shared by the checker and the runtime so that they agree: sandboxed,
    limited, no autoescape, undefined variables raise, `keep_trailing_newline` for exact prompts."""
    return _Environment()


@functools.lru_cache(maxsize=256)
def compiled(text: str) -> Template:
    """The compiled template for `text`: rows render the same few templates thousands of times."""
    return environment().from_string(text)


def render(text: str, **variables: Any) -> str:
    """Render `text` within the limits. Raises RenderError (E520 limit, E021 sandbox refusal, E023 a
    value that is not data);
    other errors (an undefined variable in data-dependent code) propagate as Jinja raises them."""
    token = _BUDGET.set(_Budget())
    try:
        return compiled(text).render(**variables)
    except _LimitExceeded as err:
        raise RenderError("E520", str(err)) from None
    except SecurityError as err:
        raise RenderError("E021", f"the sandbox refused: {err}") from None
    except _NotData as err:
        raise RenderError("E023", str(err)) from None
    except OverflowError as err:  # Jinja's own range guard, float overflow in arithmetic
        raise RenderError("E520", str(err)) from None
    finally:
        _BUDGET.reset(token)
