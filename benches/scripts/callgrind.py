#!/usr/bin/env python3
"""Instructions per delivery at the service level, from callgrind (see BENCHMARKS.md).

    python3 benches/scripts/callgrind.py BINARY [WORKLOAD] [SERVICES...]

BINARY is the built `per_delivery` bench (`cargo bench --no-run --bench per_delivery` prints
its path). Each service runs under `valgrind --tool=callgrind --toggle-collect=per_delivery::serve_all`
(only the deliveries are counted, not building and signing them) with 200 and with 1200
deliveries; the difference over 1000 is the cost of one delivery.

valgrind does not emulate SHA-NI: under callgrind `sha2` runs its software compression, about
3.3k instructions per 64-byte block where SHA-NI takes ~160. So the script also reports the
count without SHA-256 compression (`sha2::sha256::compress256`, inclusive) and with the
native cost of the same blocks added back (NATIVE_PER_BLOCK instructions per block). The
software cost of one block is calibrated on the hand-written receiver, whose only SHA-256 work
is the HMAC of the body: ceil((len + 9) / 64) inner blocks and one outer block (the keyed
states are computed once); every service's blocks are its compression instructions over that.
"""
import re
import subprocess
import sys
import tempfile
import os

NATIVE_PER_BLOCK = 160
RUNS = (200, 1200)


def run(binary, service, workload, n, out):
    printed = subprocess.run(
        ["valgrind", "--tool=callgrind", "--toggle-collect=per_delivery::serve_all",
         f"--callgrind-out-file={out}", binary, service, workload, str(n)],
        check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    body = int(re.search(r"deliveries of (\d+) bytes", printed).group(1))
    total = None
    names = {}
    compress_incl = 0
    current_cfn = None
    # Parse the summary and the calls to the SHA-256 functions.
    with open(out) as f:
        lines = f.readlines()
    for i, line in enumerate(lines):
        if line.startswith("summary:") or line.startswith("totals:"):
            total = int(line.split()[1])
        m = re.match(r"^c?fn=\((\d+)\)(?: (.*))?$", line.strip())
        if m:
            ident, name = m.group(1), m.group(2)
            if name:
                names[ident] = name
            if line.startswith("cfn="):
                current_cfn = names.get(ident, "")
            continue
        if line.startswith("calls=") and current_cfn is not None:
            count = int(line.split("=")[1].split()[0])
            # The inclusive cost of the call is on the next line.
            cost = int(lines[i + 1].split()[1])
            if current_cfn.endswith("sha2::sha256::compress256"):
                compress_incl += cost
            current_cfn = None
    return total, compress_incl, body


def main():
    binary = sys.argv[1]
    workload = sys.argv[2] if len(sys.argv) > 2 else "realistic"
    services = sys.argv[3:] or ["bare", "handwritten", "hookgate"]
    print(f"instructions per delivery, workload {workload} (difference of {RUNS[1]} and {RUNS[0]} deliveries)")
    print(f"{'service':<12} {'callgrind':>10} {'SHA blocks':>10} {'no SHA':>10} {'SHA native':>11}")
    d = RUNS[1] - RUNS[0]
    per_block = None
    with tempfile.TemporaryDirectory() as tmp:
        # The hand-written receiver first: it calibrates the software cost of one block.
        for service in sorted(services, key=lambda s: s != "handwritten"):
            runs = [run(binary, service, workload, n, os.path.join(tmp, f"{service}.{n}"))
                    for n in RUNS]
            total = (runs[1][0] - runs[0][0]) / d
            sha = (runs[1][1] - runs[0][1]) / d
            if per_block is None and service == "handwritten":
                body = runs[0][2]
                per_block = sha / (-(-(body + 9) // 64) + 1)
                print(f"(calibration: {body}-byte body, {per_block:.0f} instructions per software block)")
            blocks = sha / per_block if per_block else float("nan")
            print(f"{service:<12} {total:>10.0f} {blocks:>10.1f} {total - sha:>10.0f} "
                  f"{total - sha + blocks * NATIVE_PER_BLOCK:>11.0f}")


if __name__ == "__main__":
    main()
