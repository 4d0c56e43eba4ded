#!/usr/bin/env python3
"""Count the TAP results of every test meson ran (one or more testlog.json
files) and print them, ending with "N passed, N failed".  A test program
that crashed or exited non-zero counts as a failure even if its TAP lines
said ok; a skip is never a pass."""
import json
import re
import sys

passed = failed = skipped = 0
lines = []
# CI shows only the end of the output: each failure's own diagnostics (bats'
# "# " lines after "not ok") go there too, a few lines each.
details = []
records = []
for path in sys.argv[1:]:
    try:
        records += [json.loads(l) for l in open(path) if l.strip()]
    except OSError as e:
        print(f"summarize: {e}", file=sys.stderr)
        print("0 passed, 1 failed")
        sys.exit(1)

for r in records:
    name = r.get("name", "?")
    out = r.get("stdout") or ""
    p = f = s = 0
    collecting = None
    for line in out.splitlines():
        m = re.match(r"^(not ok|ok)\b\s*\d*\s*-?\s*(.*)$", line)
        if not m:
            if collecting is not None and line.startswith("#") and len(collecting) < 12:
                collecting.append("      " + line[:200])
            continue
        collecting = None
        desc = m.group(2)
        if re.search(r"#\s*SKIP", desc, re.I):
            s += 1
            lines.append(f"  skip  {name}: {desc}")
        elif m.group(1) == "ok":
            p += 1
        else:
            f += 1
            lines.append(f"  FAIL  {name}: {desc}")
            collecting = []
            details.append((f"  {name}: {desc}", collecting))
    result = r.get("result", "")
    if result not in ("OK", "EXPECTEDFAIL", "SKIP") and f == 0:
        # crashed, timed out, or a bad plan: the program as a whole failed
        f += 1
        lines.append(f"  FAIL  {name}: the test program ended with {result} (exit {r.get('returncode')})")
    passed += p
    failed += f
    skipped += s
    print(f"{name:24s} {p:4d} passed {f:3d} failed {s:3d} skipped  [{result}]")

for head, body in details:
    if body:
        print(head)
        for l in body:
            print(l)
for l in lines:
    print(l)
if skipped:
    print(f"{skipped} skipped (not counted as passed)")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
