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


def _pyproject() -> dict:
    import tomllib

    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as fh:
        return tomllib.load(fh)


def test_package_data_and_packages_match_the_tree() -> None:
    import glob

    tool = _pyproject()["tool"]["setuptools"]
    dirs = tool["package-dir"]
    for pkg, patterns in tool.get("package-data", {}).items():
        for pattern in patterns:
            assert glob.glob(os.path.join(ROOT, dirs[pkg], pattern)), f"package-data {pkg}: {pattern} matches nothing"
    listed = set(tool["packages"])
    assert all(os.path.isfile(os.path.join(ROOT, dirs[p], "__init__.py")) for p in listed)
    on_disk = set()
    for pkg, folder in dirs.items():
        for base, subdirs, files in os.walk(os.path.join(ROOT, folder)):
            subdirs[:] = [d for d in subdirs if d != "__pycache__"]
            if "__init__.py" in files:
                rel = os.path.relpath(base, os.path.join(ROOT, folder))
                on_disk.add(pkg if rel == "." else pkg + "." + rel.replace(os.sep, "."))
    assert on_disk <= listed, f"add to pyproject's packages/package-dir: {sorted(on_disk - listed)}"


def test_readme_links_resolve() -> None:
    import re

    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if "://" not in target:
            assert os.path.exists(os.path.join(ROOT, target)), target


def test_security_doc_quotes_the_limits_the_compiler_enforces() -> None:
    """One home for each limit (compiler/limits.py); docs/security.md quotes it, the E204 help prints it."""
    import re

    from synthc.compiler.limits import MAX_ROWS
    from synthc.compiler.schema import SCHEMAS

    with open(os.path.join(ROOT, "docs", "security.md"), encoding="utf-8") as fh:
        row = next(line for line in fh if line.startswith("| counts (`per_label`"))
    assert re.search(r"\| ([\d,]+) \| E204 \|", row).group(1) == f"{MAX_ROWS:,}"
    per_label = next(f for f in SCHEMAS["task"].fields if f.name == "per_label")
    assert per_label.type.hi == MAX_ROWS
