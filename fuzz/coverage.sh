#!/usr/bin/env bash
# Source-based coverage of hookgate's own code (src/) reached by each target's corpus (built
# by fuzz/run.sh): `cargo fuzz coverage` replays the corpus on an instrumented build, then
# llvm-cov (from the nightly toolchain's llvm-tools: `rustup component add llvm-tools
# --toolchain nightly`) reports the regions, functions and lines of src/ it ran.
#
#   fuzz/coverage.sh                 # every target
#   fuzz/coverage.sh pipeline        # one
# Writes coverage/<target>/report.txt (per file) and prints each target's TOTAL line.
set -euo pipefail
cd "$(dirname "$0")"
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(signature_headers envelope decode pipeline generic)
fi
bin="$(rustc +nightly --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/bin"
src="$(cd .. && pwd)/src"
for target in "${TARGETS[@]}"; do
  cargo +nightly fuzz coverage -s none "$target" "corpus/$target" >"coverage-$target.log" 2>&1
  "$bin/llvm-cov" report \
    "target/x86_64-unknown-linux-gnu/coverage/x86_64-unknown-linux-gnu/release/$target" \
    -instr-profile="coverage/$target/coverage.profdata" "$src" >"coverage/$target/report.txt"
  echo "$target: $(grep '^TOTAL' "coverage/$target/report.txt")"
done
echo "columns: regions, missed, cover; functions, missed, executed; lines, missed, cover; branches"
