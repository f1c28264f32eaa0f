#!/usr/bin/env bash
# The newcomer's example (tools/examples/af_ib_example.c) runs between the VM's two
# hosts and does what it says: messages, registration, RDMA WRITE with immediate,
# RDMA READ.
. "$(dirname "$0")/_lib.bash"
module_loaded || insmod "$INFINISOCK_KO" || fail "insmod"
EXAMPLE=$(dirname "$0")/../../tools/examples/build/af_ib_example
[ -x "$EXAMPLE" ] || fail "$EXAMPLE not built"

out=$(mktemp)
ip netns exec b timeout 60 "$EXAMPLE" server 10.77.0.2 7100 > "$out" 2>&1 &
srv=$!
wait_output "$out" listening
client=$(ip netns exec a timeout 60 "$EXAMPLE" client 10.77.0.2 7100 2>&1) || fail "client: $client"
wait $srv || fail "server: $(cat "$out")"
echo "$client" | sed 's/^/# client: /'
sed 's/^/# server: /' "$out"
grep -q "immediate 42, 15 bytes written: hello over RDMA" "$out" || fail "server output"
echo "$client" | grep -q "read 2 done: hello over RDMA" || fail "client read-back"
echo "$client" | grep -q "read 3 done: hello over RDMA" || fail "client read-back into its own region"
echo "$client" | grep -q "server says: thanks" || fail "client reply"
rm -f "$out"
pass "af_ib_example: messages, MR registration, RDMA WRITE with immediate, RDMA READ (pinned and into a registered region)"
