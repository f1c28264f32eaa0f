# Helpers for the shell selftests; sourced. Each test prints TAP-ish "# ..." lines and
# exits non-zero on the first failure.
# shellcheck shell=bash
set -u
PY=/usr/bin/python3
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "ok: $*"; }

# socket_errno FAMILY TYPE PROTOCOL [NETNS]: prints 0 if socket() succeeds, else errno.
socket_errno() {
	local cmd=("$PY" -c "
import socket, sys
try:
    socket.socket($1, $2, $3).close(); print(0)
except OSError as e:
    print(e.errno)")
	if [ -n "${4:-}" ]; then ip netns exec "$4" "${cmd[@]}"; else "${cmd[@]}"; fi
}

module_loaded() { grep -q '^infinisock ' /proc/modules; }
module_refs() { awk '$1 == "infinisock" {print $3}' /proc/modules; }
