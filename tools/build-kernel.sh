#!/usr/bin/env bash
# Builds the test kernel (flavour "debug", the default), the benchmark kernel ("release") or
# the benchmark kernel with the function tracer ("trace", for make latency) from
# Debian's linux-source-7.3, the patches in tools/kernel/patches/ and the fragments in
# tools/kernel/, into a cache outside the repository
# keyed by source version + fragments + toolchain. A cached build is reused in seconds.
# Prints the build directory (the O= tree, which out-of-tree modules build against).
#   build-kernel.sh [debug|release|trace]          build (or reuse) the kernel
#   build-kernel.sh --check-config FLAVOUR         only check that the fragments apply
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

check_only=0
if [ "${1:-}" = --check-config ]; then check_only=1; shift; fi
flavour=${1:-debug}
# Each flavour's config fragments, applied in order: trace is the release kernel plus the tracer.
case $flavour in
debug) fragments=(base debug) ;;
release) fragments=(base release) ;;
trace) fragments=(base release trace) ;;
*) die "unknown kernel flavour '$flavour' (debug, release or trace)" ;;
esac
fragments=("${fragments[@]/#/$here/kernel/}")
fragments=("${fragments[@]/%/.config}")
check_toolchain
src=$("$here/fetch-kernel.sh")
version=$(cat "$CACHE_DIR/src/linux-source-$KERNEL_SERIES.version")
# Fixes of kernel bugs the tests run into (tools/kernel/patches/, each says why),
# applied to the source once (a patch found applied already is skipped) and part of
# the cache key.
patches=()
for p in "$here"/kernel/patches/*.patch; do
	[ -f "$p" ] || continue
	patches+=("$p")
	patch -d "$src" -p1 -R -s -f --dry-run < "$p" > /dev/null 2>&1 && continue
	patch -d "$src" -p1 -N -s < "$p" || die "kernel patch $(basename "$p") does not apply"
done

# Bump when the way the kernel is configured or built changes: it is part of the cache key.
RECIPE="allnoconfig + KCONFIG_ALLCONFIG fragments; bzImage modules; ${KMAKE_ARGS[*]}"
key=$( { echo "$version"; cat "${fragments[@]}" ${patches[@]+"${patches[@]}"};
	toolchain_versions; echo "$RECIPE"; } | sha256sum | cut -c1-16)
out=$CACHE_DIR/build/$flavour-$key
if ((check_only == 0)) && [ -f "$out/.infinisock-built" ]; then
	say "kernel $flavour cached at $out"
	echo "$out"
	exit 0
fi
((check_only == 0)) || out=$(mktemp -d)

mkdir -p "$out"
cat "${fragments[@]}" > "$out/fragment.config"
start=$(date +%s)
kmake() { make -C "$src" O="$out" "${KMAKE_ARGS[@]}" "$@"; }
kmake -s rustavailable >&2 || die "the kernel does not accept this Rust toolchain (make rustavailable)"
KCONFIG_ALLCONFIG="$out/fragment.config" kmake -s allnoconfig >&2
# Kconfig silently drops an option whose dependencies are unmet: refuse that.
dropped=0
while IFS= read -r line; do
	case $line in CONFIG_*=n) opt=${line%%=*}
		grep -q "^$opt=" "$out/.config" && { say "option forced off but still set: $line"; dropped=1; } ;;
	CONFIG_*=*) grep -qxF "$line" "$out/.config" || { say "option not in the final config: $line"; dropped=1; } ;;
	esac
done < "$out/fragment.config"
# The test kernel must give the selftests what their kselftest config file asks for.
if [ "$flavour" = debug ]; then
	while IFS= read -r line; do
		case $line in CONFIG_*=[ym])
			grep -qE "^${line%%=*}=[ym]$" "$out/.config" ||
				{ say "the selftests need $line (selftests/infinisock/config)"; dropped=1; } ;;
		esac
	done < "$TOP/selftests/infinisock/config"
fi
if ((check_only)); then
	rm -rf "$out"
	((dropped == 0)) || die "kernel config fragment ($flavour) does not apply cleanly (see above)"
	say "kernel config fragments ($flavour) apply cleanly"
	exit 0
fi
((dropped == 0)) || die "kernel config fragment does not apply cleanly (see above)"
say "building kernel $version ($flavour) in $out; this takes a while on 2 cores"
kmake -j"$(($(nproc) + 1))" bzImage modules >&2 || die "kernel build failed"
secs=$(($(date +%s) - start))
echo "$version $flavour built in ${secs}s on $(nproc) cores" > "$out/.infinisock-built"
# Only now drop older builds of this flavour, so a failed build leaves the last good one.
for old in "$CACHE_DIR/build/$flavour-"*; do [ "$old" = "$out" ] || rm -rf "$old"; done
say "kernel $version ($flavour) built in ${secs}s"
echo "$out"
