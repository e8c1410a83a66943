#!/usr/bin/env python3
"""Checks that the Python and Node READMEs list every public method, and
nothing else, so that the docs cannot drift from the typed API.

The source of truth is the stubs people type-check against:
  bindings/python/python/kled/_kled.pyi  (classes re-exported by kled/__init__.py)
  bindings/node/index.d.ts
Each README has a section "## Every public method" whose bullet lines start
with `Class.method(...)`; this script compares the two sets of names and
prints what is missing or stale. Exit status 0 when they agree.
Run by scripts/suites/60-packaging.sh.
"""

import ast
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SECTION = "## Every public method"


def python_methods(stub: pathlib.Path) -> set:
    """Class.method for every public def in the stub's classes, properties excluded."""
    found = set()
    for node in ast.parse(stub.read_text()).body:
        if not isinstance(node, ast.ClassDef) or node.name.startswith("_"):
            continue
        for item in node.body:
            if not isinstance(item, ast.FunctionDef) or item.name.startswith("_"):
                continue
            decorators = {d.id if isinstance(d, ast.Name) else getattr(d, "attr", "") for d in item.decorator_list}
            if "property" in decorators:
                continue
            found.add(f"{node.name}.{item.name}")
    return found


def node_methods(dts: pathlib.Path) -> set:
    """Class.method for every method declared in an exported class (no constructor, no [Symbol.x])."""
    found = set()
    cls = None
    for line in dts.read_text().splitlines():
        start = re.match(r"export (?:declare )?class (\w+)", line)
        if start:
            cls = start.group(1)
            continue
        if cls and line.startswith("}"):
            cls = None
            continue
        m = re.match(r"  (?:static )?([A-Za-z_]\w*)\s*[<(]", line)
        if cls and m and m.group(1) != "constructor" and not m.group(1).startswith("_"):
            found.add(f"{cls}.{m.group(1)}")
    return found


def documented(readme: pathlib.Path) -> set:
    """Class.method of every bullet in the README's SECTION."""
    text = readme.read_text()
    if SECTION not in text:
        raise SystemExit(f"{readme.relative_to(ROOT)} has no '{SECTION}' section")
    body = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in body.splitlines():
        m = re.match(r"- `(\w+)\.(\w+)\(", line)
        if m:
            names.add(f"{m.group(1)}.{m.group(2)}")
        elif line.startswith("- "):
            raise SystemExit(f"{readme.relative_to(ROOT)}: a bullet that names no Class.method(: {line!r}")
    return names


def compare(label: str, api: set, readme: pathlib.Path) -> bool:
    docs = documented(readme)
    missing, stale = sorted(api - docs), sorted(docs - api)
    for name in missing:
        print(f"{label}: {name} is public but not listed in {readme.relative_to(ROOT)}")
    for name in stale:
        print(f"{label}: {readme.relative_to(ROOT)} lists {name}, which the stubs do not declare")
    if not api:
        print(f"{label}: no public methods found in the stubs (parser out of date?)")
        return False
    if not missing and not stale:
        print(f"{label}: {len(api)} public methods, all listed in {readme.relative_to(ROOT)}")
    return not missing and not stale


def main() -> int:
    py = compare(
        "python", python_methods(ROOT / "bindings/python/python/kled/_kled.pyi"), ROOT / "bindings/python/README.md"
    )
    node = compare("node", node_methods(ROOT / "bindings/node/index.d.ts"), ROOT / "bindings/node/README.md")
    return 0 if py and node else 1


if __name__ == "__main__":
    sys.exit(main())
