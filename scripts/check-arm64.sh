#!/usr/bin/env bash
# linux-arm64 from an x86-64 machine: cross-compiles the C++ core and its
# tests with Debian's g++-aarch64-linux-gnu (cmake/toolchain-aarch64-linux-gnu.cmake),
# runs them under qemu-aarch64 through ctest, then builds the arm64 addon into
# prebuilds/linux-arm64/ with prebuildify. The sources come from CMakeLists.txt
# and binding.gyp, so a new kernel file (gemm_neon.cc) is picked up as soon as
# it is listed there, and the ctest list runs every kernel the build registers.
#   scripts/check-arm64.sh            core tests under qemu + the arm64 prebuild
#   scripts/check-arm64.sh --tests    core tests only
# Needs: apt-get install g++-aarch64-linux-gnu qemu-user (FASTMLP_APT=1 installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

need=()
command -v aarch64-linux-gnu-g++ >/dev/null || need+=(g++-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
if [ ${#need[@]} -gt 0 ]; then
  if [ "${FASTMLP_APT:-0}" = 1 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "check-arm64: missing ${need[*]}; apt-get install -y ${need[*]} (or FASTMLP_APT=1)" >&2
    exit 1
  fi
fi

# --- the core and its tests, under qemu ---------------------------------------
start=$(date +%s)
cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64-linux-gnu.cmake \
      -DCMAKE_BUILD_TYPE=Release >/dev/null
# Every target, so that each test ctest registers has its program (a list of
# targets here once missed two new tests: ctest then failed on them).
cmake --build build-arm64 -j"${JOBS:-1}" >/dev/null
file build-arm64/fastmlp_core_test | grep 'ARM aarch64' >/dev/null || { echo "check-arm64: not an aarch64 binary" >&2; exit 1; }
# The default kernel on arm64 is NEON: every test runs with it; the portable
# kernel's core tests run too. The x86 kernels' entries would only rerun the
# portable kernel (an unsupported kernel falls back), and the portable gemm,
# fused-activation and gradient-check tests already run on the host, so those
# are left out under qemu (~30 s a run).
ctest --test-dir build-arm64 --output-on-failure -j"${JOBS:-1}" -E 'avx|(gemm|fuse|gradfinite)_test_scalar'
echo "arm64 core tests under qemu: $(( $(date +%s) - start )) s including the build"
[ "${1:-}" = --tests ] && exit 0

# --- the arm64 addon --------------------------------------------------------
# prebuildify builds in ./build, which holds the host's addon: build in a
# staging copy of the sources and write only prebuilds/linux-arm64 back here.
stage=$(mktemp -d "${TMPDIR:-/tmp}/fastmlp-arm64.XXXXXX")
trap 'rm -rf "$stage"' EXIT
cp -r package.json binding.gyp native "$stage/"
ln -s "$root/node_modules" "$stage/node_modules"
(cd "$stage" && CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ \
   AR=aarch64-linux-gnu-ar PREBUILD_STRIP_BIN=aarch64-linux-gnu-strip \
   npx prebuildify --napi --strip --arch arm64 --out "$root" >"$stage/prebuildify.log" 2>&1) ||
  { tail -30 "$stage/prebuildify.log" >&2; echo "check-arm64: prebuildify --arch arm64 failed" >&2; exit 1; }
addon=$(ls prebuilds/linux-arm64/*.node)
file "$addon" | grep 'ARM aarch64' >/dev/null || { echo "check-arm64: $addon is not aarch64" >&2; exit 1; }
# No arm64 Node here to load it in: check that it is the Node-API module we
# mean (its registration symbol) and links nothing beyond libc/libstdc++/libm.
# grep reads its whole input (no -q): under pipefail, -q's exit at the first match
# left nm to die of SIGPIPE once its output outgrew the pipe, failing this check.
aarch64-linux-gnu-nm -D "$addon" | grep napi_register_module_v1 >/dev/null ||
  { echo "check-arm64: $addon does not export napi_register_module_v1" >&2; exit 1; }
echo "arm64 addon: $addon ($(du -k "$addon" | cut -f1) KiB), needs: $(aarch64-linux-gnu-readelf -d "$addon" | grep -o 'Shared library: \[[^]]*\]' | tr -d '[]' | sed 's/Shared library: //' | tr '\n' ' ')"
