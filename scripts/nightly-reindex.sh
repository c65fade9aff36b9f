#!/usr/bin/env bash
# Nightly routine: mirror an export folder into the corpus and update the index.
#
#   scripts/nightly-reindex.sh /srv/newsroom/export        # e.g. from cron: 0 3 * * *
#
# Uses the same code as `newsqa sync` (add, replace, delete; only changed articles are
# embedded; the live index is swapped atomically, so the bot keeps answering). If another
# re-index is running, it waits and retries a few times instead of failing the night.
# A sync that would remove more than NEWSQA_MAX_REMOVE_SHARE of the index (an empty or
# wrong export) is refused with exit status 4 and not retried; pass --force to apply it.
# Exit status 3: done, but some articles were skipped (listed in the log).
set -euo pipefail
source_dir=$(realpath "${1:?usage: scripts/nightly-reindex.sh SOURCE_DIR [--force]}")
force=()
[ "${2:-}" = "--force" ] && force=(--force)
cd "$(dirname "$0")/.."
newsqa=.venv/bin/newsqa
[ -x "$newsqa" ] || make install
log_dir="${NEWSQA_DATA_DIR:-data}/logs"
mkdir -p "$log_dir"
log="$log_dir/reindex-$(date +%Y%m%d).log"
attempt_log=$(mktemp)
trap 'rm -f "$attempt_log"' EXIT
for attempt in 1 2 3 4 5; do
    status=0
    "$newsqa" sync "${force[@]}" "$source_dir" >"$attempt_log" 2>&1 || status=$?
    cat "$attempt_log" >>"$log"
    if [ "$status" -eq 0 ] || [ "$status" -eq 3 ]; then
        [ "$status" -eq 3 ] && grep '^skipped' "$attempt_log" >&2
        tail -n 1 "$log"
        exit "$status"
    fi
    if [ "$status" -eq 4 ]; then
        grep -v '^skipped' "$attempt_log" >&2
        exit 4
    fi
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
