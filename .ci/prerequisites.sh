#!/usr/bin/env bash
# Installs what ForkKit's build and tests need on a fresh Debian 12 that has the .NET SDK:
# a C compiler for native-interop/, the aarch64 cross compiler and C library that `make pack`
# builds the linux-arm64 shim with, procps (ps) for the demos, tmux for the terminal-session
# test, python3 for the reference benchmarks. Does nothing when all is there.
set -euo pipefail
missing=()
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || missing+=(gcc-aarch64-linux-gnu)
[ -e /usr/aarch64-linux-gnu/include/stdio.h ] || missing+=(libc6-dev-arm64-cross)
command -v ps >/dev/null 2>&1 || missing+=(procps)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
