#!/usr/bin/env bash
# The module's ib_client sees every RDMA device: those present at load, and rxe links
# added and deleted while it is loaded.
. "$(dirname "$0")/_lib.bash"

list() { cat /proc/net/infinisock/devices; }
has() { list | awk -v d="$1" '$1 == d && $2 == 1' | grep -q .; }

list | head -1 | grep -q '^device port state active_mtu link_layer$' || fail "bad header: $(list | head -1)"
for d in rxea rxeb; do
	has $d || fail "$d missing from /proc/net/infinisock/devices: $(list)"
	list | awk -v d=$d '$1 == d' | grep -q ' ACTIVE 1024 Ethernet$' || fail "$d port not ACTIVE/1024/Ethernet: $(list)"
done
ip netns exec a cat /proc/net/infinisock/devices | grep -q '^rxea ' || fail "not listed inside netns a"
pass "devices present at load are listed"

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
