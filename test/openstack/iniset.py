#!/usr/bin/python3
"""iniset.py FILE [SECTION KEY VALUE]...: sets KEY = VALUE in SECTION of an ini file in place,
like devstack's iniset: an uncommented KEY in SECTION is replaced, else the line goes right after
the section's header (a missing section is appended). Comments and other lines are kept, so
Debian's sample configs keep their defaults. Idempotent."""
import re
import sys


def iniset(lines, section, key, value):
    line = f"{key} = {value}\n"
    start = None
    for i, l in enumerate(lines):
        m = re.match(r"\s*\[([^\]]+)\]", l)
        if m:
            if start is not None:
                break
            if m.group(1) == section:
                start = i
        elif start is not None and re.match(rf"\s*{re.escape(key)}\s*=", l):
            lines[i] = line
            return
    if start is None:
        lines += [f"\n[{section}]\n", line]
    else:
        lines.insert(start + 1, line)


def main():
    path, args = sys.argv[1], sys.argv[2:]
    if len(args) % 3:
        sys.exit(f"iniset.py {path}: want SECTION KEY VALUE triples, got {args}")
    with open(path) as f:
        lines = f.readlines()
    before = list(lines)
    for i in range(0, len(args), 3):
        iniset(lines, *args[i:i + 3])
    if lines != before:  # the file's mtime tells svc to restart the service
        with open(path, "w") as f:
            f.writelines(lines)


main()
