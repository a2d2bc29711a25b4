//! A tiny guest for the qemu driver's tests: Debian's cloud kernel (which
//! `scripts/qemu-setup` unpacks) and an initramfs this module builds from
//! busybox-static, whose `/init` loads virtio networking and the ACPI
//! power button, serves `/health.txt` on port 8080 and powers off when the
//! button is pressed.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Where `scripts/qemu-setup` put the kernel and modules.
pub fn cache() -> PathBuf {
    PathBuf::from(
        std::env::var_os("SCHED_QEMU_CACHE").unwrap_or_else(|| "/var/cache/sched-qemu".into()),
    )
}

const MODULES: &[&str] = &[
    "failover",
    "net_failover",
    "virtio",
    "virtio_ring",
    "virtio_pci_legacy_dev",
    "virtio_pci_modern_dev",
    "virtio_pci",
    "virtio_net",
    "evdev",
    "button",
];

const INIT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /tmp /www /etc/acpi/PWRF
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in failover net_failover virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_net evdev button; do
  insmod /lib/modules/$m.ko 2>/dev/null
done
printf '#!/bin/sh\necho "guest: power button pressed, powering off" > /dev/console\npoweroff -f\n' > /etc/acpi/PWRF/00000080
chmod +x /etc/acpi/PWRF/00000080
acpid -c /etc/acpi -l /tmp/acpid.log
ip link set lo up
ip link set eth0 up 2>/dev/null && ip addr add 10.0.2.15/24 dev eth0
echo ok > /www/health.txt
httpd -p 8080 -h /www
echo "guest: $(grep MemTotal /proc/meminfo)"
echo "guest: ready"
while :; do sleep 1; done
"#;

/// Appends one entry of a `newc` cpio archive.
fn cpio_entry(out: &mut Vec<u8>, ino: u32, name: &str, mode: u32, data: &[u8]) {
    let header = format!(
        "070701{ino:08X}{mode:08X}{uid:08X}{gid:08X}{nlink:08X}{mtime:08X}{size:08X}\
         {devmajor:08X}{devminor:08X}{rdevmajor:08X}{rdevminor:08X}{namesize:08X}{check:08X}",
        uid = 0,
        gid = 0,
        nlink = 1,
        mtime = 0,
        size = data.len(),
        devmajor = 0,
        devminor = 0,
        rdevmajor = 0,
        rdevminor = 0,
        namesize = name.len() + 1,
        check = 0,
    );
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
    out.extend_from_slice(data);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// Writes the guest's initramfs to `path`.
pub fn build_initramfs(path: &Path) {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("busybox-static (scripts/qemu-setup installs it)");
    let mut archive = Vec::new();
    let mut ino = 1;
    let mut add = |archive: &mut Vec<u8>, name: &str, mode: u32, data: &[u8]| {
        cpio_entry(archive, ino, name, mode, data);
        ino += 1;
    };
    for dir in [
        "bin",
        "lib",
        "lib/modules",
        "proc",
        "sys",
        "dev",
        "tmp",
        "etc",
    ] {
        add(&mut archive, dir, 0o040755, &[]);
    }
    add(
        &mut archive,
        "bin/busybox",
        0o100755,
        &std::fs::read(busybox).expect("busybox"),
    );
    add(&mut archive, "init", 0o100755, INIT.as_bytes());
    for module in MODULES {
        let file = cache().join("modules").join(format!("{module}.ko"));
        let bytes = std::fs::read(&file)
            .unwrap_or_else(|e| panic!("{}: {e} (run scripts/qemu-setup)", file.display()));
        add(
            &mut archive,
            &format!("lib/modules/{module}.ko"),
            0o100644,
            &bytes,
        );
    }
    add(&mut archive, "TRAILER!!!", 0, &[]);
    let mut file = std::fs::File::create(path).expect("initramfs");
    file.write_all(&archive).expect("write initramfs");
}

/// The kernel image.
pub fn kernel() -> PathBuf {
    let kernel = cache().join("vmlinuz");
    assert!(
        kernel.is_file(),
        "{} missing: run scripts/qemu-setup (scripts/test does)",
        kernel.display()
    );
    kernel
}
