#!/usr/bin/env bash
# The first socket() of AF_IB, or of SDP under AF_INET/AF_INET6, loads the module
# through its aliases (modprobe, as an installed module would be).
. "$(dirname "$0")/_lib.bash"

kver=$(uname -r)
stage=$(mktemp -d)
mkdir -p "$stage/lib/modules/$kver/extra"
cp "$INFINISOCK_KO" "$stage/lib/modules/$kver/extra/"
depmod -b "$stage" "$kver" 2>/dev/null || fail "depmod failed"
grep -q 'alias net-pf-27 infinisock' "$stage/lib/modules/$kver/modules.alias" || fail "no net-pf-27 alias"
# Only the guest sees this mount: the host's /lib/modules stays untouched.
mkdir -p "/lib/modules/$kver" 2>/dev/null
mount --bind "$stage/lib/modules" /lib/modules || fail "cannot stage /lib/modules"
trap 'umount /lib/modules; rm -rf "$stage"' EXIT

for spec in "27 5 0:AF_IB" "2 1 258:AF_INET/IPPROTO_SDP" "10 1 258:AF_INET6/IPPROTO_SDP"; do
	args=${spec%%:*} what=${spec#*:}
	if module_loaded; then rmmod infinisock || fail "rmmod before autoload of $what"; fi
	# shellcheck disable=SC2086
	rc=$(socket_errno $args)
	[ "$rc" = 0 ] || fail "socket($what) without the module: errno $rc"
	module_loaded || fail "socket($what) did not load the module"
	pass "socket($what) autoloaded infinisock"
done
