#!/usr/bin/env bash
# Fetches the Linux 7.3 source from Debian's linux-source-7.3 (trixie-backports) through a private
# apt sources list, so the machine's own sources stay on bookworm. Prints the source tree's path.
# Idempotent: an already-unpacked tree of the recorded version is reused.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

apt_dir=$CACHE_DIR/apt
mkdir -p "$apt_dir/lists/partial" "$CACHE_DIR/src"
cat > "$apt_dir/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-trixie-stable.gpg,/usr/share/keyrings/debian-archive-trixie-automatic.gpg] http://deb.debian.org/debian trixie-backports main
SRC
apt_opts=(-o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
	-o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache::archives="$apt_dir/archives"
	-o APT::Get::List-Cleanup=0)

pkg=linux-source-$KERNEL_SERIES
version_file=$CACHE_DIR/src/$pkg.version
if [ -s "$version_file" ] && [ -f "$CACHE_DIR/src/linux-$(cat "$version_file")/Makefile" ]; then
	echo "$CACHE_DIR/src/linux-$(cat "$version_file")"
	exit 0
fi

say "looking up $pkg in trixie-backports"
as_root apt-get "${apt_opts[@]}" -o APT::Sandbox::User=root update -qq >&2 || die "apt-get update for trixie-backports failed"
version=$(apt-cache "${apt_opts[@]}" policy "$pkg" | awk '/Candidate:/ {print $2}')
[ -n "$version" ] && [ "$version" != "(none)" ] || die "$pkg not found in trixie-backports"
cd "$CACHE_DIR/src"
say "downloading $pkg $version"
rm -f "${pkg}"_*.deb
apt-get "${apt_opts[@]}" -o APT::Sandbox::User=root download "$pkg=$version" >&2 || die "apt-get download $pkg=$version failed"
deb=$(ls "${pkg}"_*.deb | head -n1)
tree=$CACHE_DIR/src/linux-$version
rm -rf "$tree" "$tree.tmp" && mkdir -p "$tree.tmp"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tree.tmp" --wildcards "./usr/src/$pkg.tar.xz"
tar -xJf "$tree.tmp/usr/src/$pkg.tar.xz" -C "$tree.tmp"
mv "$tree.tmp/$pkg" "$tree" && rm -rf "$tree.tmp" "$deb"
echo "$version" > "$version_file"
say "kernel source $pkg $version at $tree"
echo "$tree"
