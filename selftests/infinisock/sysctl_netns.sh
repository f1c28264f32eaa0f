#!/usr/bin/env bash
# net.infinisock.* is per network namespace: a value set in host a is not seen in host
# b or the initial namespace, bounds are enforced, and sdp_enable=0 refuses SDP sockets
# in that namespace only.
. "$(dirname "$0")/_lib.bash"

get() { ip netns exec "$1" sysctl -n net.infinisock.sdp_enable; }

for ns in a b; do [ "$(get $ns)" = 1 ] || fail "sdp_enable default in $ns is not 1"; done
[ "$(sysctl -n net.infinisock.sdp_enable)" = 1 ] || fail "sdp_enable default in init_net"

ip netns exec a sysctl -qw net.infinisock.sdp_enable=0 || fail "cannot set sdp_enable in a"
[ "$(get a)" = 0 ] || fail "a does not read back 0"
[ "$(get b)" = 1 ] || fail "setting a changed b"
[ "$(sysctl -n net.infinisock.sdp_enable)" = 1 ] || fail "setting a changed init_net"
pass "sdp_enable=0 in a stays in a"

[ "$(socket_errno 2 1 258 a)" = 93 ] || fail "SDP socket in a with sdp_enable=0 (want EPROTONOSUPPORT)"
[ "$(socket_errno 10 1 258 a)" = 93 ] || fail "SDPv6 socket in a with sdp_enable=0"
[ "$(socket_errno 2 1 258 b)" = 0 ] || fail "SDP socket in b refused"
[ "$(socket_errno 27 5 0 a)" = 0 ] || fail "AF_IB socket in a must not depend on sdp_enable"
pass "sdp_enable=0 refuses SDP with EPROTONOSUPPORT in that namespace only"

for bad in 2 -1 x; do
	if ip netns exec b sysctl -qw net.infinisock.sdp_enable=$bad 2>/dev/null; then
		fail "sdp_enable=$bad accepted"
	fi
done
[ "$(get b)" = 1 ] || fail "a rejected write changed b"
pass "out-of-range writes rejected"

ip netns add c || fail "netns c"
[ "$(get c)" = 1 ] || fail "new namespace does not start at the default"
ip netns del c
ip netns exec a sysctl -qw net.infinisock.sdp_enable=1
[ "$(socket_errno 2 1 258 a)" = 0 ] || fail "SDP socket in a after re-enabling"
pass "new namespaces start at defaults; re-enabling works"
