#!/usr/bin/env bash
# IP_TOS and IPV6_TCLASS on SDP streams, as on TCP: getsockopt returns what was set
# (ECN's bits aside), and the RoCE packets of a connection made after it carry it as
# their IP type of service (rdma_cm's service type): a tc filter on host b's veth
# counts them. Without the option the same connection carries none.
. "$(dirname "$0")/_lib.bash"
module_loaded || insmod "$INFINISOCK_KO" || fail "insmod"
PEER=$(dirname "$0")/py/sdp_peer.py
cleanup() {
	tc -n b qdisc del dev vb clsact 2>/dev/null
	kill $(jobs -p) 2>/dev/null
	wait 2>/dev/null
}
trap cleanup EXIT

# RoCEv2 (UDP 4791) packets reaching host b: IPv4 with ToS 0xb8, IPv6 with class 0x68.
tc -n b qdisc add dev vb clsact || fail "tc qdisc"
tc -n b filter add dev vb ingress protocol ip prio 1 u32 match ip tos 0xb8 0xfc \
	match ip protocol 17 0xff match ip dport 4791 0xffff action pass || fail "tc filter ip"
tc -n b filter add dev vb ingress protocol ipv6 prio 2 u32 match ip6 priority 0x68 0xfc \
	match ip6 protocol 17 0xff match ip6 dport 4791 0xffff action pass || fail "tc filter ip6"
# Packets a filter matched so far: its action's count ("Sent B bytes P pkt").
marked() {
	local n
	n=$(tc -n b -s filter show dev vb ingress prio "$1" | sed -n 's/.*Sent [0-9]* bytes \([0-9]*\) pkt.*/\1/p' | head -n1)
	[ -n "$n" ] || fail "no packet count from tc for prio $1: $(tc -n b -s filter show dev vb ingress prio "$1")"
	echo "$n"
}

# client ADDR PORT LEVEL NAME VALUE: an SDP echo of 64 KiB with the option set before
# connect (VALUE empty: not set); prints getsockopt's value, then "echoed".
client() {
	ip netns exec a timeout 60 python3 - "$@" <<'PY'
import socket, sys
addr, port, level, name, value = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM, 258)
if value:
    s.setsockopt(level, name, int(value, 0))
print(hex(s.getsockopt(level, name)))
s.connect((addr, port))
data = b"tos" * 21846
s.sendall(data)
s.shutdown(socket.SHUT_WR)
got = b""
while chunk := s.recv(65536):
    got += chunk
print("echoed" if got == data else f"short echo {len(got)}")
PY
}

# Echo servers for every connection of the test, IPv4 and IPv6.
ip netns exec b python3 "$PEER" echoserver "$HOST_B4" 7501 > /dev/null &
ip netns exec b python3 "$PEER" echoserver "$HOST_B6" 7502 > /dev/null &
wait_listening b 7501
wait_listening b 7502
run() { # EXPECTED_GETSOCKOPT ADDR PORT LEVEL NAME [VALUE]
	local want=$1 addr=$2 port=$3 level=$4 name=$5 value=${6:-} out
	out=$(client "$addr" "$port" "$level" "$name" "$value" 2>&1 | tr '\n' ' ')
	[ "$out" = "$want echoed " ] || fail "$addr, option ${value:-unset}: $out"
}

# IPv4, IP_TOS (IPPROTO_IP 0, IP_TOS 1).
before=$(marked 1)
run 0x0 "$HOST_B4" 7501 0 1
[ "$(marked 1)" = "$before" ] || fail "packets marked 0xb8 without IP_TOS"
run 0xb8 "$HOST_B4" 7501 0 1 0xb8
[ "$(marked 1)" -gt "$before" ] || fail "no RoCE packet with ToS 0xb8 after IP_TOS 0xb8"
pass "IP_TOS 0xb8: getsockopt says so and the connection's RoCE packets carry it ($(($(marked 1) - before)))"

# IPv6, IPV6_TCLASS (IPPROTO_IPV6 41, IPV6_TCLASS 67); ECN's bits are the stream's own.
before=$(marked 2)
run 0x68 "$HOST_B6" 7502 41 67 0x6b
[ "$(marked 2)" -gt "$before" ] || fail "no RoCE packet with traffic class 0x68 after IPV6_TCLASS 0x6b"
pass "IPV6_TCLASS 0x6b: 0x68 (ECN bits are the stream's), carried by the RoCE packets"
