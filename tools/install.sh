#!/usr/bin/env bash
# Installs or removes what `make` built, for the kernel the module was built against:
#   install.sh install     the module under /lib/modules/<kernel>/extra (then depmod),
#                          the uapi header, infinisock-stat and infinisock-ss, the
#                          transparent hook and its loader, the man pages, the systemd
#                          unit (not enabled) and the modules-load.d/sysctl.d examples
#   install.sh uninstall   removes exactly those files again (then depmod)
# DESTDIR stages everything under another root (depmod -b then works there), PREFIX is
# /usr/local by default, FLAVOUR picks the build (debug; `make install` passes its own).
# Nothing is enabled or loaded: the examples and the unit say how.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

action=${1:-}
flavour=${FLAVOUR:-debug}
prefix=${PREFIX:-/usr/local}
dest=${DESTDIR:-}
ko=$TOP/out/$flavour/infinisock.ko
kdir=$(cat "$TOP/out/$flavour/kdir" 2>/dev/null) || die "no module built for $flavour: run 'make module' first"
kver=$(cat "$kdir/include/config/kernel.release")
hook=$TOP/tools/transparent/build

# source|destination|mode: every file this installs, so that uninstall removes the
# same list.
files() {
	echo "$ko|/lib/modules/$kver/extra/infinisock.ko|644"
	echo "$TOP/include/uapi/linux/infinisock.h|$prefix/include/linux/infinisock.h|644"
	echo "$hook/infinisock-transparent|$prefix/lib/infinisock/infinisock-transparent|755"
	echo "$hook/infinisock_transparent.bpf.o|$prefix/lib/infinisock/infinisock_transparent.bpf.o|644"
	echo "$TOP/tools/stat/infinisock-stat|$prefix/bin/infinisock-stat|755"
	echo "$TOP/tools/stat/infinisock-ss|$prefix/bin/infinisock-ss|755"
	echo "$TOP/tools/transparent/infinisock-transparent.service|$prefix/lib/systemd/system/infinisock-transparent.service|644"
	echo "$TOP/tools/transparent/modules-load.d/infinisock.conf|$prefix/share/doc/infinisock/examples/modules-load.d/infinisock.conf|644"
	echo "$TOP/tools/transparent/sysctl.d/90-infinisock.conf|$prefix/share/doc/infinisock/examples/sysctl.d/90-infinisock.conf|644"
	local page
	for page in "$TOP"/Documentation/man/*.[1-8]; do
		[ -e "$page" ] || continue
		echo "$page|$prefix/share/man/man${page##*.}/$(basename "$page")|644"
	done
}
# The loader's command: a link to it (it finds its hook beside its real path).
link=$prefix/sbin/infinisock-transparent

run_depmod() {
	if [ -n "$dest" ]; then depmod -b "$dest" "$kver"; else depmod -a "$kver"; fi
}

case $action in
install)
	[ -f "$ko" ] || die "$ko missing: run 'make module' first"
	[ -x "$hook/infinisock-transparent" ] || die "the transparent hook is not built: run 'make selftests' first"
	while IFS='|' read -r src dst mode; do
		install -D -m "$mode" "$src" "$dest$dst"
		# The unit runs the loader where this prefix put it.
		case $dst in *.service) sed -i "s|/usr/local/|$prefix/|g" "$dest$dst" ;; esac
		echo "installed $dst"
	done < <(files)
	mkdir -p "$dest$prefix/sbin"
	ln -sfn "$prefix/lib/infinisock/infinisock-transparent" "$dest$link"
	echo "installed $link"
	run_depmod
	say "installed for kernel $kver; 'modprobe infinisock' (or any socket() of SDP or AF_IB) loads it"
	;;
uninstall)
	while IFS='|' read -r _ dst _; do
		if [ -e "$dest$dst" ]; then rm -f "$dest$dst" && echo "removed $dst"; fi
	done < <(files)
	if [ -L "$dest$link" ]; then rm -f "$dest$link" && echo "removed $link"; fi
	# The directories of ours alone go with their last file.
	for d in "$prefix/lib/infinisock" "$prefix/share/doc/infinisock/examples/modules-load.d" \
		"$prefix/share/doc/infinisock/examples/sysctl.d" "$prefix/share/doc/infinisock/examples" \
		"$prefix/share/doc/infinisock"; do
		rmdir "$dest$d" 2>/dev/null || true
	done
	[ -d "$dest/lib/modules/$kver" ] && run_depmod
	say "uninstalled from kernel $kver"
	;;
*)
	die "usage: install.sh install|uninstall (DESTDIR, PREFIX, FLAVOUR)"
	;;
esac
