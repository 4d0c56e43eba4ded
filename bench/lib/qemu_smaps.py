"""Where a QEMU process's memory goes, from /proc/PID/smaps: guest RAM, the
TCG translation cache, the ROM copies of kernel and initrd QEMU keeps for a
reset (or the files' mappings), the rest of QEMU's heap and stacks, and its
binary and libraries."""
import os
import re


def guest_ram_file_kib(pid):
    """A VM from a template: the memory of its guest RAM's memfd, all of it
    (only this QEMU holds it, and PSS counts only the pages it has mapped),
    and the PSS of its mapping; (0, 0) for a booted VM."""
    seen, size = set(), 0
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            path = f"/proc/{pid}/fd/{fd}"
            if os.readlink(path).startswith("/memfd:runhv-vm-ram"):
                st = os.stat(path)
                if st.st_ino not in seen:
                    seen.add(st.st_ino)
                    size += st.st_blocks * 512 // 1024
    except OSError:
        return 0, 0
    return size, (breakdown(pid, 0, 0, mapped_only=True)["guest RAM"] if size else 0)


def breakdown(pid, ram_mib, tb_mib, mapped_only=False):
    """PSS in KiB per category of one QEMU process; a template VM's guest
    RAM counts whole (guest_ram_file_kib), unless mapped_only."""
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
            elif name == "" and 0 < ram_mib <= mib <= ram_mib + 4:
                cur = "guest RAM"
            elif name in ("", "[heap]", "[stack]") or name.startswith("[anon"):
                cur = "QEMU heap and stacks"
            else:
                cur = "other"
            continue
        if cur and line.startswith("Pss:"):
            cats[cur] += int(line.split()[1])
    if not mapped_only:
        whole, _ = guest_ram_file_kib(pid)
        if whole:
            cats["guest RAM"] = whole
    return cats
