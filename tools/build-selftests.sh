#!/usr/bin/env bash
# Builds the C kselftests (selftests/infinisock/*.c, kselftest harness from the kernel
# source) into selftests/build/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

src=$("$here/fetch-kernel.sh")
# Test programs go to selftests/build/, helpers the shell tests call to build/helpers/.
mkdir -p "$TOP/selftests/build/helpers"
for c in "$TOP"/selftests/infinisock/*.c "$TOP"/selftests/infinisock/helpers/*.c; do
	rel=${c#"$TOP"/selftests/infinisock/}
	bin=$TOP/selftests/build/${rel%.c}
	gcc -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -I"$src/tools/testing/selftests" \
		-I"$TOP/include/uapi" -o "$bin" "$c" -lpthread -lrdmacm -libverbs || die "building $c failed"
done
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
