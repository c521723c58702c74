#!/usr/bin/env bash
# Every benchmark, in order; results go to docs/benchmarks.md.
#   bench/run_all.sh            reuse /tmp/bench-100k.db if it exists
#   BENCH_DB=... bench/run_all.sh, or REGEN=1 to remake the data
set -euo pipefail
cd "$(dirname "$0")/.."
DB="${BENCH_DB:-/tmp/bench-100k.db}"
export CRM_CONFIG_DIR="${CRM_CONFIG_DIR:-$(mktemp -d)}"
unset CRM_DB CRM_USER

stale() {  # the data was made under an older schema: opening it would migrate (and back up) 750 MB
    python -c "import sys; from pathlib import Path; from tui_crm.storage.migrate import SCHEMA_HEAD, current_revision
sys.exit(current_revision(Path(sys.argv[1])) != SCHEMA_HEAD)" "$DB"
}
if [[ ! -f "$DB" || "${REGEN:-0}" == "1" ]] || stale; then
    python bench/datagen.py --db "$DB" --deals 100000 --contacts 100000 --companies 20000 --force
fi
python bench/bench_capture.py --big-db "$DB"
python bench/bench_search.py --db "$DB"
python bench/bench_board.py --db "$DB"
python bench/bench_lists.py --db "$DB"
DB10K="${BENCH_DB10K:-/tmp/bench-10k.db}"
if [[ ! -f "$DB10K" || "${REGEN:-0}" == "1" ]] || (DB="$DB10K"; stale); then
    python bench/datagen.py --db "$DB10K" --deals 10000 --contacts 10000 --companies 2000 --force
fi
python bench/bench_tui.py --db10k "$DB10K" --db100k "$DB"
python bench/bench_sync.py
python bench/bench_mail.py
python bench/bench_reports.py --db "$DB"   # the reports on the 100k deals (datagen writes their stage history)
echo "results: docs/benchmarks.md"
