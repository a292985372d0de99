#!/bin/sh
# mmdebstrap --essential-hook: runs once the Essential:yes packages are in, before the kernel,
# raspi-firmware and initramfs-tools are installed. It writes the configuration their
# maintainer scripts and kernel hooks read, so the first (and only) initramfs and
# /boot/firmware are built right:
#   - raspi-firmware: the root partition by label and the serial console, the ravn config.txt
#     fragment (board/rpi4/config.txt) and command line (board/rpi4/cmdline.txt);
#   - initramfs-tools: MODULES=list with only what the Pi 4 and the QEMU test machines need
#     to reach the root file system (MODULES=most takes 24 min under emulation, this 43 s),
#     and FSTYPE=ext4 so fsck.ext4 is in the initramfs.
# $1: the rootfs. RAVN_REPO: the repository (exported by image/build).
set -eu
root="$1"
board="$RAVN_REPO/board/rpi4"

mkdir -p "$root/etc/default" "$root/etc/initramfs-tools/conf.d" "$root/etc/dpkg/dpkg.cfg.d"
# our /etc/default/raspi-firmware is kept when the package brings its own (removed again by
# customize.sh: the image's dpkg asks as usual)
echo force-confold >"$root/etc/dpkg/dpkg.cfg.d/ravn-image-build"
cat >"$root/etc/default/raspi-firmware" <<'CONF'
# written by ravn's image/build (image/hooks/essential.sh)
ROOTPART=LABEL=RAVN-ROOT
# the header's UART on a Pi 4 with Debian's device tree is the mini UART (ttyS1); its baud
# rate follows the core clock, so the clock is fixed (raspi-firmware's advice)
CONSOLES="ttyS1,115200"
GPU_FREQ=360
CONF
cp "$board/config.txt" "$root/etc/default/raspi-firmware-custom"
# raspi-firmware reads one line of extra kernel arguments
grep -v '^#' "$board/cmdline.txt" | tr '\n' ' ' | sed 's/ *$//' >"$root/etc/default/raspi-extra-cmdline"
echo >>"$root/etc/default/raspi-extra-cmdline"

cat >"$root/etc/initramfs-tools/conf.d/ravn.conf" <<'CONF'
# written by ravn's image/build: only the modules in /etc/initramfs-tools/modules
MODULES=list
FSTYPE=ext4
COMPRESS=gzip
CONF
mkdir -p "$root/etc/initramfs-tools"
cat >"$root/etc/initramfs-tools/modules" <<'CONF'
# ravn appliance: what reaches the root file system on a Raspberry Pi 4 (SD card on the
# emmc2 / sdhci-iproc controller) and on QEMU's virt machine (virtio disk)
sdhci_iproc
sdhci_pltfm
mmc_block
virtio_pci
virtio_mmio
virtio_blk
ext4
vfat
nls_cp437
nls_ascii
nls_utf8
CONF
