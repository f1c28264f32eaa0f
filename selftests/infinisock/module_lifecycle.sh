#!/usr/bin/env bash
# Unload is refused while a socket exists and succeeds once it is closed; unload
# removes every registration; the module loads again cleanly.
. "$(dirname "$0")/_lib.bash"

module_loaded || fail "module not loaded at start"
for spec in "27 5 0" "2 1 258" "10 1 258"; do
	fifo=$(mktemp -u) && mkfifo "$fifo"
	# shellcheck disable=SC2086
	"$SOCKCTL" hold $spec "$fifo" &
	holder=$!
	[ "$(cat "$fifo")" = ready ] || fail "socket($spec) could not be opened"
	rm -f "$fifo"
	[ "$(module_refs)" -ge 1 ] || fail "a live socket($spec) holds no module reference"
	if rmmod infinisock 2>/dev/null; then fail "rmmod succeeded with a live socket($spec)"; fi
	module_loaded || fail "module gone although rmmod was refused"
	pass "rmmod refused while socket($spec) is open"
	kill "$holder"; wait "$holder" 2>/dev/null
	[ "$(module_refs)" = 0 ] || fail "module still referenced after the socket closed"
done

rmmod infinisock || fail "rmmod failed with no sockets"
module_loaded && fail "module still listed after rmmod"
[ -e /proc/net/infinisock ] && fail "/proc/net/infinisock left behind"
[ -e /proc/sys/net/infinisock ] && fail "net.infinisock sysctls left behind"
[ "$(socket_errno 27 5 0)" = 97 ] || fail "AF_IB still answers after unload (want EAFNOSUPPORT)"
[ "$(socket_errno 2 1 258)" = 93 ] || fail "SDP still answers after unload (want EPROTONOSUPPORT)"
pass "unload removed the family, the protocol, /proc and sysctl entries"

insmod "$INFINISOCK_KO" || fail "second insmod failed"
[ "$(socket_errno 27 5 0)" = 0 ] || fail "AF_IB socket after reload"
[ "$(socket_errno 2 1 258)" = 0 ] || fail "SDP socket after reload"
pass "module reloads cleanly"
