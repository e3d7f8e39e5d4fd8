"""docs/language.md documents every block kind and every field of the schema table."""

from __future__ import annotations

import os

from conftest import ROOT
from synthc.compiler.schema import SCHEMAS


def test_every_schema_field_is_documented() -> None:
    with open(os.path.join(ROOT, "docs", "language.md"), encoding="utf-8") as fh:
        doc = fh.read()
    missing = []
    for kind, schema in SCHEMAS.items():
        if f"`{kind}" not in doc:
            missing.append(kind)
        for f in schema.fields:
            if f"`{f.name}`" not in doc:
                missing.append(f"{kind}.{f.name}")
    assert missing == []
