#!/usr/bin/env python3
"""Shape of the Swift sources: file and function sizes, the longest functions, access control.

    bench/code-shape.py [Sources]

Functions are found by a brace-matching scan (func/init/deinit/subscript and computed
properties with a body are not told apart from one another: each `func`/`init` declaration
with a body counts once). Good enough to compare before and after a refactoring; not a parser.
"""
import re
import statistics
import sys
from pathlib import Path

DECL = re.compile(r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|private|fileprivate|internal|package|static|final|"
                  r"override|mutating|nonisolated|convenience|required|class)\s+)*(func\s+[^\s(<]+|init[?!]?|deinit)\b")
ACCESS = re.compile(r"^\s*(?:@\w+\s+)*(private|fileprivate)\s")


def strip(line):
    """The line without string literals and // comments (so braces inside them do not count)."""
    line = re.sub(r'"(?:\\.|[^"\\])*"', '""', line)
    return line.split("//", 1)[0]


def functions(path):
    lines = path.read_text().splitlines()
    found = []
    i = 0
    while i < len(lines):
        m = DECL.match(lines[i])
        if not m:
            i += 1
            continue
        depth, opened, j = 0, False, i
        while j < len(lines):
            code = strip(lines[j])
            depth += code.count("{") - code.count("}")
            opened = opened or "{" in code
            if opened and depth <= 0:
                break
            if not opened and j > i and (DECL.match(lines[j]) or code.strip() == "}"):
                break  # a protocol requirement: no body
            j += 1
        if opened:
            found.append((j - i + 1, f"{path}:{i + 1}", m.group(1)))
        i += 1
    return found


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "Sources")
    files = sorted(root.rglob("*.swift"))
    sizes = [len(f.read_text().splitlines()) for f in files]
    funcs = [fn for f in files for fn in functions(f)]
    lengths = [n for n, _, _ in funcs]
    text = "\n".join(f.read_text() for f in files)
    restricted = sum(1 for line in text.splitlines() if ACCESS.match(line))
    print(f"files {len(files)}, lines {sum(sizes)}, median file {statistics.median(sizes)} lines, largest {max(sizes)}")
    print(f"functions {len(funcs)}, median {statistics.median(lengths)} lines, "
          f"p90 {sorted(lengths)[int(len(lengths) * 0.9)]}, over 40 lines: {sum(1 for n in lengths if n > 40)}")
    print(f"private/fileprivate declarations: {restricted}")
    print("longest functions:")
    for n, where, name in sorted(funcs, reverse=True)[:10]:
        print(f"  {n:4d}  {name:32s} {where}")


if __name__ == "__main__":
    main()
