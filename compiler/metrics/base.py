"""What a metric kind declares (compiler/metrics/__init__.py explains the registry)."""

from __future__ import annotations

from typing import ClassVar

from synthc.compiler.fields import Field

__all__ = ["MetricKind"]


class MetricKind:
    """The compiler's half of one metric: its name and docs (the `metrics` list's hover and
    completion, `synthc eval --help`), the `evaluate` settings it owns, and what its input must
    carry. The runtime's half (the computation, its report columns) is the `Measure` of the same
    name in runtime/eval/measures/."""

    name: ClassVar[str]  # what `metrics = [...]` and `synthc eval --metrics` name
    doc: ClassVar[str]  # one line: what it measures and which way is better
    # Fields of the `evaluate` block it owns; each is also a `synthc eval` option (`--self-bleu-sample`)
    # unless `command_line` is False (settings that name a recipe's declarations).
    settings: ClassVar[tuple[Field, ...]] = ()
    command_line: ClassVar[bool] = True
    needs_labels: ClassVar[bool] = False  # asked for by name, every dataset must be labelled (E601)
