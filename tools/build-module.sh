#!/usr/bin/env bash
# Builds infinisock.ko against the cached kernel of FLAVOUR (debug by default) and
# copies it to out/FLAVOUR/. `build-module.sh clean` removes the build products.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

flavour=${1:-debug}
if [ "$flavour" = clean ]; then
	for kdir in "$CACHE_DIR"/build/*/; do
		[ -f "$kdir/.infinisock-built" ] && make -s -C "$kdir" M="$TOP" "${KMAKE_ARGS[@]}" clean
	done
	rm -f "$TOP/rust/bindings_generated.rs"
	exit 0
fi
kdir=$("$here/build-kernel.sh" "$flavour")
say "building infinisock.ko against $kdir"
make -C "$kdir" M="$TOP" "${KMAKE_ARGS[@]}" -j"$(nproc)" modules >&2 || die "module build failed"
mkdir -p "$TOP/out/$flavour"
cp "$TOP/infinisock.ko" "$TOP/out/$flavour/"
echo "$kdir" > "$TOP/out/$flavour/kdir"
say "module at out/$flavour/infinisock.ko"
