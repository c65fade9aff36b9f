#!/usr/bin/env bash
# Nightly routine: mirror an export folder into the corpus and update the index.
#
#   scripts/nightly-reindex.sh /srv/newsroom/export        # e.g. from cron: 0 3 * * *
#
# Uses the same code as `newsqa sync` (add, replace, delete; only changed articles are
# embedded; the live index is swapped atomically, so the bot keeps answering). If another
# re-index is running, it waits and retries a few times instead of failing the night.
set -euo pipefail
source_dir=$(realpath "${1:?usage: scripts/nightly-reindex.sh SOURCE_DIR}")
cd "$(dirname "$0")/.."
newsqa=.venv/bin/newsqa
[ -x "$newsqa" ] || make install
log_dir="${NEWSQA_DATA_DIR:-data}/logs"
mkdir -p "$log_dir"
log="$log_dir/reindex-$(date +%Y%m%d).log"
attempt_log=$(mktemp)
trap 'rm -f "$attempt_log"' EXIT
for attempt in 1 2 3 4 5; do
    if "$newsqa" sync "$source_dir" >"$attempt_log" 2>&1; then
        cat "$attempt_log" >>"$log"
        tail -n 1 "$log"
        exit 0
    fi
    cat "$attempt_log" >>"$log"
    if grep -q "is being written by" "$attempt_log"; then
        echo "index busy (attempt $attempt); retrying in 60s" | tee -a "$log" >&2
        sleep 60
        continue
    fi
    echo "re-index failed; see $log" >&2
    tail -n 5 "$log" >&2
    exit 1
done
echo "index stayed busy; giving up (see $log)" >&2
exit 1
