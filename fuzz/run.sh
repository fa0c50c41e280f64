#!/usr/bin/env bash
# Runs every fuzz target: seeds each corpus from the provider fixtures in tests/fixtures, then
# fuzzes each target for RUNS executions (default 10 million) or SECONDS seconds, one after the
# other. Needs cargo-fuzz (`cargo install cargo-fuzz`) and the nightly toolchain.
#
#   fuzz/run.sh                    # 10 million executions per target
#   RUNS=100000 fuzz/run.sh        # a quick pass
#   SECONDS_PER_TARGET=600 fuzz/run.sh
#   fuzz/run.sh pipeline decode    # only these targets
#   SANITIZER=address fuzz/run.sh  # with AddressSanitizer (5 to 8 times slower here)
#
# SANITIZER defaults to `none`: hookgate forbids unsafe code (`unsafe_code = "forbid"`), so an
# out-of-bounds index or an overflow in it is a panic (debug assertions and overflow checks stay
# on, the cargo-fuzz default), which libFuzzer reports as a crash without ASan. ASan would only
# watch the unsafe code inside dependencies (tokio, bytes, hyper, serde_json), which their own
# fuzzing covers, and it cost 5 to 8 times the executions per second here (FUZZING.md).
set -euo pipefail
cd "$(dirname "$0")"
RUNS="${RUNS:-10000000}"
SANITIZER="${SANITIZER:-none}"
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(signature_headers envelope decode pipeline generic)
fi

seed() { # seed TARGET: one file per fixture, in the target's input format
  local target="$1" dir="corpus/$1"
  mkdir -p "$dir"
  local i=0
  for file in ../tests/fixtures/zernio/*.json ../tests/fixtures/ayrshare/*.json; do
    i=$((i + 1))
    case "$target" in
      envelope) { printf '\x00'; cat "$file"; } >"$dir/seed-$i" ;;
      decode) { printf "\\x$(printf %02x $((i % 255)))"; cat "$file"; } >"$dir/seed-$i" ;;
      pipeline)
        case "$file" in
          */zernio/*) p='\x00' ;;
          *) p='\x01' ;;
        esac
        { printf "$p"'\x01\x00'; cat "$file"; } >"$dir/seed-$i" ;;
      *) return 0 ;;
    esac
  done
}

for target in "${TARGETS[@]}"; do
  seed "$target"
  echo "== $target"
  if [ -n "${SECONDS_PER_TARGET:-}" ]; then
    limit=(-max_total_time="$SECONDS_PER_TARGET")
  else
    limit=(-runs="$RUNS")
  fi
  cargo +nightly fuzz run -s "$SANITIZER" "$target" "corpus/$target" -- "${limit[@]}" -max_len=65536 -print_final_stats=1 2>&1 |
    tee "run-$target.log" | grep -E "^(#[0-9]+ +DONE|stat::|==[0-9]+==|SUMMARY|Done)" || true
  if grep -q "SUMMARY\|panicked\|deadly signal" "run-$target.log"; then
    echo "!! $target found a crash: see fuzz/run-$target.log and fuzz/artifacts/$target" >&2
    exit 1
  fi
done
