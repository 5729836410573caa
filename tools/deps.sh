#!/bin/sh
# Install the Debian packages chuda needs that this machine lacks — only those.
# A library counts as present when pkg-config finds it (or, for libev, mbedtls and
# libcsv, which ship no .pc file on Debian 12, when its header is there).
# `check`: also what only the tests need (`make check`: chromium and a CJK font for the
# report's page), so that `make demo` on a fresh machine does not fetch a browser; silent
# when all of it is there.
# `ci`: the tests' too, and what CI's extra passes need (clang with libFuzzer for
# `make fuzz`, valgrind for `make memcheck`).
set -eu
missing=""
need() {    # need PACKAGE CHECK...
    pkg=$1; shift
    if ! "$@" >/dev/null 2>&1; then missing="$missing $pkg"; fi
}
has_pc() { command -v pkg-config >/dev/null && pkg-config --exists "$1"; }
has_h() { [ -f "/usr/include/$1" ]; }
has_so() { /sbin/ldconfig -p | grep -q "[[:space:]]$1 "; }

need build-essential command -v cc
need make command -v make
need pkg-config command -v pkg-config
need openssl command -v openssl
need curl command -v curl
need ca-certificates test -f /etc/ssl/certs/ca-certificates.crt
need libcurl4-openssl-dev has_pc libcurl
need libsqlite3-dev has_pc sqlite3
need libjansson-dev has_pc jansson
need libinih-dev has_pc inih
need libutf8proc-dev has_pc libutf8proc
need libmicrohttpd-dev has_pc libmicrohttpd
need libcmocka-dev has_pc cmocka
need zlib1g-dev has_pc zlib
need libexpat1-dev has_pc expat
need libev-dev has_h ev.h
need libmbedtls-dev has_h mbedtls/md.h
need libcsv-dev has_h csv.h
need libtcmalloc-minimal4 has_so libtcmalloc_minimal.so.4   # tcmalloc, the programs' malloc
need sqlite3 command -v sqlite3
need python3 command -v python3     # tests read JSON with it
need faketime command -v faketime   # tests run chuda at chosen instants
if [ "${1:-}" = check ] || [ "${1:-}" = ci ]; then   # make check
    need chromium command -v chromium   # the report test renders the page headless
    need fonts-wqy-microhei test -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
fi
if [ "${1:-}" = bench ]; then   # make bench
    need wrk command -v wrk     # the HTTP API's load
    need time test -x /usr/bin/time   # peak RSS
fi
has_fuzzer() { ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a; }
if [ "${1:-}" = ci ]; then      # .ci/run: make fuzz, make memcheck
    need clang command -v clang
    need libclang-rt-14-dev has_fuzzer
    need valgrind command -v valgrind
fi

if [ -z "$missing" ]; then
    [ "${1:-}" = check ] || echo "deps: everything chuda needs is installed"
    exit 0
fi
echo "deps: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
