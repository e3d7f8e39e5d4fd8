"""The surface syntax as frozen dataclasses. Spans are excluded from equality so that
`parse(fmt(x)) == x` compares meaning-bearing structure only."""

from __future__ import annotations

from dataclasses import dataclass, field

from synthc.compiler.source import NO_SPAN, Span

__all__ = [
    "Str", "Num", "Ref", "Arg", "Call", "ListExpr", "RangeExpr", "Expr",
    "Attribute", "Block", "Declaration", "Directive", "Item", "Spec", "Comment",
]

_S = dict(frozen=True, slots=True, kw_only=True)


def _span() -> Span:
    return field(default=NO_SPAN, compare=False, repr=False)  # type: ignore[no-any-return]


@dataclass(**_S)
class Str:
    value: str  # decoded: escapes processed, triple-quoted text dedented
    triple: bool = field(default=False, compare=False)  # how it was written (fmt re-decides)
    span: Span = _span()


@dataclass(**_S)
class Num:
    value: int | float
    span: Span = _span()


@dataclass(**_S)
class Ref:
    parts: tuple[str, ...]  # `seed.text` -> ("seed", "text")
    span: Span = _span()

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@dataclass(**_S)
class Arg:
    name: str | None  # None for a positional argument
    value: Expr
    span: Span = _span()


@dataclass(**_S)
class Call:
    callee: Ref
    args: tuple[Arg, ...]
    span: Span = _span()


@dataclass(**_S)
class ListExpr:
    items: tuple[Expr, ...]
    span: Span = _span()


@dataclass(**_S)
class RangeExpr:
    lo: Expr
    hi: Expr
    span: Span = _span()


Expr = Str | Num | Ref | Call | ListExpr | RangeExpr


@dataclass(**_S)
class Attribute:
    key: str
    value: Expr
    key_span: Span = _span()
    span: Span = _span()


@dataclass(**_S)
class Block:
    kind: str
    name: str | None
    items: tuple[Item, ...]
    kind_span: Span = _span()
    name_span: Span = _span()
    span: Span = _span()

    def attrs(self) -> list[Attribute]:
        return [i for i in self.items if isinstance(i, Attribute)]

    def blocks(self, kind: str | None = None) -> list[Block]:
        return [i for i in self.items if isinstance(i, Block) and (kind is None or i.kind == kind)]

    def get(self, key: str) -> Attribute | None:
        return next((a for a in self.attrs() if a.key == key), None)


@dataclass(**_S)
class Declaration:
    kind: str  # "param"
    name: str
    value: Expr
    kind_span: Span = _span()
    name_span: Span = _span()
    span: Span = _span()


@dataclass(**_S)
class Directive:
    kind: str  # "import"
    arg: Str
    kind_span: Span = _span()
    span: Span = _span()


Item = Attribute | Block | Declaration | Directive


@dataclass(**_S)
class Comment:
    text: str  # including the leading '#'
    span: Span = _span()


@dataclass(**_S)
class Spec:
    items: tuple[Item, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)
    file: int = field(default=0, compare=False)
