#!/usr/bin/env bash
# Transparent SDP: with the hook attached (tools/transparent/) and
# net.infinisock.sdp_transparent set, a program that asks for TCP gets a hybrid stream
# (IPPROTO_SDP_HYBRID) in that namespace only. Hybrid sockets connect over SDP where
# the peer listens for it and fall back to TCP where it does not (blocking and
# non-blocking), listeners take SDP and TCP clients alike, unmodified Debian programs
# work through it, and the module stays loaded while the hook is attached.
. "$(dirname "$0")/_lib.bash"
module_loaded || insmod "$INFINISOCK_KO" || fail "insmod"
TOP=${INFINISOCK_TOP:-$(dirname "$0")/../..}
TOOL=$TOP/tools/transparent/build/infinisock-transparent
PEER=$(dirname "$0")/py/tcp_peer.py
[ -x "$TOOL" ] || fail "$TOOL not built"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf || fail "mount bpffs"

mode() { ip netns exec "$1" sysctl -qw net.infinisock.sdp_transparent="$2" || fail "sdp_transparent=$2 in $1"; }
hybrid_stat() { ip netns exec "$1" awk -v k="$2" '$1 == k {print $2}' /proc/net/infinisock/hybrid; }
cleanup() {
	"$TOOL" disable > /dev/null 2>&1
	ip netns exec b rdma link show | grep -q rxeb || ip netns exec b rdma link add rxeb type rxe netdev vb
	for ns in a b; do ip netns exec $ns sysctl -qw net.infinisock.sdp_transparent=0 2>/dev/null; done
}
trap cleanup EXIT

# Bad values are refused and change nothing.
for bad in 4 -1 x; do
	ip netns exec a sysctl -qw net.infinisock.sdp_transparent=$bad 2>/dev/null && fail "sdp_transparent=$bad accepted"
done
[ "$(ip netns exec a sysctl -n net.infinisock.sdp_transparent)" = 0 ] || fail "default is not 0"
pass "sdp_transparent defaults to 0 and refuses bad values"

# Without the hook, the sysctl alone converts nothing.
mode a 3
[ "$(ip netns exec a python3 "$PEER" proto 10.77.0.1)" = 6 ] || fail "converted without the hook"
"$TOOL" status > /dev/null && fail "status says attached before enable"
out=$("$TOOL" enable) || fail "enable: $out"
"$TOOL" status | grep -q attached || fail "status after enable"
[ "$("$TOOL" enable)" = "transparent SDP hook: already attached" ] || fail "second enable"
pass "the hook attaches (and a second enable is a no-op)"

# Per namespace: a (mode 3) converts both IP versions, b (0) and the initial one do not.
[ "$(ip netns exec a python3 "$PEER" proto 10.77.0.1)" = 259 ] || fail "AF_INET TCP in a not hybrid"
[ "$(ip netns exec a python3 "$PEER" proto fd77::1)" = 259 ] || fail "AF_INET6 TCP in a not hybrid"
[ "$(ip netns exec b python3 "$PEER" proto 10.77.0.2)" = 6 ] || fail "b converted with mode 0"
[ "$(python3 "$PEER" proto 127.0.0.1)" = 6 ] || fail "initial namespace converted"
[ "$(socket_errno 2 2 0 a)" = 0 ] || fail "UDP socket in a"
[ "$(socket_errno 2 1 258 a)" = 0 ] || fail "explicit SDP in a"
ip netns exec a sysctl -qw net.infinisock.sdp_enable=0
[ "$(ip netns exec a python3 "$PEER" proto 10.77.0.1)" = 6 ] || fail "converted with sdp_enable=0"
ip netns exec a sysctl -qw net.infinisock.sdp_enable=1
pass "TCP sockets become hybrid (259) in a namespace whose policy is on, only there"

# The module is held while the hook is attached.
rmmod infinisock 2> /dev/null && fail "rmmod succeeded with the hook attached"
module_loaded || fail "module gone"
pass "rmmod refused while the hook is attached"

# serve NETNS ADDR PORT N: an echo server for N connections, output in $srv_out.
serve() {
	srv_out=$(mktemp)
	ip netns exec "$1" timeout 120 python3 "$PEER" echoserver "$2" "$3" "$4" > "$srv_out" 2>&1 &
	srv=$!
	wait_output "$srv_out" listening
}
# client NETNS MODE ADDR PORT WANT-PATH: one echo; checks the client's path.
client() {
	local got
	got=$(ip netns exec "$1" timeout 120 python3 "$PEER" "$2" "$3" "$4" "hello $5" 2>&1) ||
		fail "$2 to $3:$4: $got"
	[ "$got" = "$5 hello $5" ] || fail "$2 to $3:$4: got '$got', want '$5 hello $5'"
}

# Connection setup under TCG takes its time: no attempt may be cut short here (the
# bound is tested below).
for ns in a b; do ip netns exec $ns sysctl -qw net.infinisock.sdp_connect_timeout=60000 || fail "sdp_connect_timeout"; done

# Both sides on: SDP end to end, both IP versions, blocking and non-blocking.
mode b 3
for addr in 10.77.0.2 fd77::2; do
	serve b $addr 7301 2
	grep -q "listening 259/sdp" "$srv_out" || fail "listener path: $(cat "$srv_out")"
	client a echo $addr 7301 259/sdp
	client a echo-nb $addr 7301 259/sdp
	wait $srv || fail "server: $(cat "$srv_out")"
	[ "$(grep -c 'accepted 259/sdp' "$srv_out")" = 2 ] || fail "server side not SDP: $(cat "$srv_out")"
	rm -f "$srv_out"
done
pass "hybrid to hybrid runs over SDP (IPv4, IPv6; blocking and non-blocking connect)"

# The server's namespace has SDP off: its listener is TCP; the client falls back after
# the peer refuses SDP.
mode b 0
for addr in 10.77.0.2 fd77::2; do
	serve b $addr 7302 2
	client a echo $addr 7302 259/tcp/refused
	client a echo-nb $addr 7302 259/tcp/refused
	wait $srv || fail "server: $(cat "$srv_out")"
	[ "$(grep -c 'accepted 6/plain' "$srv_out")" = 2 ] || fail "server: $(cat "$srv_out")"
	rm -f "$srv_out"
done
pass "a peer without SDP: the hybrid falls back to TCP (IPv4, IPv6; blocking and non-blocking)"
# The first connect to each address was refused and remembered; the second went to TCP
# at once.
[ "$(hybrid_stat a tcp_refused)" -ge 4 ] || fail "tcp_refused: $(ip netns exec a cat /proc/net/infinisock/hybrid)"
[ "$(hybrid_stat a cache_hits)" -ge 2 ] || fail "cache_hits: $(ip netns exec a cat /proc/net/infinisock/hybrid)"
[ "$(hybrid_stat a sdp)" -ge 4 ] || fail "sdp count: $(ip netns exec a cat /proc/net/infinisock/hybrid)"
pass "/proc/net/infinisock/hybrid counts SDP and refused connections and refusal-cache hits"

# Nobody listens at all: SDP is refused, then TCP is, and the program hears TCP's
# answer (the connect's error, or SO_ERROR after POLLOUT).
for how in refused refused-nb; do
	got=$(ip netns exec a timeout 120 python3 "$PEER" $how 10.77.0.2 7399)
	[ "$got" = ECONNREFUSED ] || fail "$how: got '$got'"
done
pass "a port nobody listens on: ECONNREFUSED from connect() and from SO_ERROR"

# A peer with no RDMA device: its host answers nothing on RoCE, so only the bound
# (sdp_connect_timeout) ends the attempt; the next connection to any port of that host
# goes to TCP at once.
ip netns exec b rdma link del rxeb || fail "rdma link del rxeb"
ip netns exec a sysctl -qw net.infinisock.sdp_connect_timeout=3000
serve b 10.77.0.2 7307 2
start=$(date +%s)
client a echo 10.77.0.2 7307 259/tcp/timeout
took=$(($(date +%s) - start))
[ $took -lt 30 ] || fail "the attempt took ${took}s"
hits=$(hybrid_stat a cache_hits)
client a echo-nb 10.77.0.2 7307 259/tcp/timeout
[ "$(hybrid_stat a cache_hits)" -gt "$hits" ] || fail "the second connection was not sent to TCP by the cache"
wait $srv || fail "server: $(cat "$srv_out")"
rm -f "$srv_out"
ip netns exec b rdma link add rxeb type rxe netdev vb || fail "rdma link add rxeb"
ip netns exec a sysctl -qw net.infinisock.sdp_connect_timeout=60000
ip netns exec a sysctl -qw net.infinisock.sdp_fallback_cache=0
[ "$(hybrid_stat a cached_peers)" = 0 ] || fail "sdp_fallback_cache=0 did not empty the cache"
ip netns exec a sysctl -qw net.infinisock.sdp_fallback_cache=60
pass "a peer without RDMA: TCP after the bound (${took}s), then at once from the cache"

# Loopback has no RDMA path: TCP at once.
mode a 3
serve a 127.0.0.1 7308 1
client a echo 127.0.0.1 7308 259/tcp/no_device
wait $srv || fail "server: $(cat "$srv_out")"
rm -f "$srv_out"
pass "a loopback peer is reached over TCP"

# Mode 2 (listeners only): outgoing connections go over TCP at once.
mode a 2
serve b 10.77.0.2 7303 1
client a echo 10.77.0.2 7303 259/tcp/policy
wait $srv || fail "server: $(cat "$srv_out")"
rm -f "$srv_out"
pass "connections the policy does not cover go over TCP at once"

# A hybrid listener serves an SDP client and a TCP client.
mode a 3
mode b 3
serve b 10.77.0.2 7304 2
ip netns exec b awk '$3 == "listen" && $NF == "sdp"' /proc/net/infinisock/sdp | grep -q ':7304 ' ||
	fail "the listener's path in /proc/net/infinisock/sdp: $(ip netns exec b cat /proc/net/infinisock/sdp)"
client a echo 10.77.0.2 7304 259/sdp
mode a 0
client a echo 10.77.0.2 7304 6/plain
wait $srv || fail "server: $(cat "$srv_out")"
grep -q 'accepted 259/sdp' "$srv_out" && grep -q 'accepted 6/plain' "$srv_out" || fail "server: $(cat "$srv_out")"
rm -f "$srv_out"
pass "a hybrid listener accepts SDP and TCP clients"

# The policy's ports and peers: bad texts are refused and change nothing; reading
# gives the canonical form; they scope outgoing connections and listeners.
lists() { ip netns exec "$1" sysctl -qw "net.infinisock.$2=$3" 2>/dev/null; }
lists a sdp_ports "1-1024, 8080 ,!22" || fail "sdp_ports write"
[ "$(ip netns exec a sysctl -n net.infinisock.sdp_ports)" = "1-1024,8080,!22" ] || fail "sdp_ports canonical form"
for bad in abc 70000 "0" "5-3" "1,,2"; do
	lists a sdp_ports "$bad" && fail "sdp_ports=$bad accepted"
done
[ "$(ip netns exec a sysctl -n net.infinisock.sdp_ports)" = "1-1024,8080,!22" ] || fail "a refused write changed sdp_ports"
for bad in 10.0.0.1/8 10.0.0.0/33 fd77::1/64 "10.0.0.0/8,,x" 300.1.1.1; do
	lists a sdp_peers "$bad" && fail "sdp_peers=$bad accepted"
done
lists a sdp_peers "FD77:0:0::/64,!10.77.0.9" || fail "sdp_peers write"
[ "$(ip netns exec a sysctl -n net.infinisock.sdp_peers)" = "fd77::/64,!10.77.0.9/32" ] || fail "sdp_peers canonical form"
[ "$(ip netns exec b sysctl -n net.infinisock.sdp_peers)" = "" ] || fail "a's sdp_peers seen in b"
pass "sdp_ports and sdp_peers: canonical form, bad texts refused with nothing changed, per namespace"

mode a 3
mode b 3
lists a sdp_ports "" && lists a sdp_peers "!10.77.0.2" || fail "lists"
serve b 10.77.0.2 7310 1
client a echo 10.77.0.2 7310 259/tcp/policy
wait $srv || fail "server: $(cat "$srv_out")"
serve b fd77::2 7310 1
client a echo fd77::2 7310 259/sdp
wait $srv || fail "server: $(cat "$srv_out")"
lists a sdp_peers "" && lists a sdp_ports "!7311" || fail "lists"
serve b 10.77.0.2 7311 1
client a echo 10.77.0.2 7311 259/tcp/policy
wait $srv || fail "server: $(cat "$srv_out")"
lists a sdp_ports "" || fail "lists"
lists b sdp_ports "7312" || fail "lists"
serve b 10.77.0.2 7313 1
grep -q "listening 259/tcp/policy" "$srv_out" || fail "listener outside sdp_ports: $(cat "$srv_out")"
client a echo 10.77.0.2 7313 259/tcp/refused
wait $srv || fail "server: $(cat "$srv_out")"
lists b sdp_ports "" || fail "lists"
rm -f "$srv_out"
pass "sdp_peers and sdp_ports scope connections (by peer and port) and listeners (by port)"

# Unmodified Debian programs: socat both ways, and curl against Python's http.server,
# over SDP (an SDP connection shows in /proc/net/infinisock/sdp while they run).
mode a 3
out=$(mktemp)
ip netns exec b timeout 60 socat -u TCP-LISTEN:7305,reuseaddr "OPEN:$out,creat,trunc" &
srv=$!
wait_listening b 7305
head -c 1000000 /dev/urandom > "$out.src"
ip netns exec a timeout 60 socat -u "OPEN:$out.src" TCP:10.77.0.2:7305 || fail "socat client"
wait $srv || fail "socat server"
cmp -s "$out" "$out.src" || fail "socat payload differs"
rm -f "$out" "$out.src"
pass "socat TCP-LISTEN/TCP carries 1 MB over a hybrid pair"

# iperf3 both ways, and with -Z (the client sends with sendfile(2): its file's
# pages reach the stream through sendmsg(MSG_SPLICE_PAGES)): the payload crosses
# rxe, and TCP sends nothing.
rxe_sent() { cat /sys/class/infiniband/rxe$1/ports/1/hw_counters/sent_bytes; }
tcp_out_segs() { ip netns exec "$1" awk '/^Tcp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "OutSegs") c = i; h = 1 } else print $c }' /proc/net/snmp; }
for dir in "" -R -Z; do
	ip netns exec b timeout 60 iperf3 -s -1 -B 10.77.0.2 -p 7309 > /dev/null 2>&1 &
	srv=$!
	wait_listening b 7309
	rxe0=$(( $(rxe_sent a) + $(rxe_sent b) )) segs0=$(tcp_out_segs a)
	out=$(ip netns exec a timeout 60 iperf3 -c 10.77.0.2 -p 7309 -t 2 $dir -J) || fail "iperf3 $dir: $out"
	wait $srv
	moved=$(echo "$out" | python3 -c 'import json, sys; print(json.load(sys.stdin)["end"]["sum_received"]["bytes"])')
	rxe=$(( $(rxe_sent a) + $(rxe_sent b) - rxe0 )) segs=$(( $(tcp_out_segs a) - segs0 ))
	[ "$moved" -gt 0 ] && [ "$rxe" -ge "$moved" ] || fail "iperf3 $dir: $moved bytes moved, $rxe crossed rxe"
	[ "$segs" -lt 10 ] || fail "iperf3 $dir: TCP sent $segs segments"
	pass "iperf3 ${dir:-(client sends)}: $moved bytes over rxe, $segs TCP segments"
done

dir=$(mktemp -d)
echo "served over SDP" > "$dir/index.html"
ip netns exec b timeout 60 python3 -m http.server --bind 10.77.0.2 --directory "$dir" 7306 > /dev/null 2>&1 &
srv=$!
wait_listening b 7306
got=$(ip netns exec a timeout 60 curl -s http://10.77.0.2:7306/index.html) || fail "curl"
[ "$got" = "served over SDP" ] || fail "curl got '$got'"
kill $srv 2> /dev/null
wait $srv 2> /dev/null
rm -rf "$dir"
pass "curl fetches a page from python3 -m http.server through transparent SDP"

# Disabling: sockets are TCP's again, and the module can go.
"$TOOL" disable | grep -q detached || fail "disable"
[ "$(ip netns exec a python3 "$PEER" proto 10.77.0.1)" = 6 ] || fail "still converted after disable"
pass "disable: TCP sockets are TCP again"
