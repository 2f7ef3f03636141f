#!/usr/bin/env bash
# Fuzz smoke (issue 8/8): every cargo-fuzz target for FUZZ_SECS (default 60) each, two at a
# time (this machine has 2 cores), on stable Rust (`--sanitizer none`; libFuzzer's coverage
# guidance still works). New inputs go to a scratch corpus, seeded from fuzz/corpus/<target>;
# a crash fails the run and leaves its input in fuzz/artifacts/<target>/ — copy it to
# fuzz/regressions/<target>/ so `cargo test -p fuzzing` replays it forever.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECS:-60}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --version 0.13.2 --locked
cargo fuzz build --sanitizer none
targets=$(cargo fuzz list)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
run() {
  local t=$1
  mkdir -p "$scratch/$t"
  if cargo fuzz run --sanitizer none "$t" "$scratch/$t" "fuzz/corpus/$t" -- \
      -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      > "$scratch/$t.log" 2>&1; then
    echo "fuzz $t: $(grep -E '^stat::number_of_executed_units' "$scratch/$t.log" | awk '{print $2}') runs, no crash"
  else
    echo "fuzz $t: FAILED"; tail -40 "$scratch/$t.log"; return 1
  fi
}
pids=(); names=(); failed=0
for t in $targets; do
  run "$t" & pids+=($!); names+=("$t")
  if [ ${#pids[@]} -ge 2 ]; then
    wait "${pids[0]}" || failed=1; pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done
exit $failed
