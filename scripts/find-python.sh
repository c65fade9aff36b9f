#!/usr/bin/env bash
# Print the path of a working interpreter called $1 (default python3).
#
#   scripts/find-python.sh python3.12
#
# On pyenv machines `python3.12` is a shim that refuses to run unless that version is
# active; then the interpreter is looked up among pyenv's installed versions instead.
set -euo pipefail
name="${1:-python3}"
if "$name" -c 'import sys' >/dev/null 2>&1; then
    "$name" -c 'import sys; print(sys.executable)'
    exit 0
fi
if command -v pyenv >/dev/null 2>&1; then
    root=$(pyenv root)
    for version in $(pyenv versions --bare 2>/dev/null | sort -rV); do
        candidate="$root/versions/$version/bin/$name"
        if [ -x "$candidate" ] && "$candidate" -c 'import sys' >/dev/null 2>&1; then
            echo "$candidate"
            exit 0
        fi
    done
fi
echo "no working '$name' found (install it, or pass PYTHON=/path/to/python)" >&2
exit 1
