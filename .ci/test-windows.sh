#!/usr/bin/env bash
# The Windows tests, under Wine: installs wine64 when missing, publishes
# tests/ForkKit.WindowsTests self-contained for win-x64 (the normal multi-file output: a
# single-file build does not start under Wine 8), runs it in a fresh Wine prefix made in a
# temporary folder, and exits with its exit code (the number of failed tests).
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-Release}
began=$(date +%s)

wine_program() {
    local candidate
    for candidate in wine64 wine /usr/lib/wine/wine64; do
        if command -v "$candidate" >/dev/null 2>&1; then command -v "$candidate"; return 0; fi
    done
    return 1
}

wineserver_program() {
    local candidate
    for candidate in wineserver /usr/lib/wine/wineserver64 /usr/lib/wine/wineserver; do
        if command -v "$candidate" >/dev/null 2>&1; then command -v "$candidate"; return 0; fi
    done
    return 1
}

if ! wine_program >/dev/null; then
    echo "installing: wine64"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq wine64 >/dev/null
fi
wine=$(wine_program)
wineserver=$(wineserver_program)

publish=tests/ForkKit.WindowsTests/bin/$config/publish-win-x64
dotnet publish tests/ForkKit.WindowsTests -c "$config" -o "$publish" --nologo -v quiet -clp:ErrorsOnly

scratch=$(mktemp -d -t forkkit-wine.XXXXXX)
export WINEPREFIX=$scratch/prefix WINEDEBUG=-all
cleanup() {
    "$wineserver" -k >/dev/null 2>&1 || true
    rm -rf "$scratch"
}
trap cleanup EXIT

# A fresh prefix. mscoree and mshtml are switched off for wineboot only, so that it does not
# offer to install Wine's own Mono and Gecko. The tests need the builtin mscoree: Wine's loader
# hands it every image that has a .NET header.
WINEDLLOVERRIDES="mscoree,mshtml=" "$wine" wineboot -i >"$scratch/wineboot.log" 2>&1 \
    || { cat "$scratch/wineboot.log"; echo "wineboot -i failed"; exit 1; }

set +e
# Windows ends lines with CR LF; the CRs go, so that the output reads as any other test log.
timeout 240 "$wine" "$publish/ForkKit.WindowsTests.exe" 2>&1 | tr -d '\r' | tee "$scratch/tests.log"
status=${PIPESTATUS[0]}
set -e

# Wine reports a crashed program's unhandled exception and may still exit 0: a run counts only
# when the runner printed its summary line.
if ! grep -Eq '^[0-9]+ passed, [0-9]+ failed$' "$scratch/tests.log"; then
    echo "the Windows tests ended without their summary line (exit code $status)"
    [ "$status" -eq 0 ] && status=1
fi
echo "make test-windows: $(( $(date +%s) - began )) s under $wine"
exit "$status"
