#!/usr/bin/env bash
# Installs the llama.cpp reference (prebuilt CPU libraries + headers + source tree) from npm into DIR.
# Usage: cmake/fetch_llama_ref.sh DIR
#
# Result (nothing here is part of the moe repository; DIR should live outside it or be git-ignored):
#   DIR/lib        -> the prebuilt shared libraries (libllama.v0.5.0.so, libggml.v0.5.0.so,
#                     libggml-base.so, libggml-cpu-<variant>.so ...)
#   DIR/include/   llama.h and the ggml headers it includes
#   DIR/llama.cpp/ llama.cpp source at the matching commit, sparse checkout of include/, ggml/include/,
#                  models/ and gguf-py/ (run `git -C DIR/llama.cpp sparse-checkout disable` for everything)
#   DIR/.complete  written last; when it exists the script does nothing.
# Idempotent, non-interactive (works with CI=true, no stdin, as root). Detailed output goes to
# DIR/fetch.log; on failure one line "llama.cpp reference could not be installed: <why>" goes to stderr.

set -u -o pipefail

NODE_LLAMA_CPP_VERSION=3.22.1
PKG_MAIN="node-llama-cpp@${NODE_LLAMA_CPP_VERSION}"
PKG_BINS="@node-llama-cpp/linux-x64@${NODE_LLAMA_CPP_VERSION}"
TGZ_MAIN="node-llama-cpp-${NODE_LLAMA_CPP_VERSION}.tgz"
TGZ_BINS="node-llama-cpp-linux-x64-${NODE_LLAMA_CPP_VERSION}.tgz"

fail() {
    echo "llama.cpp reference could not be installed: $*" >&2
    exit 1
}

if [ $# -ne 1 ] || [ -z "$1" ]; then
    fail "usage: $0 DIR"
fi
DIR=$1

[ -f "$DIR/.complete" ] && exit 0

mkdir -p "$DIR" 2>/dev/null || fail "cannot create directory $DIR"
DIR=$(cd "$DIR" && pwd) || fail "cannot enter directory $DIR"
LOG="$DIR/fetch.log"
: > "$LOG" 2>/dev/null || fail "cannot write $LOG"

# Serialise concurrent runs (e.g. two build trees configuring at once).
if command -v flock >/dev/null 2>&1; then
    exec 9> "$DIR/.lock" || fail "cannot open lock file $DIR/.lock"
    flock 9 || fail "cannot lock $DIR/.lock"
    [ -f "$DIR/.complete" ] && exit 0
fi

case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) ;;
    *) fail "the npm prebuilt libraries used here exist only for Linux x86-64 (this is $(uname -s)-$(uname -m))" ;;
esac
for tool in npm git tar; do
    command -v "$tool" >/dev/null 2>&1 || fail "'$tool' is not installed"
done

# Runs a command with stdin closed and all output in the log; on failure reports $1.
step() {
    local why=$1
    shift
    echo "+ $*" >> "$LOG"
    "$@" < /dev/null >> "$LOG" 2>&1 || fail "$why (see $LOG)"
}

export CI=true
export npm_config_update_notifier=false
export npm_config_fund=false
export npm_config_audit=false
export npm_config_yes=true

cd "$DIR" || fail "cannot enter directory $DIR"

# 1. Tarballs (reuse ones that are already there and readable).
for spec in "$PKG_MAIN:$TGZ_MAIN" "$PKG_BINS:$TGZ_BINS"; do
    pkg=${spec%%:*}
    tgz=${spec##*:}
    if [ -f "$tgz" ] && tar tzf "$tgz" > /dev/null 2>&1; then
        continue
    fi
    rm -f "$tgz"
    step "'npm pack $pkg' failed (no network or registry access?)" npm pack "$pkg"
    [ -f "$tgz" ] || fail "'npm pack $pkg' did not produce $tgz"
done

# 2. Unpack both (they share the top-level folder x/package/). Leftovers of an earlier attempt are replaced, but
#    never something that does not look like ours (e.g. DIR given as a source tree by mistake).
[ ! -e x ] || [ -d x/package ] || fail "$DIR/x exists and is not an unpacked npm package; choose another DIR"
[ ! -e include ] || [ -f include/llama.h ] || fail "$DIR/include exists and has no llama.h; choose another DIR"
[ ! -e lib ] || [ -L lib ] || fail "$DIR/lib exists and is not this script's symlink; choose another DIR"
[ ! -e llama.cpp ] || [ -f llama.cpp/include/llama.h ] || [ -d llama.cpp/.git ] ||
    fail "$DIR/llama.cpp exists and is not a llama.cpp checkout; choose another DIR"
rm -rf x lib include llama.cpp
mkdir -p x || fail "cannot create $DIR/x"
for tgz in "$TGZ_MAIN" "$TGZ_BINS"; do
    step "cannot unpack $tgz" tar xzf "$tgz" -C x --no-same-owner
done

BINS=x/package/bins/linux-x64
BUNDLE=x/package/llama/gitRelease.bundle
for f in libllama.v0.5.0.so libggml.v0.5.0.so libggml-base.so libggml-cpu-x64.so; do
    [ -f "$BINS/$f" ] || fail "$BINS/$f is missing from the npm package"
done
[ -f "$BUNDLE" ] || fail "$BUNDLE is missing from the npm package"

# 3. llama.cpp source from the git bundle (a single squashed commit), sparse checkout.
step "cannot clone $BUNDLE" git -c advice.detachedHead=false clone -q --no-checkout "$BUNDLE" llama.cpp
step "git sparse-checkout failed" git -C llama.cpp sparse-checkout set include ggml/include models gguf-py
step "git checkout of the llama.cpp source failed" git -c advice.detachedHead=false -C llama.cpp checkout -q
[ -f llama.cpp/include/llama.h ] || fail "llama.h is missing from the llama.cpp source"

# 4. lib/ and include/.
step "cannot create $DIR/lib" ln -sfn "$BINS" lib
mkdir -p include || fail "cannot create $DIR/include"
step "cannot copy the llama.cpp headers" cp llama.cpp/include/llama.h llama.cpp/ggml/include/*.h include/

# 5. Sanity: every header llama.h includes is there.
while read -r h; do
    [ -f "include/$h" ] || fail "include/$h (needed by llama.h) is missing"
done < <(sed -n 's/^#include "\(.*\)"/\1/p' include/llama.h)

touch .complete || fail "cannot write $DIR/.complete"
echo "llama.cpp reference installed in $DIR" >> "$LOG"
exit 0
