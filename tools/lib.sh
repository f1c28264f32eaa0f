# Shared settings for the tools/ scripts. Sourced, never run.
# shellcheck shell=bash

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Everything big (kernel source, kernel builds, tools) lives outside the repository.
CACHE_DIR=${INFINISOCK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/infinisock}
TOOLS_PREFIX=$CACHE_DIR/tools
BINDGEN_VERSION=0.71.1
VNG_VERSION=1.42
MATPLOTLIB_VERSION=3.9.2
BINDGEN=$TOOLS_PREFIX/bin/bindgen
VNG=$TOOLS_PREFIX/venv/bin/vng
LLVM_SUFFIX=-19
export LIBCLANG_PATH=/usr/lib/llvm-19/lib
KERNEL_SERIES=7.3
# The kernel and the module must be built by the same rustc (rmeta is version-locked).
KMAKE_ARGS=(LLVM="$LLVM_SUFFIX" RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc BINDGEN="$BINDGEN")

say() { printf '[infinisock] %s\n' "$*" >&2; }
die() { printf '[infinisock] error: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

toolchain_versions() {
	/usr/bin/rustc --version 2>/dev/null || echo "rustc: missing"
	"$BINDGEN" --version 2>/dev/null || echo "bindgen: missing"
	clang-19 --version 2>/dev/null | head -n1 || echo "clang-19: missing"
	# pahole writes the BTF of vmlinux and of the module.
	echo "pahole $(pahole --version 2>/dev/null || echo missing)"
}

check_toolchain() {
	[ -x /usr/bin/rustc ] || die "/usr/bin/rustc missing: install Debian's rustc-web (tools/bootstrap.sh)"
	[ -d /usr/lib/rustlib/src/rust/library/core ] || die "rust core source missing: install rust-web-src"
	command -v clang-19 >/dev/null || die "clang-19 missing"
	command -v ld.lld-19 >/dev/null || die "lld-19 missing"
	[ -e "$LIBCLANG_PATH/libclang.so" ] || ls "$LIBCLANG_PATH"/libclang*.so* >/dev/null 2>&1 || die "libclang-19 missing"
	[ -x "$BINDGEN" ] || die "bindgen missing at $BINDGEN"
	[ -x "$VNG" ] || die "virtme-ng missing at $VNG"
	command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing"
	command -v pahole >/dev/null || die "pahole missing: install Debian's dwarves"
	command -v bpftool >/dev/null || die "bpftool missing"
	[ -e /usr/include/bpf/libbpf.h ] || die "libbpf headers missing: install libbpf-dev"
}
