#!/usr/bin/env python3
"""Fails if modules of a crate import each other in a circle.

For each crate's `src/`, every module (a file, or a directory with mod.rs) at depth 1 and 2 is a
node; a reference `crate::a::b` or `super::x` in non-test code is an edge from the module that
holds it to the module it names. Test code (`#[cfg(test)]` items to the end of the file, and
`tests.rs` files) is left out: tests may look anywhere. Prints each cycle and exits 1 if any.
Usage: .ci/module-cycles.py runner harness-gen inventory
"""
import re
import sys
from pathlib import Path

REF = re.compile(r"\b(crate|super)((?:::[a-z_][a-z0-9_]*)+)")


def module_of(src: Path, file: Path) -> list[str]:
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return parts


def strip(text: str) -> str:
    text = re.sub(r"//[^\n]*", "", text)
    cut = text.find("#[cfg(test)]")
    return text if cut < 0 else text[:cut]


def edges(src: Path, depth: int):
    mods = set()
    for f in src.rglob("*.rs"):
        m = module_of(src, f)
        if m:
            mods.add(tuple(m[:depth]))
    out = {}
    for f in src.rglob("*.rs"):
        if f.name == "tests.rs":
            continue
        here = module_of(src, f)
        if not here:
            continue
        node = tuple(here[:depth])
        for kind, path in REF.findall(strip(f.read_text())):
            names = path.strip(":").split("::")
            if kind == "crate":
                target = names
            else:
                # `super` is the parent of the module the file holds (`a/b.rs` and
                # `a/b/mod.rs` are both `a::b`, whose parent is `a`).
                ups = 1
                while names and names[0] == "super":
                    ups += 1
                    names = names[1:]
                target = here[: len(here) - ups] + names
            for d in range(min(depth, len(target)), 0, -1):
                t = tuple(target[:d])
                if t in mods:
                    if t != node and t[: len(node)] != node and node[: len(t)] != t:
                        out.setdefault(node, set()).add(t)
                    break
    return mods, out


def cycles(nodes, graph):
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
                found.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return found


def main():
    bad = False
    for crate in sys.argv[1:]:
        src = Path(crate) / "src"
        for depth in (1, 2):
            nodes, graph = edges(src, depth)
            for comp in cycles(nodes, graph):
                bad = True
                print(f"{crate}: cycle among " + ", ".join("::".join(c) for c in sorted(comp)))
        print(f"{crate}: {len(nodes)} modules checked")
    sys.exit(1 if bad else 0)


main()
