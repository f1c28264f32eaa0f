#!/usr/bin/env bash
# Installs and checks everything the build and the test VM need. Idempotent:
# a second run on a prepared machine only checks and prints what it found.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

APT_PACKAGES=(
	# Rust for the kernel: rustc with its matching core source.
	rustc-web rust-web-src
	# LLVM toolchain the kernel is built with (LLVM=-19) and bindgen's libclang.
	clang-19 lld-19 llvm-19 libclang-19-dev
	# Kernel build.
	make gcc patch flex bison bc libelf-dev libssl-dev cpio kmod dwarves xz-utils zstd
	# Test VM and the tools used inside it (the guest sees the host's root over 9p).
	qemu-system-x86 python3-pip busybox-static iproute2 ethtool
	rdma-core ibverbs-utils ibverbs-providers librdmacm1 perftest rdmacm-utils
	# A hostile SDP peer for the tests is written against userspace verbs.
	librdmacm-dev libibverbs-dev
	iperf3 sockperf socat python3 iputils-ping
	# Transparent SDP: the BPF program that steers socket() and its loader.
	libbpf-dev bpftool
	# Installed man pages are checked with man --warnings (make install, its VM test).
	man-db groff-base
	# DKMS packaging (make dkms-check builds the module through dkms against our kernel).
	dkms
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	say "installing Debian packages: ${missing[*]}"
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
		|| die "apt-get could not install: ${missing[*]}"
fi

# bindgen-cli at the version the kernel documents as its minimum-tested one.
if ! "$BINDGEN" --version 2>/dev/null | grep -q "bindgen $BINDGEN_VERSION"; then
	say "installing bindgen-cli $BINDGEN_VERSION from crates.io"
	cargo install --locked bindgen-cli --version "$BINDGEN_VERSION" --root "$TOOLS_PREFIX" \
		|| die "cargo install bindgen-cli $BINDGEN_VERSION failed"
fi

# virtme-ng boots the test kernel with the host's root over 9p.
if ! "$VNG" --version >/dev/null 2>&1; then
	say "installing virtme-ng $VNG_VERSION from PyPI"
	python3 -m venv "$TOOLS_PREFIX/venv" 2>/dev/null || true
	"$TOOLS_PREFIX/venv/bin/pip" install -q "virtme-ng==$VNG_VERSION" \
		|| die "pip install virtme-ng==$VNG_VERSION failed"
fi

# The benchmark report's plots.
if ! "$TOOLS_PREFIX/venv/bin/python3" -c 'import matplotlib' 2>/dev/null; then
	say "installing matplotlib $MATPLOTLIB_VERSION from PyPI (benchmark plots)"
	"$TOOLS_PREFIX/venv/bin/pip" install -q "matplotlib==$MATPLOTLIB_VERSION" \
		|| die "pip install matplotlib==$MATPLOTLIB_VERSION failed"
fi

check_toolchain
say "toolchain ready: $(toolchain_versions | tr '\n' ' ')"
