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

# An inet_diag dump holds no module reference between its batches (inet_diag takes one
# only around each call; an AF_IB dump, started by the module itself, does hold one):
# the module unloads while a dump is half read, and the rest of the dump ends with
# ENOENT instead of reaching the code that went. A dump that outlives a reload starts
# over and lists the sockets made since, instead of resuming at a number of the old
# load (which skipped them).
TOP=${INFINISOCK_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
# The program is an argument: the coprocess's standard input is the pipe it waits on.
# It opens 40 SDP sockets, reads one batch of a dump, closes them, says "ready", waits
# for "go N", opens N new sockets, reads the rest: "end ERRNO ROWS_OF_THE_NEW".
dump_script=$(cat <<'PY'
import importlib.machinery, importlib.util, socket, struct, sys
spec = importlib.util.spec_from_loader("ss", importlib.machinery.SourceFileLoader("ss", sys.argv[1]))
ss = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ss)
socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM, ss.IPPROTO_SDP) for _ in range(40)]
nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, ss.NETLINK_SOCK_DIAG)
nl.send(ss.request(socket.AF_INET, ss.IPPROTO_SDP, ss.ALL_STATES, 1 << (ss.INET_DIAG_INFO - 1)))
done, rows = ss.parse(nl.recv(4096))
for s in socks:
    s.close()
print("ready", len(rows), done)
new = [socket.socket(socket.AF_INET, socket.SOCK_STREAM, ss.IPPROTO_SDP) for _ in range(int(sys.stdin.readline().split()[1]))]
cookies = {struct.unpack("=Q", s.getsockopt(socket.SOL_SOCKET, 57, 8))[0] for s in new}
seen = 0
while True:
    msg = nl.recv(1 << 16)
    kind = struct.unpack_from("=H", msg, 4)[0]
    if kind in (ss.NLMSG_DONE, ss.NLMSG_ERROR):
        print("end", struct.unpack_from("=i", msg, 16)[0], seen)
        break
    seen += sum(r["cookie"] in cookies for r in ss.parse(msg)[1])
PY
)
# half_read_dump: starts the program, checks its first batch, waits for the module's
# references to go.
half_read_dump() {
	coproc DUMP { python3 -u -c "$dump_script" "$TOP/tools/stat/infinisock-ss"; }
	read -r word rows done <&"${DUMP[0]}"
	[ "$word $done" = "ready False" ] && [ "$rows" -gt 0 ] || fail "the first batch of the dump: $word $rows $done"
	for _ in $(seq 100); do [ "$(module_refs)" = 0 ] && break; sleep 0.1; done
}
half_read_dump
rmmod infinisock || fail "rmmod refused while an inet_diag dump was half read"
echo "go 0" >&"${DUMP[1]}"
read -r word err seen <&"${DUMP[0]}"
wait 2>/dev/null
[ "$word $err" = "end -2" ] || fail "the rest of the dump after unload: $word $err (want end -2)"
insmod "$INFINISOCK_KO" || fail "insmod after the dump"
pass "a half-read inet_diag dump does not hold the module; its rest ends with ENOENT"
half_read_dump
rmmod infinisock || fail "rmmod refused while an inet_diag dump was half read"
insmod "$INFINISOCK_KO" || fail "insmod during the dump"
echo "go 3" >&"${DUMP[1]}"
read -r word err seen <&"${DUMP[0]}"
wait 2>/dev/null
[ "$word $err $seen" = "end 0 3" ] || fail "the rest of a dump across a reload: $word $err $seen (want the 3 new sockets)"
pass "a dump across a reload starts over and lists the sockets made since"
