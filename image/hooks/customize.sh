#!/bin/sh
# mmdebstrap --customize-hook: runs with every package installed. It installs the ravn .deb,
# lays board/rpi4/rootfs over the root, writes fstab, host name and network, enables the
# appliance's units, and drops what a sensor does not need (docs, kernel modules for
# hardware a Pi 4 does not have). $1: the rootfs. RAVN_REPO, RAVN_DEB: exported by image/build.
set -eu
root="$1"
board="$RAVN_REPO/board/rpi4"

# --- the ravn package (its postinst creates the ravn user and enables ravn.service)
cp "$RAVN_DEB" "$root/tmp/ravn.deb"
chroot "$root" dpkg -i /tmp/ravn.deb
rm -f "$root/tmp/ravn.deb"

# --- the board files: mounts, dummy0, watchdog, first boot, LED map
cp -a "$board/rootfs/." "$root/"
cp "$board/ravn-firstboot.toml.example" "$root/boot/firmware/"
cp "$RAVN_REPO/board/tmpfiles.d/ravn.conf" "$root/usr/lib/tmpfiles.d/ravn.conf"

cat >"$root/etc/fstab" <<'CONF'
# ravn appliance (image/build): root and boot by label; noatime spares the SD card
LABEL=RAVN-ROOT  /               ext4  defaults,noatime,commit=600  0 1
LABEL=RAVNBOOT   /boot/firmware  vfat  defaults,noatime,umask=0077  0 2
CONF
echo ravn >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\travn\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
    >"$root/etc/hosts"
# every boot generates its own machine id and SSH host keys (never shared between cards)
: >"$root/etc/machine-id"
rm -f "$root"/etc/ssh/ssh_host_*

# (the serial console's getty comes from systemd-getty-generator: console= on the cmdline)
chroot "$root" systemctl enable systemd-networkd.service ravn-ssh-keygen.service \
    ravn-growroot.service >/dev/null
chroot "$root" systemctl mask systemd-networkd-wait-online.service >/dev/null
# the journal lives in RAM (journald.conf.d/ravn.conf); nothing to keep on the card
rm -rf "$root/var/log/journal"

# --- lean: documentation, locales, and kernel modules for hardware the appliance never has
rm -f "$root/etc/dpkg/dpkg.cfg.d/ravn-image-build"
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/locale/* "$root"/var/cache/apt/*.bin
for kdir in "$root"/lib/modules/*; do
    for d in drivers/gpu drivers/media drivers/infiniband drivers/net/wireless \
        drivers/staging drivers/scsi drivers/iio drivers/input/touchscreen drivers/hid \
        drivers/bluetooth drivers/isdn drivers/video sound net/bluetooth net/wireless \
        net/mac80211 fs/nfs fs/ceph fs/ocfs2 fs/btrfs fs/xfs fs/gfs2 fs/smb fs/cifs; do
        rm -rf "${kdir:?}/kernel/$d"
    done
    chroot "$root" depmod "$(basename "$kdir")"
done
