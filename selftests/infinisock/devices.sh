#!/usr/bin/env bash
# The module's ib_client sees every RDMA device: those present at load, and rxe links
# added and deleted while it is loaded; /proc/net/infinisock/devices shows each namespace
# the ports it can use.
. "$(dirname "$0")/_lib.bash"

# list [NETNS]: the file as a program in NETNS (default: the initial namespace) sees it.
list() { if [ -n "${1:-}" ]; then ip netns exec "$1" cat /proc/net/infinisock/devices; else cat /proc/net/infinisock/devices; fi; }
has() { list "${2:-}" | awk -v d="$1" '$1 == d && $2 == 1' | grep -q .; }

list | head -1 | grep -q '^device port state active_mtu link_layer$' || fail "bad header: $(list | head -1)"
# Each host sees the device on its own network device, and not the other host's.
for pair in a:rxea:rxeb b:rxeb:rxea; do
	IFS=: read -r ns own other <<< "$pair"
	has $own $ns || fail "$own missing from /proc/net/infinisock/devices in $ns: $(list $ns)"
	list $ns | awk -v d=$own '$1 == d' | grep -q ' ACTIVE 1024 Ethernet$' || fail "$own port not ACTIVE/1024/Ethernet: $(list $ns)"
	has $other $ns && fail "$other (the other host's device) listed in namespace $ns: $(list $ns)"
done
# The initial namespace has neither network device.
has rxea && fail "rxea listed in the initial namespace: $(list)"
pass "devices present at load are listed, each in the namespace of its network device"

ip link add vt0 type veth peer name vt1 || fail "veth"
ip link set vt0 up; ip link set vt1 up
rdma link add rxet type rxe netdev vt0 || fail "rdma link add"
has rxet || fail "rxet not seen after rdma link add: $(list)"
dmesg | grep -q 'infinisock: rdma device rxet added' || fail "no log line for rxet added"
pass "added device seen"

rdma link delete rxet || fail "rdma link delete"
has rxet && fail "rxet still listed after rdma link delete"
dmesg | grep -q 'infinisock: rdma device rxet removed' || fail "no log line for rxet removed"
ip link del vt0
pass "removed device dropped"
