#!/bin/sh
# Builds the core and its gemm and core tests for AArch64 with a cross
# compiler and runs them under qemu-user: the NEON kernel (and the scalar one,
# through FASTMLP_GEMM_KERNEL=scalar) tested on an x86 machine.
#   native/test/neon_qemu.sh [build-dir]      (default build-neon)
# Needs g++-aarch64-linux-gnu and qemu-user (Debian package names).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/build-neon}
cxx=${CXX_AARCH64:-aarch64-linux-gnu-g++}
qemu=${QEMU_AARCH64:-qemu-aarch64}
mkdir -p "$out"
# The core's sources, as CMakeLists.txt lists them.
srcs=$(sed -n '/^set(FASTMLP_CORE_SOURCES/,/^)/p' "$root/CMakeLists.txt" | grep 'native/core/' | sed "s|^ *|$root/|")
flags="-std=c++17 -O2 -static -pthread -fno-math-errno -I$root/native/core"
# shellcheck disable=SC2086
"$cxx" $flags -o "$out/gemm_test" "$root/native/test/gemm_test.cc" $srcs
# shellcheck disable=SC2086
"$cxx" $flags -o "$out/core_test" "$root/native/test/core_test.cc" "$root/native/test/network_test.cc" $srcs
for kernel in neon scalar; do
  FASTMLP_GEMM_KERNEL=$kernel "$qemu" "$out/gemm_test"
  FASTMLP_GEMM_KERNEL=$kernel "$qemu" "$out/core_test"
done
