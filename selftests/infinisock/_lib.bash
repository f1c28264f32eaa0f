# Helpers for the shell selftests; sourced. Each test prints TAP-ish "# ..." lines and
# exits non-zero on the first failure.
# shellcheck shell=bash
set -u
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "ok: $*"; }

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
