#!/usr/bin/env bash
# provision-guest-kernel.sh - fetch Debian's generic amd64 kernel and turn it into
# what runhv's utility VM boots: an uncompressed PVH-capable ELF vmlinux plus the
# handful of modules the guest needs, with a dependency-ordered load list.
#
# Usage: provision-guest-kernel.sh OUT_DIR [CACHE_DIR]
#
#   OUT_DIR    receives:
#                vmlinux             uncompressed ELF kernel with the PVH (Xen
#                                    PHYS32_ENTRY) note, for QEMU -kernel on microvm
#                kernel-release      the guest's `uname -r` (e.g. 6.1.0-56-amd64)
#                modules/*.ko        uncompressed modules (flat directory)
#                modules/load-order  module file names, one per line, in an order
#                                    in which each module's deps come first
#                modules/builtin     requested modules that are built into vmlinux
#                                    (nothing to load for them)
#                .provisioned        stamp used for idempotency (do not edit)
#   CACHE_DIR  where the downloaded .deb is kept (default: $HOME/.cache/runhv)
#
# The kernel package is resolved from the *current* apt lists: the dependency
# linux-image-<abi>-amd64 of the metapackage linux-image-amd64. It is downloaded
# with `apt-get download` and unpacked with dpkg-deb -x into a temporary
# directory; nothing is installed on the host. Run `apt-get update` first if the
# lists may be stale (or set RUNHV_APT_UPDATE=1 to have this script do it).
#
# Environment:
#   RUNHV_GUEST_MODULES        override the list of wanted modules (space-separated)
#   RUNHV_GUEST_EXTRA_MODULES  add modules to the default list
#   RUNHV_KERNEL_METAPKG       metapackage to resolve (default linux-image-amd64)
#   RUNHV_APT_UPDATE=1         run apt-get update before resolving
#   RUNHV_FORCE=1              rebuild OUT_DIR even if it looks up to date
#   RUNHV_KEEP_MODULE_SIGS=1   keep module signatures (default: strip, see strip_sig)
#
# Requires: apt-get, apt-cache, dpkg-deb, depmod (kmod), xz, sha256sum, flock.
# Optional: readelf (binutils) to check the PVH note; zstd/gzip for such modules.
set -euo pipefail

prog=${0##*/}
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }
log() { printf '%s: %s\n' "$prog" "$*" >&2; }

[[ $# -ge 1 && $# -le 2 ]] || die "usage: $prog OUT_DIR [CACHE_DIR]"
out=$1
cache=${2:-${HOME:-/root}/.cache/runhv}
metapkg=${RUNHV_KERNEL_METAPKG:-linux-image-amd64}

# Modules the guest needs. Dependencies (netfs, fscache, virtio, virtio_ring,
# failover, pvpanic, ...) are added from modules.dep; entries that are built in
# are recorded in modules/builtin and skipped.
#   virtio_mmio            transport of every device on QEMU microvm
#   virtio_console         virtio-serial ports (agent channel)
#   9pnet_virtio 9p        9p share over virtio
#   virtio_net             network (tap) for later
#   fuse virtiofs          virtio-fs share
#   overlay                container rootfs layering
#   pvpanic_mmio           ACPI QEMU0001 pvpanic: with QEMU's -device pvpanic
#                          -action panic=exit-failure a guest panic makes QEMU
#                          exit 1 instead of 0
#   virtio_rng             entropy from QEMU's virtio-rng before any container
#                          starts (the agent waits for the crng)
default_modules="virtio_mmio virtio_console 9pnet_virtio 9p virtio_net fuse virtiofs overlay pvpanic_mmio virtio_rng"
read -ra wanted <<<"${RUNHV_GUEST_MODULES:-$default_modules} ${RUNHV_GUEST_EXTRA_MODULES:-}"

for tool in apt-get apt-cache dpkg-deb depmod xz sha256sum flock; do
    command -v "$tool" >/dev/null 2>&1 || die "missing required tool: $tool"
done

# ---------------------------------------------------------------- resolve ---
if [[ ${RUNHV_APT_UPDATE:-0} == 1 ]]; then
    log "running apt-get update"
    apt-get update -qq >&2 || die "apt-get update failed"
fi

# One apt-cache call on the metapackage (apt-cache takes ~0.6 s here because
# apt's binary cache is disabled on this image, so keep the fast path to one):
#   Depends: linux-image-6.1.0-56-amd64 (= 6.1.192-2)
# `apt-cache depends linux-image-amd64` gives the same name without the version.
meta=$(apt-cache show --no-all-versions "$metapkg" 2>/dev/null || true)
dep=$(printf '%s\n' "$meta" | sed -n 's/^Depends: *//p' | head -n1 | tr ',' '\n' |
      sed -n 's/^ *\(linux-image-[^ (]*\) *\((= *\([^)]*\))\)\{0,1\}.*$/\1 \3/p' | head -n1)
pkg=${dep%% *}
version=${dep#* }
[[ $version == "$dep" ]] && version=""
if [[ -z $pkg ]]; then
    if [[ -f $out/.provisioned && ${RUNHV_FORCE:-0} != 1 ]]; then
        log "warning: cannot resolve $metapkg via apt; keeping existing $(cat "$out/.provisioned")"
        exit 0
    fi
    die "cannot resolve the kernel package behind $metapkg (run apt-get update?)"
fi
if [[ -z $version ]]; then
    # Unversioned dependency: take the candidate version of the image package.
    version=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null | sed -n 's/^Version: *//p' | head -n1)
    [[ -n $version ]] || die "no candidate version for $pkg"
fi
release=${pkg#linux-image-}          # e.g. 6.1.0-56-amd64 (checked after unpacking)

modhash=$( (printf '%s\n' "${wanted[@]}" | sort -u; echo "keepsigs=${RUNHV_KEEP_MODULE_SIGS:-0}") |
          sha256sum | cut -c1-16)
stamp_want="pkg=$pkg version=$version modules=$modhash"

is_current() {
    [[ -f $out/.provisioned && -f $out/vmlinux && -f $out/kernel-release &&
       -f $out/modules/load-order ]] || return 1
    [[ $(cat "$out/.provisioned") == "$stamp_want" ]] || return 1
}

if [[ ${RUNHV_FORCE:-0} != 1 ]] && is_current; then
    log "up to date: $pkg $version in $out"
    exit 0
fi

# ---------------------------------------------------------------- download ---
mkdir -p "$cache" "$out"
exec 9>"$cache/.lock"
flock 9                                   # serialise concurrent provisioners

# Re-check under the lock: another run may just have finished the same work.
if [[ ${RUNHV_FORCE:-0} != 1 ]] && is_current; then
    log "up to date: $pkg $version in $out"
    exit 0
fi

# Expected checksum of the .deb, for validating a cached copy.
sha256=$(apt-cache show "$pkg=$version" 2>/dev/null | sed -n 's/^SHA256: *//p' | head -n1 || true)

# Debian's file name: epoch colons are encoded as %3a.
deb="$cache/${pkg}_${version//:/%3a}_amd64.deb"
verify_deb() {
    [[ -s $1 ]] || return 1
    [[ -z $sha256 ]] && return 0
    [[ $(sha256sum "$1" | cut -d' ' -f1) == "$sha256" ]]
}

if ! verify_deb "$deb"; then
    rm -f "$deb"
    log "downloading $pkg=$version"
    dl=$(mktemp -d "$cache/dl.XXXXXX")
    # As root, apt drops to user _apt, which may not be able to write here.
    aptopt=()
    [[ $(id -u) == 0 ]] && aptopt=(-o APT::Sandbox::User=root)
    if ! (cd "$dl" && apt-get download -qq "${aptopt[@]}" "$pkg=$version" >&2); then
        rm -rf "$dl"
        die "apt-get download $pkg=$version failed"
    fi
    got=$(find "$dl" -maxdepth 1 -name '*.deb' | head -n1)
    [[ -n $got ]] || { rm -rf "$dl"; die "apt-get download produced no .deb"; }
    verify_deb "$got" || { rm -rf "$dl"; die "SHA256 mismatch for $got"; }
    mv -f "$got" "$deb"
    rmdir "$dl" 2>/dev/null || rm -rf "$dl"
    # Drop older cached kernels of the same flavour.
    find "$cache" -maxdepth 1 -name 'linux-image-*_amd64.deb' ! -path "$deb" -delete
else
    log "using cached $deb"
fi

# ----------------------------------------------------------------- unpack ---
tmp=$(mktemp -d "${TMPDIR:-/tmp}/runhv-kernel.XXXXXX")
stage=""
cleanup() { rm -rf "$tmp"; [[ -n $stage ]] && rm -rf "$stage"; return 0; }
trap cleanup EXIT
trap 'exit 130' INT TERM

log "unpacking $(basename "$deb")"
dpkg-deb -x "$deb" "$tmp/root"

moddir="$tmp/root/lib/modules/$release"
[[ -d $moddir ]] || {
    found=$(find "$tmp/root/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | head -n1)
    [[ -n $found ]] || die "package has no lib/modules directory"
    log "note: release is $found, not $release as guessed from the package name"
    release=$found
    moddir="$tmp/root/lib/modules/$release"
}
vmlinuz="$tmp/root/boot/vmlinuz-$release"
[[ -f $vmlinuz ]] || die "package has no boot/vmlinuz-$release"

stage=$(mktemp -d "$out/.stage.XXXXXX")
mkdir -p "$stage/modules"

# ------------------------------------------------------ vmlinuz -> vmlinux ---
# A bzImage is setup code + a decompressor + the compressed ELF kernel. Debian's
# amd64 kernel uses CONFIG_KERNEL_XZ: find the xz stream magic (FD 37 7A 58 5A 00)
# and decompress from there. --single-stream stops at the end of the first
# stream and ignores what follows (the decompressor's tail, padding, signature).
# Several offsets may match; the first one that yields an ELF file wins.
is_elf() { [[ $(head -c4 "$1" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]]; }
ok=0
while IFS=: read -r off _; do
    [[ -n $off ]] || continue
    # xz exits after the first stream, so tail may die of SIGPIPE: judge xz only.
    if (set +o pipefail; tail -c +"$((off + 1))" "$vmlinuz" 2>/dev/null |
            xz -dc --single-stream >"$stage/vmlinux" 2>/dev/null) &&
       is_elf "$stage/vmlinux"; then
        ok=1
        break
    fi
done < <(LC_ALL=C grep -obUaP '\xFD7zXZ\x00' "$vmlinuz" || true)
[[ $ok == 1 ]] || die "could not find an xz-compressed ELF kernel in $(basename "$vmlinuz")"

if command -v readelf >/dev/null 2>&1; then
    # XEN_ELFNOTE_PHYS32_ENTRY (type 18) in a "Xen" note = PVH entry point.
    # (Capture first: grep -q exiting early would SIGPIPE readelf under pipefail.)
    notes=$(readelf -Wn "$stage/vmlinux")
    grep -Eq '^[[:space:]]*Xen[[:space:]]+0x[0-9a-f]+[[:space:]].*\(0x00000012\)' <<<"$notes" ||
        die "vmlinux has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY); QEMU cannot PVH-boot it"
else
    log "warning: readelf not found, PVH note not checked"
fi

# ----------------------------------------------------------------- modules ---
# The .deb does not ship modules.dep (its postinst runs depmod), so generate
# it for the unpacked tree. modules.dep lines are "path: dep-path ...", with the
# full transitive dependency set of each module.
depmod -b "$tmp/root" "$release"
depfile="$moddir/modules.dep"
[[ -s $depfile ]] || die "depmod produced no modules.dep"

norm() { local n=${1##*/}; n=${n%%.ko*}; printf '%s' "${n//-/_}"; }

# Drop the appended module signature. Verifying it (sha256 + RSA) is emulated
# under TCG and costs ~20 ms per module; the guest kernel does not enforce
# signatures (CONFIG_MODULE_SIG_FORCE unset), it only taints itself once
# ("module verification failed"). Layout at the end of a signed module:
#   ... | signature (sig_len bytes) | struct module_signature (12 bytes, last
#   4 = sig_len big-endian) | "~Module signature appended~\n" (28 bytes)
strip_sig() {
    local f=$1 size tail4 siglen
    [[ $(tail -c 28 "$f") == "~Module signature appended~" ]] || return 0
    size=$(stat -c %s "$f")
    tail4=$(tail -c 32 "$f" | head -c 4 | od -An -tu1)
    siglen=$(awk '{print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4}' <<<"$tail4")
    (( siglen > 0 && siglen + 40 < size )) || die "bad signature trailer in $f"
    truncate -s $((size - 40 - siglen)) "$f"
}

declare -A path_of deps_of
while IFS= read -r line; do
    p=${line%%:*}
    n=$(norm "$p")
    path_of[$n]=$p
    deps_of[$n]=${line#*:}
done <"$depfile"

declare -A builtin
while IFS= read -r p; do
    [[ -n $p ]] && builtin[$(norm "$p")]=1
done <"$moddir/modules.builtin"

# Depth-first post-order: a module is emitted after all of its dependencies.
declare -A state       # 1 = in progress, 2 = done
order=()
visit() {
    local n=$1 d
    case ${state[$n]:-0} in
        2) return 0 ;;
        1) die "dependency cycle at module $n" ;;
    esac
    state[$n]=1
    for d in ${deps_of[$n]}; do
        visit "$(norm "$d")"
    done
    state[$n]=2
    order+=("$n")
}

builtin_list=()
for w in "${wanted[@]}"; do
    n=$(norm "$w")
    if [[ -n ${path_of[$n]:-} ]]; then
        visit "$n"
    elif [[ -n ${builtin[$n]:-} ]]; then
        builtin_list+=("$n")
    else
        die "module $w is neither a module nor built into $release"
    fi
done

: >"$stage/modules/load-order"
for n in "${order[@]}"; do
    src="$moddir/${path_of[$n]}"
    dst="$stage/modules/$n.ko"
    case $src in
        *.ko)     cp "$src" "$dst" ;;
        *.ko.xz)  xz -dc "$src" >"$dst" ;;
        *.ko.zst) zstd -qdc "$src" >"$dst" ;;
        *.ko.gz)  gzip -dc "$src" >"$dst" ;;
        *) die "unknown module file type: $src" ;;
    esac
    is_elf "$dst" || die "$dst is not an ELF object after extraction"
    [[ ${RUNHV_KEEP_MODULE_SIGS:-0} == 1 ]] || strip_sig "$dst"
    printf '%s.ko\n' "$n" >>"$stage/modules/load-order"
done
printf '%s\n' "${builtin_list[@]}" | sed '/^$/d' >"$stage/modules/builtin"
printf '%s\n' "$release" >"$stage/kernel-release"

# ----------------------------------------------------------------- install ---
# Replace the previous outputs, then write the stamp last so an interrupted
# run is never mistaken for a complete one.
rm -f "$out/.provisioned"
rm -rf "$out/modules"
mv "$stage/modules" "$out/modules"
mv -f "$stage/vmlinux" "$out/vmlinux"
mv -f "$stage/kernel-release" "$out/kernel-release"
printf '%s\n' "$stamp_want" >"$out/.provisioned"

log "provisioned $pkg $version ($release) into $out:" \
    "$(wc -l <"$out/modules/load-order") modules, builtin: ${builtin_list[*]:-none}"
