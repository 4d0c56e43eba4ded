"""Where a QEMU process's memory goes, from /proc/PID/smaps: guest RAM, the
TCG translation cache, the ROM copies of kernel and initrd QEMU keeps for a
reset (or the files' mappings), the rest of QEMU's heap and stacks, and its
binary and libraries."""
import re


def breakdown(pid, ram_mib, tb_mib):
    """PSS in KiB per category of one QEMU process."""
    cats = {"guest RAM": 0, "TCG translation cache": 0, "kernel and initrd files": 0, "QEMU heap and stacks": 0,
            "QEMU binary and libraries": 0, "other": 0}
    head = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$")
    cur = None
    try:
        lines = open(f"/proc/{pid}/smaps").read().splitlines()
    except OSError:
        return cats
    for line in lines:
        m = head.match(line)
        if m:
            size = int(m.group(2), 16) - int(m.group(1), 16)
            perms, name = m.group(3), m.group(4)
            mib = size / (1 << 20)
            if name.startswith("/memfd:runhv-vm-ram"):  # a VM from a template: its copy of the template's memory
                cur = "guest RAM"
            elif name in ("/kernel", "/initrd") or name.endswith(("vmlinux", "initramfs.cpio")):
                cur = "kernel and initrd files"
            elif name.startswith("/") and "(deleted)" not in name:
                cur = "QEMU binary and libraries"
            elif "tcg" in name or ("x" in perms and name == ""):
                cur = "TCG translation cache"
            elif name == "" and ram_mib <= mib <= ram_mib + 4:
                cur = "guest RAM"
            elif name in ("", "[heap]", "[stack]") or name.startswith("[anon"):
                cur = "QEMU heap and stacks"
            else:
                cur = "other"
            continue
        if cur and line.startswith("Pss:"):
            cats[cur] += int(line.split()[1])
    return cats
