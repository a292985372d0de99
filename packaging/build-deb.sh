#!/usr/bin/env bash
# Builds the ravn .deb for the Raspberry Pi and checks it with lintian:
#   packaging/build-deb.sh arm64|armhf [cargo-deb options, e.g. --profile ci]
# Output: target/debian/ravn_<version>_<arch>.deb (path printed at the end).
# Needs: cargo-deb (cargo install cargo-deb), the cross toolchain (.ci/cross-setup names what is
# missing), lintian (apt-get install lintian; skipped with a note when absent).
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
arm64) target=aarch64-unknown-linux-gnu ;;
armhf) target=armv7-unknown-linux-gnueabihf ;;
*)
    echo "usage: packaging/build-deb.sh arm64|armhf [cargo-deb options]" >&2
    exit 2
    ;;
esac
shift

if ! command -v cargo-deb >/dev/null; then
    echo "build-deb: cargo-deb is missing: cargo install cargo-deb" >&2
    exit 1
fi

out="$(.ci/cross-setup "$target" nice -n 19 cargo deb --target "$target" "$@" | tail -n 1)"
echo "build-deb: $out"
if command -v lintian >/dev/null; then
    # errors fail the build; warnings and info are shown
    lintian --fail-on error --info "$out"
    echo "build-deb: lintian: no errors"
else
    echo "build-deb: lintian not installed (apt-get install lintian): package not checked" >&2
fi
