#!/usr/bin/env bash
# build-guest-kernel.sh - build runhv's lean utility-VM kernel from Debian's
# linux-source-6.1 with guest/kernel-patches/*.patch applied: `make
# tinyconfig`, then guest/kernel.config merged on top, everything built in.
# The result is cached by (source package version, fragment and patches),
# so a second run copies a file and is done.
#
# Usage: build-guest-kernel.sh OUT_DIR
#   OUT_DIR receives vmlinux (uncompressed, PVH entry), kernel-release, an
#   empty modules/load-order (nothing to load) and .provisioned.
#
# Environment:
#   RUNHV_CACHE    cache directory (default $HOME/.cache/runhv)
#   RUNHV_JOBS     parallel jobs (default: every CPU)
#   RUNHV_FORCE=1  rebuild from a clean object tree even if the cache has it
set -euo pipefail

prog=${0##*/}
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }
log() { printf '%s: %s\n' "$prog" "$*" >&2; }

[[ $# -eq 1 ]] || die "usage: $prog OUT_DIR"
out=$1
here=$(cd "$(dirname "$0")/.." && pwd)
fragment=$here/guest/kernel.config
cache=${RUNHV_CACHE:-${HOME:-/root}/.cache/runhv}
jobs=${RUNHV_JOBS:-$(nproc)}
tarball=/usr/src/linux-source-6.1.tar.xz

[[ -f $fragment ]] || die "missing $fragment"
patches=("$here"/guest/kernel-patches/*.patch)
[[ -f ${patches[0]} ]] || patches=()
version=$(dpkg-query -W -f '${Version}' linux-source-6.1 2>/dev/null) ||
    die "linux-source-6.1 is not installed (apt-get install linux-source-6.1, or run scripts/install-deps.sh)"
[[ -f $tarball ]] || die "$tarball is missing (reinstall linux-source-6.1)"
for tool in make gcc bison flex bc perl sha256sum flock patch; do
    command -v "$tool" >/dev/null 2>&1 || die "missing build tool: $tool (run scripts/install-deps.sh)"
done

# What the kernel is made of: the source, the fragment, and how this script
# turns them into a kernel (bump build_recipe when that changes).
build_recipe=3
patch_key=$(cat /dev/null "${patches[@]}" | sha256sum | cut -c1-8)
key=$( { echo "linux-source-6.1=$version recipe=$build_recipe patches=$patch_key"; cat "$fragment"; } | sha256sum | cut -c1-16)
stamp_want="lean linux-source-6.1=$version fragment=$key"
done_dir=$cache/guest-kernel/$key

stage=""
trap '[[ -n $stage ]] && rm -rf "$stage"; rm -rf "${done_dir:?}.tmp"' EXIT
trap 'exit 130' INT TERM

install_out() {
    mkdir -p "$out"
    stage=$(mktemp -d "$out/.stage.XXXXXX")
    cp "$done_dir/vmlinux" "$stage/vmlinux"
    cp "$done_dir/kernel-release" "$stage/kernel-release"
    mkdir -p "$stage/modules"
    : >"$stage/modules/load-order"
    : >"$stage/modules/builtin"
    rm -f "$out/.provisioned"
    rm -rf "$out/modules"
    mv "$stage/modules" "$out/modules"
    mv -f "$stage/vmlinux" "$out/vmlinux"
    mv -f "$stage/kernel-release" "$out/kernel-release"
    rmdir "$stage"
    stage=""
    printf '%s\n' "$stamp_want" >"$out/.provisioned"
}

if [[ ${RUNHV_FORCE:-0} != 1 && -f $out/.provisioned && $(cat "$out/.provisioned") == "$stamp_want" &&
      -f $out/vmlinux && -f $out/kernel-release && -f $out/modules/load-order ]]; then
    log "up to date: $(cat "$out/kernel-release") in $out"
    exit 0
fi
mkdir -p "$cache"
exec 9>"$cache/.kernel-lock"
flock 9
if [[ ${RUNHV_FORCE:-0} != 1 && -f $done_dir/vmlinux && -f $done_dir/kernel-release ]]; then
    install_out
    log "from cache: $(cat "$out/kernel-release") ($key) into $out"
    exit 0
fi

# The source is unpacked and patched once per package version and patch
# set; the object tree is kept per source tree too, so a changed fragment
# rebuilds only what it touches.
tree=$version-p$patch_key
src=$cache/linux-source-$tree
if [[ ! -f $src/.unpacked ]]; then
    log "unpacking $tarball"
    rm -rf "$src" "$src.tmp"
    mkdir -p "$src.tmp"
    tar -xf "$tarball" -C "$src.tmp" --strip-components=1
    for p in "${patches[@]}"; do
        patch -s -p1 -d "$src.tmp" <"$p" || die "${p#"$here"/} does not apply to linux-source-6.1 $version"
    done
    touch "$src.tmp/.unpacked"
    mv "$src.tmp" "$src"
fi
obj=$cache/linux-obj-$tree
[[ ${RUNHV_FORCE:-0} == 1 ]] && rm -rf "$obj"
mkdir -p "$obj"
# Other source versions or patch sets and their objects are of no further use.
find "$cache" -maxdepth 1 \( -name 'linux-source-*' -o -name 'linux-obj-*' \) \
    ! -name "linux-source-$tree" ! -name "linux-obj-$tree" -exec rm -rf {} +

log "configuring: tinyconfig + ${fragment#"$here"/}"
make -s -C "$src" O="$obj" tinyconfig >/dev/null
# merge_config.sh writes its temporary files into the current directory.
(cd "$obj" && "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$fragment" >/dev/null)
make -s -C "$src" O="$obj" olddefconfig >/dev/null

# Kconfig silently drops what a dependency forbids: every line of the
# fragment must survive, or the build stops here naming it.
missing=()
while IFS= read -r line; do
    [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]] || continue
    name=${BASH_REMATCH[1]} want=${BASH_REMATCH[2]}
    if [[ $want == n ]]; then
        grep -q "^$name=" "$obj/.config" && missing+=("$name=n")
    else
        grep -qxF "$name=$want" "$obj/.config" || missing+=("$name=$want")
    fi
done <"$fragment"
((${#missing[@]} == 0)) || die "Kconfig did not take ${missing[*]} from guest/kernel.config (a dependency is missing)"

log "building vmlinux with $jobs jobs (several minutes the first time)"
if ! make -s -C "$src" O="$obj" -j"$jobs" vmlinux >"$obj/build.log" 2>&1; then
    tail -20 "$obj/build.log" >&2
    die "the kernel build failed (log: $obj/build.log)"
fi
notes=$(readelf -Wn "$obj/vmlinux")
grep -Eq '^[[:space:]]*Xen[[:space:]]+0x[0-9a-f]+[[:space:]].*\(0x00000012\)' <<<"$notes" ||
    die "the built vmlinux has no PVH entry note; QEMU microvm cannot boot it"

mkdir -p "$done_dir.tmp"
# No symbols either: QEMU reads an ELF kernel's symbol table into its heap
# and keeps it for the life of the VM (1.4 MiB of each VM's PSS here).
strip --strip-all -o "$done_dir.tmp/vmlinux" "$obj/vmlinux"
make -s -C "$src" O="$obj" kernelrelease >"$done_dir.tmp/kernel-release"
cp "$obj/.config" "$done_dir.tmp/config"
rm -rf "$done_dir"
mv "$done_dir.tmp" "$done_dir"
install_out
log "built $(cat "$out/kernel-release") ($key) into $out"
