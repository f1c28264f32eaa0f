#!/usr/bin/env bash
# DKMS's MAKE (dkms.conf): builds infinisock.ko in the current directory (the staged
# source) against the kernel build tree KSRC:
#   build.sh KVER KSRC [VAR=value ...]    dkms appends CC=/LD= for clang kernels: ignored,
#                                         the kernel's own LLVM toolchain is used
#   build.sh --clean KSRC
#
# A Rust module needs what distribution headers do not ship: the kernel's Rust metadata
# (rust/*.rmeta) and its bindgen command line, both in the tree the kernel was built in;
# and the very rustc and bindgen that built it (rmeta is locked to the compiler). Each is
# checked here first, with a message that says what is missing (dkms ignores PRE_BUILD's
# status, so the checks live in MAKE). Environment: RUSTC, RUSTDOC, BINDGEN, LLVM
# (default: the kernel's rustc/bindgen if the .config's versions match those found).
set -euo pipefail

die() { printf 'infinisock dkms: %s\n' "$*" >&2; exit 1; }

if [ "${1:-}" = --clean ]; then
	[ -d "${2:-}" ] || die "usage: build.sh --clean KSRC"
	make -C "$2" M="$PWD" clean
	rm -f rust/bindings_generated.rs
	exit 0
fi
[ $# -ge 2 ] || die "usage: build.sh KVER KSRC"
kver=$1 ksrc=$2
[ -f "$ksrc/.config" ] || die "$ksrc/.config missing: not a kernel build tree"
release=$(cat "$ksrc/include/config/kernel.release" 2>/dev/null) || die "$ksrc is not a built kernel tree"
[ "$release" = "$kver" ] || die "$ksrc was built as $release, not $kver"

config() { sed -n "s/^$1=\"\\{0,1\\}\\([^\"]*\\)\"\\{0,1\\}$/\\1/p" "$ksrc/.config"; }
for opt in CONFIG_RUST CONFIG_INFINIBAND CONFIG_INFINIBAND_ADDR_TRANS CONFIG_INET; do
	case $(config "$opt") in y|m) ;; *) die "$kver lacks $opt" ;; esac
done
ls "$ksrc"/rust/libkernel.rmeta > /dev/null 2>&1 ||
	die "$ksrc/rust/libkernel.rmeta missing: Rust modules build only against the tree the kernel was built in (distribution headers carry no Rust metadata)"
cmdfile=$ksrc/rust/bindings/.bindings_generated.rs.cmd
[ -f "$cmdfile" ] || die "$cmdfile missing: the kernel's bindgen command line is needed"

# The same rustc and bindgen as the kernel's: the first candidate whose version is the
# one the .config records (RUSTC/BINDGEN if set, else the usual places).
pick() { # WANT CANDIDATE...: prints the first candidate that says WANT to --version
	local want=$1 c
	shift
	for c in "$@"; do
		[ -n "$c" ] && [ "$("$c" --version 2>/dev/null)" = "$want" ] && { echo "$c"; return 0; }
	done
	return 1
}
want_rustc=$(config CONFIG_RUSTC_VERSION_TEXT)
want_bindgen=$(config CONFIG_BINDGEN_VERSION_TEXT)
if [ -n "${RUSTC:-}" ]; then candidates=("$RUSTC"); else candidates=(/usr/bin/rustc "$(command -v rustc || true)"); fi
rustc=$(pick "$want_rustc" "${candidates[@]}") ||
	die "$kver was built by '$want_rustc'; not found in: ${candidates[*]} (set RUSTC)"
rustdoc=${RUSTDOC:-$(dirname "$rustc")/rustdoc}
# The kernel's own bindgen is the one its saved command names.
kernel_bindgen=$(sed -n 's/^savedcmd_rust\/bindings\/bindings_generated.rs := \([^ ]*\) .*/\1/p' "$cmdfile")
if [ -n "${BINDGEN:-}" ]; then candidates=("$BINDGEN"); else candidates=("$kernel_bindgen" "$(command -v bindgen || true)"); fi
bindgen=$(pick "$want_bindgen" "${candidates[@]}") ||
	die "$kver was built with '$want_bindgen'; not found in: ${candidates[*]} (set BINDGEN)"

# The kernel's LLVM: clang-19 here, as its CONFIG_CC_VERSION_TEXT says.
llvm=${LLVM:-}
if [ -z "$llvm" ]; then
	major=$(config CONFIG_CLANG_VERSION)
	major=$((major / 10000))
	if command -v "clang-$major" > /dev/null; then llvm=-$major; else llvm=1; fi
fi
export INFINISOCK_BINDGEN=$bindgen
exec make -C "$ksrc" M="$PWD" LLVM="$llvm" RUSTC="$rustc" RUSTDOC="$rustdoc" BINDGEN="$bindgen" \
	KERNELRELEASE="$kver" -j"$(nproc)" modules
