#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checks the module's layering rules (Documentation/design.rst, "The tree").

- No import cycle crosses a folder boundary: the graph of folders under rust/
  (files at the top, infinisock_main.rs and its neighbours, are the folder "main")
  has no cycle.
- kernel_api/ imports nothing but itself and proto/; proto/ imports only itself.
- `unsafe` appears only in kernel_api/ (and in generated bindings).
- Prints the share of protocol code lines that is kernel-free and host-tested
  (proto/ against sdp/, af_ib/, link/, family/, proto/); --min-host-share fails below it.

Reads `use crate::...` trees and inline `crate::a::b` paths; written here because
no packaged tool knows the module's folder rules (cargo-modules needs a cargo
build of the module, which Kbuild does not give).
"""
import argparse
import os
import re
import sys

ROOT_FILES = "main"
WRAPPERS = "kernel_api"
PROTOCOL = ("sdp", "af_ib", "link", "family", "proto")


def folder_of(path, rust):
    rel = os.path.relpath(path, rust)
    return rel.split(os.sep)[0] if os.sep in rel else ROOT_FILES


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def expand_use(tree):
    """Paths named by one `use` tree: 'crate::{a::{b, c}, d}' -> ['crate::a::b', ...]."""
    tree = re.sub(r"\s+", "", tree)
    out = []

    def walk(prefix, t):
        if "{" not in t:
            out.append(prefix + t)
            return
        head, rest = t.split("{", 1)
        body = rest[: rest.rfind("}")]
        depth, part = 0, ""
        for ch in body + ",":
            if ch == "," and depth == 0:
                if part:
                    walk(prefix + head, part)
                part = ""
                continue
            depth += ch == "{"
            depth -= ch == "}"
            part += ch
    walk("", tree)
    return out


def imports(text, folders):
    """Folders a file names through crate paths."""
    text = strip_comments(text)
    paths = []
    for m in re.finditer(r"\buse\s+(crate::[^;]+);", text):
        paths += expand_use(m.group(1))
    paths += re.findall(r"(?<![:\w])crate::[a-z_]+", text)
    names = set()
    for p in paths:
        first = p.split("::")[1] if p.count("::") >= 1 else ""
        first = first.split("{")[0]
        if first in ("self", "super", ""):
            continue
        names.add(first if first in folders else ROOT_FILES)
    return names


def cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

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
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def code_lines(path):
    """Lines that are neither blank nor comments, up to a `#[cfg(test)]`/KUnit block."""
    n = 0
    with open(path) as f:
        for line in strip_comments(f.read()).splitlines():
            if line.strip():
                n += 1
    return n


def self_test():
    """The checker on a made-up tree that breaks each rule once: it must find all."""
    import tempfile
    files = {
        "kernel_api/sock.rs": "use crate::sdp::x;\nunsafe { f() }\n",
        "proto/wire.rs": "use crate::kernel_api::y;\n",
        "sdp/rx.rs": "use crate::{link::{a, b}, proto::z};\nlet v = unsafe { g() };\n",
        "link/link.rs": "fn f() { crate::sdp::rx::h(); }\n// unsafe in a comment is fine\n",
        "infinisock_main.rs": "use crate::sdp;\n",
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(tmp, name)), exist_ok=True)
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
        found = check(tmp, 0.9, quiet=True)
    expected = [
        "in a cycle: kernel_api <-> link <-> proto <-> sdp",
        "kernel_api/ imports sdp/",
        "proto/ imports kernel_api/",
        "unsafe outside kernel_api/: sdp/rx.rs:2",
        "below 90%",
    ]
    missing = [e for e in expected if not any(e in p for p in found)]
    extra = [p for p in found if not any(e in p for e in expected)]
    if missing or extra:
        print(f"not ok: self-test: missing {missing}, unexpected {extra}")
        return 1
    print("ok: self-test finds every broken rule")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rust", default=os.path.join(os.path.dirname(__file__), "..", "rust"))
    ap.add_argument("--min-host-share", type=float, default=0.0)
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    problems = check(os.path.abspath(args.rust), args.min_host_share)
    for p in problems:
        print("not ok: " + p)
    return 1 if problems else 0


def check(rust, min_host_share, quiet=False):
    """Returns the broken rules of the tree under `rust`."""
    folders = {d for d in os.listdir(rust) if os.path.isdir(os.path.join(rust, d))}
    files = []
    for dirpath, _, names in os.walk(rust):
        files += [os.path.join(dirpath, n) for n in names if n.endswith(".rs") and "generated" not in n]
    graph, problems, unsafe_at = {}, [], []
    lines = {}
    for path in sorted(files):
        src = folder_of(path, rust)
        text = open(path).read()
        for dst in imports(text, folders):
            if dst != src:
                graph.setdefault(src, set()).add(dst)
        body = strip_comments(text)
        if src != WRAPPERS:
            for i, line in enumerate(body.splitlines(), 1):
                if re.search(r"\bunsafe\b", line):
                    unsafe_at.append(f"{os.path.relpath(path, rust)}:{i}: {line.strip()}")
        if os.path.basename(path) != "mod.rs":
            lines[src] = lines.get(src, 0) + code_lines(path)
    for comp in cycles(graph):
        problems.append("folders import each other in a cycle: " + " <-> ".join(comp))
    for dst in sorted(graph.get(WRAPPERS, ())):
        if dst != "proto":
            problems.append(f"{WRAPPERS}/ imports {dst}/ (it may import only proto/)")
    for dst in sorted(graph.get("proto", ())):
        problems.append(f"proto/ imports {dst}/ (it must stay kernel-free)")
    for u in unsafe_at:
        problems.append(f"unsafe outside {WRAPPERS}/: {u}")
    protocol = sum(lines.get(f, 0) for f in PROTOCOL)
    share = lines.get("proto", 0) / protocol if protocol else 0.0
    if not quiet:
        print("folder imports:")
        for src in sorted(graph):
            print(f"  {src:11} -> {', '.join(sorted(graph[src]))}")
        print("code lines: " + ", ".join(f"{f} {lines.get(f, 0)}" for f in sorted(lines)))
        print(f"host-tested share of protocol code (proto/ of {'+'.join(PROTOCOL)}): {share:.0%}")
    if share < min_host_share:
        problems.append(f"host-tested share {share:.0%} is below {min_host_share:.0%}")
    return problems


if __name__ == "__main__":
    sys.exit(main())
