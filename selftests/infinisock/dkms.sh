#!/usr/bin/env bash
# The module DKMS built (make dkms-check: tools/dkms/test.sh, out/dkms/infinisock.ko),
# installed as dkms installs it (updates/dkms) in a staged module tree: depmod finds
# it, socket(AF_IB) autoloads it, and an SDP stream carries data between the hosts.
. "$(dirname "$0")/_lib.bash"
TOP=${INFINISOCK_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
ko=$TOP/out/dkms/infinisock.ko
if [ ! -f "$ko" ]; then
	# Only a narrowed run comes here without it: make check builds it first.
	echo "# SKIP: $ko not built (make dkms-check)"
	exit 0
fi
kver=$(uname -r)
stage=$(mktemp -d)
cleanup() {
	mountpoint -q /lib/modules && umount /lib/modules
	rm -rf "$stage"
}
trap cleanup EXIT
[ "$(modinfo -F vermagic "$ko" | cut -d' ' -f1)" = "$kver" ] || fail "the DKMS module is not for $kver"
if module_loaded; then rmmod infinisock || fail "rmmod before the DKMS test"; fi
install -D -m 644 "$ko" "$stage/lib/modules/$kver/updates/dkms/infinisock.ko"
depmod -b "$stage" "$kver" 2>/dev/null || fail "depmod of the staged tree"
grep -q 'alias net-pf-27 infinisock' "$stage/lib/modules/$kver/modules.alias" || fail "depmod: no net-pf-27 alias"
# Only the guest sees this mount: the host's /lib/modules stays untouched.
mkdir -p "/lib/modules/$kver" 2>/dev/null
mount --bind "$stage/lib/modules" /lib/modules || fail "cannot stage /lib/modules"
rc=$(socket_errno 27 5 0)
[ "$rc" = 0 ] || fail "socket(AF_IB) with the DKMS module: errno $rc"
module_loaded || fail "socket(AF_IB) did not load the DKMS module"
[ "$(modinfo -F filename infinisock)" = "/lib/modules/$kver/updates/dkms/infinisock.ko" ] ||
	fail "modinfo: $(modinfo -F filename infinisock)"
pass "socket(AF_IB) autoloads the module DKMS built"

PEER=$(dirname "$0")/py/sdp_peer.py
ip netns exec b python3 "$PEER" serve "$HOST_B4" 7401 > /dev/null &
srv=$!
wait_listening b 7401
[ "$(ip netns exec a timeout 60 python3 "$PEER" echo "$HOST_B4" 7401 over-dkms)" = over-dkms ] ||
	fail "no echo over SDP with the DKMS module"
wait $srv
pass "an SDP stream carries data with the module DKMS built"

for _ in $(seq 20); do rmmod infinisock 2>/dev/null && break; sleep 0.5; done
module_loaded && fail "the DKMS module does not unload"
umount /lib/modules
# The rest of the suite expects the module loaded from the tree.
insmod "$INFINISOCK_KO" || fail "insmod after the DKMS test"
