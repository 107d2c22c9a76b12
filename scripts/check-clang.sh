#!/usr/bin/env bash
# The native code built with clang as well as g++: the core and its tests with
# clang++ and -Werror (CMakePresets.json: clang, into build-clang), ctest, the
# Node-API glue checked by clang with the warnings node-gyp turns on, and then
# every core result compared bit for bit with a g++ build: fastmlp_fingerprint
# (native/test/fingerprint.cc) prints a hash per gemm path, activation, loss,
# optimizer, image layer (conv2d, convtranspose2d, maxpool2d) and training
# run, once per FASTMLP_GEMM_KERNEL, and the two compilers' lines must be
# equal. The activation, loss, optimizer and max-pool lines must also be
# equal across kernels (their wide variants are documented as bit-identical
# to the baseline build; max-pooling has no gemm).
#   scripts/check-clang.sh       all of it; one summary line at the end
# Needs: clang (FASTMLP_APT=1 installs Debian's package if missing) and g++.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

if ! command -v clang++ >/dev/null; then
  if [ "${FASTMLP_APT:-0}" = 1 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null
  else
    echo "check-clang: missing clang++; apt-get install -y clang (or FASTMLP_APT=1)" >&2
    exit 1
  fi
fi
clang_version=$(clang++ -dumpversion)

# --- the core and its tests, built by clang -----------------------------------
cmake --preset clang >/dev/null
cmake --build --preset clang -j"${JOBS:-1}" >/dev/null
ctest --preset clang -j"${JOBS:-1}" >build-clang/ctest.log 2>&1 || { cat build-clang/ctest.log >&2; exit 1; }
tests=$(grep -o 'out of [0-9]*' build-clang/ctest.log | grep -o '[0-9]*')

# --- the binding, compiled by clang (syntax and warnings only: building the
# addon here would replace build/, the addon the tests load) -----------------
napi_inc=$(node -p "require('node-addon-api').include_dir")
node_inc=$(node -p "require('path').resolve(process.execPath, '../../include/node')")
for f in native/binding/*.cc; do
  clang++ -std=c++17 -fsyntax-only -Werror -Wall -Wextra -Wno-unused-parameter \
    -I"$node_inc" -I"$napi_inc" -Inative/core -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS \
    -DNODE_ADDON_API_DISABLE_DEPRECATED -DNODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS "$f"
done

# --- the same bits as g++ ------------------------------------------------------
# The g++ side is the development build (build-cmake, as npm run test:native),
# so a developer's existing build is reused; only the fingerprint target is built.
CXX=g++ cmake --preset release >/dev/null
grep -q 'CMAKE_CXX_COMPILER_ID "GNU"' build-cmake/CMakeFiles/*/CMakeCXXCompiler.cmake ||
  { echo "check-clang: build-cmake is not a g++ build; remove it and rerun" >&2; exit 1; }
cmake --build build-cmake -j"${JOBS:-1}" --target fastmlp_fingerprint >/dev/null
gcc_version=$(g++ -dumpversion)
out=build-clang/fingerprints
mkdir -p "$out"
kernels=(avx512 avx2 scalar)
[ "$(uname -m)" = x86_64 ] || kernels=(neon scalar)
lines=0
for k in "${kernels[@]}"; do
  FASTMLP_GEMM_KERNEL=$k build-cmake/fastmlp_fingerprint >"$out/gcc-$k.txt"
  FASTMLP_GEMM_KERNEL=$k build-clang/fastmlp_fingerprint >"$out/clang-$k.txt"
  if ! diff -u "$out/gcc-$k.txt" "$out/clang-$k.txt" >"$out/diff-$k.txt"; then
    echo "check-clang: $k: results differ between g++ and clang (- g++, + clang):" >&2
    grep '^[-+][fk]' "$out/diff-$k.txt" >&2
    exit 1
  fi
  lines=$((lines + $(wc -l <"$out/gcc-$k.txt")))
  # The element-wise parts do not depend on the kernel (gemm does: each kernel
  # blocks k its own way, and the convolutions and training lines go through gemm).
  grep -E '^f(32|64) (activation|loss|optimizer|maxpool2d)' "$out/gcc-$k.txt" >"$out/elementwise-$k.txt"
  if ! diff -q "$out/elementwise-${kernels[0]}.txt" "$out/elementwise-$k.txt" >/dev/null; then
    echo "check-clang: activation/loss/optimizer/maxpool2d results differ between ${kernels[0]} and $k:" >&2
    diff "$out/elementwise-${kernels[0]}.txt" "$out/elementwise-$k.txt" >&2 || true
    exit 1
  fi
done

echo "check-clang: clang $clang_version builds native/ with no warnings; ctest $tests/$tests passed;" \
  "$lines fingerprint lines (${kernels[*]}) bit-identical to g++ $gcc_version;" \
  "$(( $(date +%s) - start )) s"
