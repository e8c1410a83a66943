#!/usr/bin/env python3
"""The shape rules of issue 13, checked on every test run:

- no source file outside tests is over 700 lines;
- no two modules of a crate import each other, directly or through others
  (a cycle in the graph of `crate::` paths). A module and its own
  submodules count as one unit: a parent that declares and uses its
  children, children that use the parent's types, is Rust's usual shape.

Usage: scripts/check-shape.py [TREE]   (exit 1 and a list of offenders when broken)
"""
import os
import re
import sys

MAX_LINES = 700
CRATES = ["protocol", "agent", "core", "cli", "ffi", "mcp", "codeapi", "bindings/node", "bindings/python"]
ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def module_of(src, path):
    rel = os.path.relpath(path, src)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return tuple(rel)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def crate_paths(text):
    """Every module path named after `crate::`, with `use crate::{a, b::c}` groups expanded."""
    paths = []
    for m in re.finditer(r"\bcrate::((?:\w+::)*)\{([^;]*?)\}", text, flags=re.S):
        base = [p for p in m.group(1).split("::") if p]
        for item in re.split(r",", m.group(2)):
            item = item.strip()
            if item:
                paths.append(base + [p for p in re.split(r"::", item.split(" as ")[0]) if p and p != "{"])
    for m in re.finditer(r"\bcrate::((?:\w+::)*\w+)", text):
        paths.append(m.group(1).split("::"))
    return paths


def check_crate(crate):
    src = os.path.join(ROOT, crate, "src")
    files = {}
    for d, _, names in os.walk(src):
        for n in names:
            if n.endswith(".rs"):
                p = os.path.join(d, n)
                files[module_of(src, p)] = p
    problems = []
    for mod, p in files.items():
        with open(p, encoding="utf-8") as f:
            lines = f.read().count("\n")
        if lines > MAX_LINES:
            problems.append(f"{os.path.relpath(p, ROOT)}: {lines} lines (over {MAX_LINES})")
    mods = set(files)
    edges = {m: set() for m in mods}
    for mod, p in files.items():
        with open(p, encoding="utf-8") as f:
            text = strip_comments(f.read())
        # `#[cfg(test)] mod tests` blocks may use anything.
        text = re.split(r"#\[cfg\(test\)\]\s*mod tests", text)[0]
        for path in crate_paths(text):
            target = None
            for i in range(len(path), 0, -1):
                if tuple(path[:i]) in mods:
                    target = tuple(path[:i])
                    break
            if target is None or target == ():
                continue
            related = target[: len(mod)] == mod or mod[: len(target)] == target
            if not related:
                edges[mod].add(target)
    # Cycles: strongly connected components of more than one module.
    index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(mods):
        if v not in index:
            visit(v)
    for comp in sccs:
        names = sorted("::".join(m) for m in comp)
        pairs = sorted(
            f"{'::'.join(a)} -> {'::'.join(b)}" for a in comp for b in edges[a] if b in comp
        )
        problems.append(f"{crate}: modules import each other: {', '.join(names)} ({'; '.join(pairs)})")
    return problems


def main():
    problems = [p for c in CRATES for p in check_crate(c)]
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"check-shape: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"check-shape: {len(CRATES)} crates, no file over {MAX_LINES} lines, no module cycles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
