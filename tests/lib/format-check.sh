#!/usr/bin/env bash
# The style guide's rule 11: C sources follow .clang-format.  One TAP line
# per file.
cd "$(dirname "$0")/../.."
files=$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 2>/dev/null)
n=0
for f in $files; do n=$((n + 1)); done
echo "1..$n"
i=0
for f in $files; do
  i=$((i + 1))
  if out=$(clang-format --dry-run --Werror "$f" 2>&1); then
    echo "ok $i - $f"
  else
    echo "not ok $i - $f is not formatted (run: make format)"
    echo "$out" | head -5 | sed 's/^/# /'
  fi
done
