#!/usr/bin/env bash
# Builds the C kselftests (selftests/infinisock/, with the kernel source's kselftest
# harness and lib.mk) into selftests/build/, and the benchmark tools and examples.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

src=$("$here/fetch-kernel.sh")
# Test programs go to selftests/build/, helpers the shell tests call to build/helpers/:
# selftests/infinisock/Makefile, on the kernel's own kselftest lib.mk.
mkdir -p "$TOP/selftests/build"
make -s -C "$TOP/selftests/infinisock" KSRC="$src" OUTPUT="$TOP/selftests/build" >&2 ||
	die "building the selftests failed"
# The kernel's own MSG_ZEROCOPY test program, unmodified: sdp_zc_source.sh runs it
# through transparent SDP.
gcc -O2 -Wall -o "$TOP/selftests/build/helpers/msg_zerocopy" "$src/tools/testing/selftests/net/msg_zerocopy.c" ||
	die "building msg_zerocopy failed"
# The benchmark tools run in the same VM.
mkdir -p "$TOP/tools/bench/build"
for c in "$TOP"/tools/bench/*.c; do
	b=$(basename "$c" .c)
	case $b in
	*_preload) flags=(-shared -fPIC) out=$TOP/tools/bench/build/$b.so ;;
	*) flags=() out=$TOP/tools/bench/build/$b ;;
	esac
	gcc -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -I"$TOP/include/uapi" "${flags[@]}" -o "$out" "$c" -lpthread -ldl ||
		die "building $c failed"
done
# The examples, which a selftest runs so that they keep working.
mkdir -p "$TOP/tools/examples/build"
for c in "$TOP"/tools/examples/*.c; do
	gcc -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -I"$TOP/include/uapi" -o "$TOP/tools/examples/build/$(basename "$c" .c)" "$c" ||
		die "building $c failed"
done
say "selftests built in selftests/build/, benchmark tools in tools/bench/build/, examples in tools/examples/build/"
# Transparent SDP's hook and its loader.
mkdir -p "$TOP/tools/transparent/build"
clang-19 -O2 -g -Wall -Werror -target bpf -D__TARGET_ARCH_x86 -I"/usr/include/$(uname -m)-linux-gnu" \
	-c -o "$TOP/tools/transparent/build/infinisock_transparent.bpf.o" "$TOP/tools/transparent/infinisock_transparent.bpf.c" ||
	die "building the transparent hook failed"
gcc -O2 -g -Wall -Wextra -Werror -o "$TOP/tools/transparent/build/infinisock-transparent" \
	"$TOP/tools/transparent/infinisock-transparent.c" -lbpf ||
	die "building infinisock-transparent failed"
say "transparent hook in tools/transparent/build/"
