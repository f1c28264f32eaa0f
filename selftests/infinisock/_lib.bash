# Helpers for the shell selftests; sourced. Each test prints TAP-ish "# ..." lines and
# exits non-zero on the first failure.
# shellcheck shell=bash
set -u
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "ok: $*"; }

SOCKCTL=$(dirname "${BASH_SOURCE[0]}")/../build/helpers/sockctl

# socket_errno FAMILY TYPE PROTOCOL [NETNS]: prints 0 if socket() succeeds, else errno.
socket_errno() {
	if [ -n "${4:-}" ]; then ip netns exec "$4" "$SOCKCTL" try "$1" "$2" "$3"
	else "$SOCKCTL" try "$1" "$2" "$3"; fi
}

module_loaded() { grep -q '^infinisock ' /proc/modules; }
module_refs() { awk '$1 == "infinisock" {print $3}' /proc/modules; }
