#!/usr/bin/env bash
# Runs every bundled kernel under valgrind's memcheck, once per ISA this
# machine (and valgrind) supports; fails on any invalid read or write.
# Valgrind does not implement AVX-512, so AVX-512 code is not checked here
# (the AVX-512 code generator is checked against the interpreter through the
# intrinsics emulation: cargo test -p tuner --test codegen_isas).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)"; exit 2; }
cargo build --release --example all_kernels
exe=target/release/examples/all_kernels
isas="scalar"
if grep -q ' avx2 ' /proc/cpuinfo && grep -q ' fma ' /proc/cpuinfo; then isas="$isas avx2"; fi
for isa in $isas; do
    echo "== memcheck, KILN_ISA=$isa"
    KILN_ISA=$isa valgrind --tool=memcheck --error-exitcode=1 --errors-for-leak-kinds=none -q "$exe"
done
echo "valgrind: no invalid access in any bundled kernel ($isas)"
