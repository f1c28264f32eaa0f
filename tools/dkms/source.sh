#!/usr/bin/env bash
# Stages the module's sources for DKMS (make dkms-source):
#   source.sh      $DESTDIR/usr/src/infinisock-VERSION/ with dkms.conf, Kbuild, rust/,
#                  the uapi header and the two build scripts; prints the directory.
# VERSION is `git describe --always --dirty` of this tree (INFINISOCK_VERSION overrides).
# Then: dkms add infinisock/VERSION && dkms install infinisock/VERSION -k KVER.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"

version=${INFINISOCK_VERSION:-$(git -C "$TOP" describe --always --dirty 2>/dev/null || echo 0)}
dir=${DESTDIR:-}/usr/src/infinisock-$version
rm -rf "$dir"
mkdir -p "$dir"
cd "$TOP"
# Sources only: no build products (objects, the generated bindings).
{
	echo Kbuild
	echo include/uapi/linux/infinisock.h
	echo tools/gen-bindings.sh
	echo tools/dkms/build.sh
	find rust -type f \( -name '*.rs' -o -name '*.c' -o -name '*.h' \) ! -name bindings_generated.rs
} | sort | while read -r f; do
	install -D -m 644 "$f" "$dir/$f"
done
sed "s/@VERSION@/$version/" "$here/dkms.conf.in" > "$dir/dkms.conf"
echo "$dir"
