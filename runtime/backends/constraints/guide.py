"""guidance, imported where a grammar is built and nowhere else: `import guidance` costs about 2 s
(it imports its model classes, torch among them), so `synthc check`, the language server and
free-text builds never pay it (tests/test_layering.py)."""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["guidance"]


@functools.cache
def guidance() -> Any:
    import guidance as g

    return g
