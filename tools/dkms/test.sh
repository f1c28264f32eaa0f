#!/usr/bin/env bash
# make dkms-check: the DKMS packaging, through dkms itself, in throw-away trees (the
# machine's own dkms and module trees are not touched):
#   - `make dkms-source`'s tree is added, built and installed for the cached kernel of
#     FLAVOUR (debug by default); the module has that kernel's vermagic and is copied
#     to out/dkms/infinisock.ko, which the VM's dkms.sh then loads and uses;
#   - a kernel tree without its Rust metadata fails with build.sh's message;
#   - a kernel of another series is skipped (BUILD_EXCLUSIVE_KERNEL).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"

flavour=${1:-${FLAVOUR:-debug}}
command -v dkms > /dev/null || die "dkms missing: run tools/bootstrap.sh"
kdir=$("$here/../build-kernel.sh" "$flavour")
kver=$(cat "$kdir/include/config/kernel.release")
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
version=dkmscheck
src=$(DESTDIR=$t INFINISOCK_VERSION=$version bash "$here/source.sh")
mkdir -p "$t/dkms" "$t/lib/modules"
trees=(--sourcetree "$t/usr/src" --dkmstree "$t/dkms" --installtree "$t/lib/modules")
dk() { dkms "$@" "${trees[@]}" -m infinisock -v "$version"; }

say "dkms: add, build and install for $kver ($flavour)"
dk add > "$t/add.log" 2>&1 || die "dkms add: $(cat "$t/add.log")"
if ! dk build -k "$kver" --kernelsourcedir "$kdir" > "$t/build.log" 2>&1; then
	cat "$t/build.log" "$t/dkms/infinisock/$version/build/make.log" >&2 2>/dev/null || true
	die "dkms build failed"
fi
mkdir -p "$t/lib/modules/$kver"
dk install -k "$kver" --kernelsourcedir "$kdir" --no-depmod > "$t/install.log" 2>&1 ||
	die "dkms install: $(cat "$t/install.log")"
ko=$t/lib/modules/$kver/updates/dkms/infinisock.ko
[ -f "$ko" ] || ko=$(find "$t/lib/modules" -name 'infinisock.ko*' | head -n1)
[ -f "$ko" ] || die "dkms install put no infinisock.ko under $t/lib/modules: $(cat "$t/install.log")"
have=$(modinfo -F vermagic "$ko")
[ "${have%% *}" = "$kver" ] || die "the DKMS module's vermagic is '$have', not for $kver"
# The same as the module make builds for this kernel, when there is one.
if [ -f "$TOP/out/$flavour/infinisock.ko" ]; then
	want=$(modinfo -F vermagic "$TOP/out/$flavour/infinisock.ko")
	[ "$have" = "$want" ] || die "the DKMS module's vermagic '$have' is not make's '$want'"
fi
mkdir -p "$TOP/out/dkms"
cp "$ko" "$TOP/out/dkms/infinisock.ko"
echo "$kdir" > "$TOP/out/dkms/kdir"
say "dkms: built and installed ($have), copied to out/dkms/infinisock.ko"

# A tree without the kernel's Rust metadata: refused with the reason.
fake=$t/kernel-no-rust
mkdir -p "$fake/include/config"
cp "$kdir/.config" "$fake/.config"
cp "$kdir/include/config/kernel.release" "$fake/include/config/"
dk uninstall -k "$kver" > /dev/null 2>&1 || true
if dk build -k "$kver" --kernelsourcedir "$fake" --force > "$t/fake.log" 2>&1; then
	die "dkms built against a tree without Rust metadata"
fi
grep -qs "libkernel.rmeta missing" "$t/dkms/infinisock/$version/build/make.log" ||
	die "no clear reason for the tree without Rust metadata: $(cat "$t/fake.log" "$t/dkms/infinisock/$version/build/make.log" 2>&1)"
say "dkms: a kernel tree without Rust metadata is refused, with the reason"

# Another kernel series: not built at all.
out=$(dk build -k 6.1.0-99-amd64 --kernelsourcedir "$fake" 2>&1) && rc=0 || rc=$?
echo "$out" | grep -qi "BUILD_EXCLUSIVE" || die "a 6.1 kernel was not excluded (status $rc): $out"
say "dkms: other kernel series are skipped (BUILD_EXCLUSIVE_KERNEL)"
