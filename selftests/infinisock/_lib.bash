# Helpers for the shell selftests; sourced. Each test prints TAP-ish "# ..." lines and
# exits non-zero on the first failure.
# shellcheck shell=bash
set -u
fail() { echo "FAIL: $*"; exit 1; }
# Each check's "ok" line says how long it took since the previous one (where a
# step's time goes, for keeping the VM run within its bound).
_lib_mark=$SECONDS
pass() { echo "ok: $* [$((SECONDS - _lib_mark)) s]"; _lib_mark=$SECONDS; }

# The built programs: beside the scripts once installed by kselftest (make install),
# in selftests/build/ in the source tree (tools/build-selftests.sh).
HELPERS=$(dirname "${BASH_SOURCE[0]}")/helpers
[ -x "$HELPERS/sockctl" ] || HELPERS=$(dirname "${BASH_SOURCE[0]}")/../build/helpers
SOCKCTL=$HELPERS/sockctl

# socket_errno FAMILY TYPE PROTOCOL [NETNS]: prints 0 if socket() succeeds, else errno.
socket_errno() {
	if [ -n "${4:-}" ]; then ip netns exec "$4" "$SOCKCTL" try "$1" "$2" "$3"
	else "$SOCKCTL" try "$1" "$2" "$3"; fi
}

module_loaded() { grep -q '^infinisock ' /proc/modules; }
# counter NETNS NAME: a counter of NETNS (/proc/net/infinisock/stats).
counter() { ip netns exec "$1" awk -v n="$2" '$1 == n {print $2}' /proc/net/infinisock/stats; }
module_refs() { awk '$1 == "infinisock" {print $3}' /proc/modules; }

# wait_output FILE TEXT: waits (up to 30 s) until a program writing to FILE has printed
# TEXT (a helper's "listening" once its socket listens).
wait_output() {
	local _
	for _ in $(seq 150); do
		grep -q "$2" "$1" && return 0
		sleep 0.2
	done
	fail "no \"$2\" from the program writing $1: $(cat "$1")"
}

# wait_listening NETNS PORT: waits (up to 30 s: programs start slowly under TCG) until an
# SDP socket in NETNS listens on PORT, whatever program opened it.
wait_listening() {
	local _
	for _ in $(seq 150); do
		ip netns exec "$1" cat /proc/net/infinisock/sdp 2>/dev/null |
			awk -v p=":$2" '$3 == "listen" && substr($1, length($1) - length(p) + 1) == p { f = 1 } END { exit !f }' &&
			return 0
		sleep 0.2
	done
	fail "nothing listens on port $2 in $1"
}

# rxe_hosts H1 H2 NET: two hosts of a test's own, network namespaces H1 and H2 joined
# by a veth pair (vH1, vH2) with addresses NET.1 and NET.2 and an rdma_rxe device on
# each (rxeH1, rxeH2), for a test that takes a device away without touching the shared
# hosts. The caller's cleanup undoes it with rxe_hosts_del.
rxe_hosts() {
	local h1=$1 h2=$2 net=$3 _
	ip netns add "$h1" && ip netns add "$h2" || fail "netns"
	ip link add "v$h1" netns "$h1" type veth peer name "v$h2" netns "$h2" || fail "veth"
	ip -n "$h1" addr add "$net.1/24" dev "v$h1" && ip -n "$h2" addr add "$net.2/24" dev "v$h2" || fail "addr"
	for h in "$h1" "$h2"; do ip -n "$h" link set lo up; ip -n "$h" link set "v$h" up; done
	ip netns exec "$h1" rdma link add "rxe$h1" type rxe netdev "v$h1" || fail "rxe$h1"
	ip netns exec "$h2" rdma link add "rxe$h2" type rxe netdev "v$h2" || fail "rxe$h2"
	for _ in 1 2 3 4 5; do ip netns exec "$h1" ping -c1 -W5 "$net.2" > /dev/null && break; done
}

# rxe_hosts_del H...: undoes rxe_hosts, whatever is left of it. The surviving devices go
# before their namespaces, synchronously: left to go with a namespace, a device is
# unregistered in the background while the namespace's netdev waits for it ("waiting
# for vH to become free"), and the next namespace made meanwhile fails.
rxe_hosts_del() {
	local h
	for h in "$@"; do ip netns exec "$h" rdma link delete "rxe$h" 2>/dev/null; done
	for h in "$@"; do ip netns del "$h" 2>/dev/null; done
}
