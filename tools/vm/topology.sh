# Two hosts in one VM: network namespaces a and b joined by a veth pair, one Soft-RoCE
# (rdma_rxe) device each. Sourced by guest.sh.
# shellcheck shell=bash
HOST_A4=10.77.0.1 HOST_B4=10.77.0.2 HOST_A6=fd77::1 HOST_B6=fd77::2
export HOST_A4 HOST_B4 HOST_A6 HOST_B6

topology_up() {
	ip link set lo up
	ip netns add a && ip netns add b || return 1
	ip link add va netns a type veth peer name vb netns b || return 1
	ip -n a addr add $HOST_A4/24 dev va && ip -n a addr add $HOST_A6/64 dev va nodad || return 1
	ip -n b addr add $HOST_B4/24 dev vb && ip -n b addr add $HOST_B6/64 dev vb nodad || return 1
	for h in a b; do ip -n $h link set lo up; ip -n $h link set v$h up; done
	ip netns exec a rdma link add rxea type rxe netdev va || return 1
	ip netns exec b rdma link add rxeb type rxe netdev vb || return 1
	# The first packets wait for neighbour resolution; under TCG that can take seconds.
	local try
	for try in 1 2 3 4 5; do
		ip netns exec a ping -c1 -W5 $HOST_B4 > /dev/null && return 0
	done
	return 1
}
