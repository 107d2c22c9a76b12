#!/usr/bin/env bash
# Packs fastmlp (`npm pack`) and installs the tarball into empty projects,
# offline (npm's cache is warm after the repository's own `npm install`),
# the three ways a user's machine can go:
#   a) a prebuild matches: it loads with PREBUILDS_ONLY=1, and no compiler ran
#      (the install happens with CC/CXX=false, so any compile step would fail);
#   b) no prebuild matches: the install compiles native/ with node-gyp and the
#      native engine loads from build/Release;
#   c) no prebuild and compiling fails (CXX=false): the install still succeeds,
#      engine 'auto' runs the JS engine with exactly one warning, and engine
#      'native' throws an error listing the platform, the paths tried and the fix.
# Needs prebuilds/<platform>-<arch>/ (npm run prebuild); run from .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tuple=$(node -p 'process.platform + "-" + process.arch')

if ! ls prebuilds/"$tuple"/*.node >/dev/null 2>&1; then
  echo "check-tarball: no prebuilds/$tuple/*.node; run npm run prebuild first" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/fastmlp-tarball.XXXXXX")
trap 'rm -rf "$work"' EXIT

fail() { echo "check-tarball: FAIL: $*" >&2; exit 1; }

# --- the tarball and what it carries ----------------------------------------
# prepare (tsc) runs as part of npm pack, so dist/ is fresh.
npm pack --silent --pack-destination "$work" >/dev/null
tgz=$(ls "$work"/fastmlp-*.tgz)
listing=$(tar -tzf "$tgz")
for want in package/package.json package/binding.gyp package/dist/index.js package/esm/index.mjs \
            package/native/core/gemm.cc package/native/binding/addon.cc package/scripts/install-fallback.cjs \
            "package/prebuilds/$tuple/"; do
  grep -q "^$want" <<<"$listing" || fail "tarball lacks $want"
done
# Every prebuild made here ships (linux-arm64 too, after scripts/check-arm64.sh).
for dir in prebuilds/*/; do
  grep -q "^package/$dir" <<<"$listing" || fail "tarball lacks $dir"
done
# Every source binding.gyp compiles must ship, or the compile fallback breaks.
for src in $(grep -o '"native/[^"]*\.cc"' binding.gyp | tr -d '"'); do
  grep -qx "package/$src" <<<"$listing" || fail "tarball lacks $src (listed in binding.gyp)"
done
echo "tarball: $(basename "$tgz"), $(wc -l <<<"$listing") files, $(du -k "$tgz" | cut -f1) KiB, carries $(ls -d prebuilds/*/ | tr '\n' ' ')"

# The same tarball without prebuilds, for cases b and c.
mkdir "$work/unpacked"
tar -xzf "$tgz" -C "$work/unpacked"
rm -rf "$work/unpacked/package/prebuilds"
tar -czf "$work/fastmlp-noprebuild.tgz" -C "$work/unpacked" package

# An empty project with the tarball installed, offline: scripts/consumer-lock.cjs
# pins fastmlp's dependencies as fastmlp's own lock does, so `npm ci --offline`
# takes every tarball from npm's cache. Extra env for npm: VAR=value arguments.
install_into() {
  local dir=$1 tarball=$2; shift 2
  node scripts/consumer-lock.cjs "$dir" "$tarball"
  (cd "$dir" && env "$@" npm ci --offline --no-audit --no-fund --loglevel=info \
      --nodedir="${FASTMLP_NODEDIR:-/usr}" >"$dir/install.log" 2>&1) ||
    { cat "$dir/install.log" >&2; fail "npm ci --offline of $(basename "$tarball") into $dir failed"; }
}

probe='
const f = require("fastmlp");
const path = require("path");
const b = f.backend();
const m = new f.Sequential([new f.Dense(3, 4, { activation: "relu" }), new f.Dense(4, 2)], { seed: 1 });
m.compile({ loss: "cross-entropy", optimizer: "adam" });
const loss = m.trainStep([[1, 2, 3], [3, 2, 1]], [0, 1]);
let file = "none";
try { file = path.relative(path.dirname(require.resolve("fastmlp/package.json")), require("node-gyp-build").resolve(path.dirname(require.resolve("fastmlp/package.json")))); } catch {}
console.log(JSON.stringify({ engine: b.engine, isa: b.isa, file, loss: Number.isFinite(loss) }));'

# --- a) prebuilt binary, no compiler step ------------------------------------
install_into "$work/a" "$tgz" CC=false CXX=false
[ -e "$work/a/node_modules/fastmlp/build" ] && fail "a) the install compiled (build/ exists) although a prebuild matches"
out=$(cd "$work/a" && PREBUILDS_ONLY=1 node -e "$probe")
echo "a) prebuild, PREBUILDS_ONLY=1: $out"
# The package's command is linked: `npx fastmlp` runs it without a download.
version=$(cd "$work/a" && npx --offline --no-install fastmlp --version) || fail "a) npx fastmlp --version failed"
[ "$version" = "fastmlp $(node -p 'require("./package.json").version')" ] || fail "a) npx fastmlp --version printed '$version'"
grep -q '"engine":"native"' <<<"$out" || fail "a) the native engine did not load"
grep -q "\"file\":\"prebuilds/$tuple/" <<<"$out" || fail "a) the binary loaded is not the prebuild"

# --- b) no prebuild: compiles on install --------------------------------------
install_into "$work/b" "$work/fastmlp-noprebuild.tgz"
[ -f "$work/b/node_modules/fastmlp/build/Release/fastmlp.node" ] ||
  { cat "$work/b/install.log" >&2; fail "b) the install did not compile build/Release/fastmlp.node"; }
out=$(cd "$work/b" && node -e "$probe")
echo "b) no prebuild, compiled on install: $out"
grep -q '"engine":"native"' <<<"$out" || fail "b) the compiled native engine did not load"
grep -q '"file":"build/Release/fastmlp.node"' <<<"$out" || fail "b) the binary loaded is not the compiled one"

# --- c) no prebuild and no working compiler: JS engine, one warning ----------
# Foreground scripts, so the install log shows the compiler failing and the notice.
install_into "$work/c" "$work/fastmlp-noprebuild.tgz" CC=false CXX=false npm_config_foreground_scripts=true
[ -f "$work/c/node_modules/fastmlp/build/Release/fastmlp.node" ] && fail "c) a binary was built with CXX=false"
grep -q "gyp ERR!" "$work/c/install.log" || fail "c) the install did not try to compile"
[ "$(grep -c 'fastmlp: no prebuilt binary' "$work/c/install.log")" = 1 ] || fail "c) the install did not print its one notice"
echo "c) install notice: $(grep 'fastmlp: no prebuilt binary' "$work/c/install.log")"
out=$(cd "$work/c" && node -e "$probe; new f.Sequential([new f.Dense(2, 1)]); f.backend();" 2>"$work/c/stderr")
echo "c) no prebuild, CXX=false: $out"
grep -q '"engine":"js"' <<<"$out" || fail "c) engine 'auto' did not fall back to the JS engine"
warnings=$(grep -c FASTMLP_JS_FALLBACK "$work/c/stderr" || true)
[ "$warnings" = 1 ] || { cat "$work/c/stderr" >&2; fail "c) expected exactly one FASTMLP_JS_FALLBACK warning, saw $warnings"; }
echo "c) the warning: $(grep FASTMLP_JS_FALLBACK "$work/c/stderr")"
msg=$(cd "$work/c" && node -e "try { require('fastmlp').backend('native'); } catch (e) { console.log(e.message); }")
for want in "$tuple" "prebuilds/$tuple" "build/Release" "npm rebuild fastmlp" "engine: 'js'"; do
  grep -qF "$want" <<<"$msg" || fail "c) the load error does not mention '$want': $msg"
done
echo "c) engine 'native' throws: $msg"
echo "check-tarball: OK"
