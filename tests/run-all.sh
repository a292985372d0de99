#!/usr/bin/env bash
# Runs every ravn test on a fresh Debian 12 machine, installing what the tests need first.
# Run as root (apt-get, and later the network-namespace capture tests): tests/run-all.sh
# Environment: RAVN_FUZZ_SECS (default 60) bounds each fuzz target's run.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
# each step's header carries the minutes:seconds since the start (CI must stay under 45 min)
step() { printf '== [%d:%02d] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

# --- system packages: Suricata 7.0.10 (the reference) from bookworm-backports, tshark, scapy
if ! command -v suricata >/dev/null || ! command -v tshark >/dev/null \
   || ! command -v tcpreplay >/dev/null; then
    if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
        echo "deb http://deb.debian.org/debian bookworm-backports main" \
            | as_root tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
    fi
    as_root apt-get update -q
    as_root apt-get install -y -q -t bookworm-backports suricata
    as_root apt-get install -y -q tshark tcpreplay python3-scapy python3-jsonschema jq
fi
# AF_XDP (cargo feature af-xdp, on by default): libbpf-sys builds its vendored libbpf, which
# needs make, libelf and zlib headers; the live tests need iproute2 (ip netns) and setpriv.
if ! dpkg -s libelf-dev zlib1g-dev pkg-config make iproute2 util-linux >/dev/null 2>&1; then
    as_root apt-get update -q
    as_root apt-get install -y -q libelf-dev zlib1g-dev pkg-config make iproute2 util-linux
fi
# board/icinga2/ravn.conf is validated with icinga2's own config check (tests/board_files.rs)
if ! command -v icinga2 >/dev/null; then
    as_root apt-get update -q
    as_root apt-get install -y -q --no-install-recommends icinga2-bin icinga2-common
fi
# the python3 first on PATH must have scapy and jsonschema (pyenv shims may hide Debian's)
if ! python3 -c 'import scapy, jsonschema' 2>/dev/null; then
    python3 -m pip install -q scapy jsonschema
fi

# --- Rust toolchain parts
if command -v rustup >/dev/null; then
    rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi

step cargo fmt --check
cargo fmt --all -- --check
step cargo clippy
cargo clippy --all-targets -- -D warnings
step cargo test
cargo test --profile ci

# --- the Raspberry Pi targets (issue 7): the unit tests under qemu-user (.cargo/config.toml's
# runners; about 1 min each). Integration tests (capture, namespaces, Suricata, the ravn
# binary as a child process) run natively above only.
if ! dpkg -s gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf qemu-user >/dev/null 2>&1; then
    as_root apt-get update -q
    as_root apt-get install -y -q gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf qemu-user
fi
for target in aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf; do
    step "cargo test --target $target (qemu-user)"
    .ci/cross-setup "$target" cargo test --profile ci --target "$target" --lib
done

image_pid=
# --- the SD-card image (issue 7): build it from Debian's arm64 packages and boot it under
# QEMU virt: ravn.service active, a TZSP heartbeat alerts, first boot good and bad (about
# 10 min). RAVN_IMAGE=0 skips it. The .deb inside is built with the ci profile (the release
# profile's fat LTO adds minutes and changes nothing the boot test checks).
if [ "${RAVN_IMAGE:-1}" != 0 ]; then
    if ! command -v qemu-system-aarch64 >/dev/null || ! command -v mmdebstrap >/dev/null \
        || ! command -v genimage >/dev/null || ! command -v fdtput >/dev/null \
        || ! dpkg -s qemu-user-binfmt dosfstools mtools openssh-client lintian >/dev/null 2>&1; then
        as_root apt-get update -q
        as_root apt-get install -y -q -t bookworm-backports qemu-system-arm qemu-user qemu-user-binfmt
        as_root apt-get install -y -q mmdebstrap genimage dosfstools mtools e2fsprogs \
            device-tree-compiler openssh-client lintian
    fi
    command -v cargo-deb >/dev/null || cargo install -q cargo-deb
    # mostly qemu-user emulation and downloads: it runs in the background while the fuzz
    # targets run, and its output is shown when it ends
    mkdir -p target
    image_log=target/image-ci.log
    step "image/build (ci profile), then image/boot-test --machine virt, in the background ($image_log)"
    (as_root image/build --profile ci && as_root image/boot-test --machine virt) >"$image_log" 2>&1 &
    image_pid=$!
    trap 'if [ -n "$image_pid" ]; then kill "$image_pid" 2>/dev/null || true; fi' EXIT
fi

# --- fuzzing, bounded (cargo-fuzz needs nightly features: RUSTC_BOOTSTRAP on stable)
FUZZ_SECS="${RAVN_FUZZ_SECS:-60}"
if [ "$FUZZ_SECS" -gt 0 ]; then
    command -v cargo-fuzz >/dev/null || cargo install -q cargo-fuzz
    for target in decode rule_parse stream; do
        step "fuzz $target for ${FUZZ_SECS}s"
        (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" -- \
            -max_total_time="$FUZZ_SECS" -rss_limit_mb=2048)
    done
fi
if [ -n "$image_pid" ]; then
    step "waiting for the image build and the boot test"
    image_status=0
    wait "$image_pid" || image_status=$?
    image_pid=
    cat "$image_log"
    if [ "$image_status" != 0 ]; then
        echo "== the image build or the boot test FAILED (exit $image_status)"
        exit "$image_status"
    fi
fi
step "all tests passed"
