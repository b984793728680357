#!/usr/bin/env python3
"""Checks the include graph of src/ against the layers declared in src/LAYERS.

Every file under src/ belongs to a module: src/<dir>/... is module <dir>,
a file directly in src/ is module `main`. An #include "..." resolves as the
compiler does (-Isrc): next to the including file first, then under src/.

Fails (exit 1), printing one line per problem, on:
  - an include of a module on a higher line of src/LAYERS (pointing upward);
  - a cycle between modules (possible only among modules declared on the
    same line, which may include each other one way);
  - a directory of src/ that src/LAYERS does not declare;
  - a line of the allowlist (scripts/layers-allow.txt) that no longer
    matches a violation (the list only shrinks) or has no reason.
Allowlisted includes are today's known violations: upward ones, and
sibling ones (same line) that close a cycle. They are left out of the
checks and reported as a count; a listed line is stale once its include
is gone, no longer points upward, or (sibling) closes no cycle any more.

Usage: scripts/layers.py [--graph]   (from the repository root; --graph
prints the module graph, one "a -> b (n includes)" line per edge)
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")
LAYERS = os.path.join(SRC, "LAYERS")
ALLOW = os.path.join(ROOT, "scripts", "layers-allow.txt")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def read_layers():
    level, order = {}, []
    with open(LAYERS) as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].split()
            if not line:
                continue
            for mod in line:
                if mod in level:
                    sys.exit(f"src/LAYERS:{n}: {mod} declared twice")
                level[mod] = len(order)
            order.append(line)
    return level, order


def read_allow():
    allow, problems = {}, []
    if not os.path.exists(ALLOW):
        return allow, problems
    with open(ALLOW) as f:
        for n, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            m = re.match(r"^(\S+)\s+->\s+(\S+)\s+#\s*(.*\S)?\s*$", line)
            if not m or not m.group(3):
                problems.append(f"scripts/layers-allow.txt:{n}: expected "
                                f"'src/<file> -> <header>  # reason': {line}")
                continue
            allow[(m.group(1), m.group(2))] = n
    return allow, problems


def module_of(rel):  # rel: path under src/
    parts = rel.split("/")
    return parts[0] if len(parts) > 1 else "main"


def sources():
    for dirpath, _, files in os.walk(SRC):
        for name in sorted(files):
            if name.endswith((".c", ".h", ".def")):
                yield os.path.relpath(os.path.join(dirpath, name), SRC)


def resolve(rel, inc):
    here = os.path.normpath(os.path.join(os.path.dirname(rel), inc))
    if os.path.exists(os.path.join(SRC, here)):
        return here
    if os.path.exists(os.path.join(SRC, inc)):
        return os.path.normpath(inc)
    return None  # a generated or system header: not ours


def find_cycle(graph):
    """One cycle of the module graph as a list of modules, or None."""
    state, stack = {}, []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if not state.get(n):
                c = visit(n)
                if c:
                    return c
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if not state.get(m):
            c = visit(m)
            if c:
                return c
    return None


def main():
    level, order = read_layers()
    allow, problems = read_allow()
    used = set()
    graph, counts, allowed_up = {}, {}, 0
    example = {}
    same_layer = []
    for d in sorted(os.listdir(SRC)):
        if os.path.isdir(os.path.join(SRC, d)) and d not in level:
            problems.append(f"src/{d}/: module not declared in src/LAYERS")
    for rel in sources():
        src_mod = module_of(rel)
        if src_mod not in level:
            continue  # reported above
        with open(os.path.join(SRC, rel), errors="replace") as f:
            text = f.read()
        for inc in INCLUDE.findall(text):
            target = resolve(rel, inc)
            if target is None:
                continue
            dst_mod = module_of(target)
            if dst_mod == src_mod or dst_mod not in level:
                continue
            key = ("src/" + rel, target)
            if level[dst_mod] == level[src_mod] and key in allow:
                # a sibling include known to close a cycle: left out of the
                # graph, stale once the graph without it has no cycle to close
                same_layer.append((key, src_mod, dst_mod))
                continue
            if level[dst_mod] > level[src_mod]:
                if key in allow:
                    used.add(key)
                    allowed_up += 1
                    continue
                problems.append(f"src/{rel}: includes {target}: {src_mod} "
                                f"may not include {dst_mod} (a higher layer "
                                f"in src/LAYERS)")
                continue
            graph.setdefault(src_mod, set()).add(dst_mod)
            example.setdefault((src_mod, dst_mod), f"src/{rel} includes {target}")
            counts[(src_mod, dst_mod)] = counts.get((src_mod, dst_mod), 0) + 1
    for key, a, b in same_layer:
        trial = {m: set(v) for m, v in graph.items()}
        trial.setdefault(a, set()).add(b)
        if find_cycle(trial):
            used.add(key)
            allowed_up += 1
    for key, n in sorted(allow.items(), key=lambda kv: kv[1]):
        if key not in used:
            problems.append(f"scripts/layers-allow.txt:{n}: {key[0]} -> "
                            f"{key[1]} is no longer a violation: "
                            f"remove the line")
    cycle = find_cycle(graph)
    if cycle:
        problems.append("include cycle between modules: " + " -> ".join(cycle)
                        + " (" + "; ".join(example[(a, b)] for a, b in
                                           zip(cycle, cycle[1:])) + ")")
    if "--graph" in sys.argv:
        for (a, b), n in sorted(counts.items(),
                                key=lambda kv: (-level[kv[0][0]], kv[0])):
            print(f"{a} -> {b} ({n} includes)")
    for p in problems:
        print(p)
    if problems:
        print(f"layers: {len(problems)} problem(s); the layers are declared "
              f"in src/LAYERS, known violations in scripts/layers-allow.txt")
        return 1
    print(f"layers: ok ({len(order)} layers; {allowed_up} allowlisted "
          f"include(s) left in scripts/layers-allow.txt)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
