#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 600) with cargo-fuzz on nightly, JOBS at a time
# (default 2), and prints a Markdown table of executions per target. Crashes fail the run.
#   cargo install cargo-fuzz && rustup toolchain install nightly   (once)
#   fuzz/run.sh 600 2 > fuzz-report.md
#   TARGETS="import_goodreads canonical_key" fuzz/run.sh 60
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"
jobs="${2:-2}"
logs="$(mktemp -d)"
targets="${TARGETS:-$(cargo +nightly fuzz list)}"
cargo +nightly fuzz build >&2

run_one() {
  local target="$1"
  # New inputs go to a scratch corpus; the committed seeds in corpus/ are only read.
  mkdir -p "corpus/$target" "$logs/corpus-$target"
  if cargo +nightly fuzz run "$target" "$logs/corpus-$target" "corpus/$target" -- \
      -max_total_time="$seconds" -print_final_stats=1 \
      > "$logs/$target.log" 2>&1; then
    echo ok > "$logs/$target.status"
  else
    echo CRASH > "$logs/$target.status"
  fi
}
export -f run_one
export seconds logs
printf "%s\n" $targets | xargs -P "$jobs" -I{} bash -c "run_one {}"

echo "| target | seconds | executions | execs/s | new corpus entries | result |"
echo "|---|---:|---:|---:|---:|---|"
failed=0
for target in $targets; do
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$logs/$target.log" | grep -o '[0-9]*$' | tail -1)
  corpus=$(ls "$logs/corpus-$target" | wc -l)
  status=$(cat "$logs/$target.status")
  [ "$status" = ok ] || failed=1
  echo "| $target | $seconds | ${execs:-?} | $(( ${execs:-0} / seconds )) | $corpus | $status |"
done
[ "$failed" = 0 ] || { echo "crash logs in $logs" >&2; exit 1; }
