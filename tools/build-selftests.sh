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
		-I"$TOP/include/uapi" -o "$bin" "$c" -lpthread || die "building $c failed"
done
say "selftests built in selftests/build/"
