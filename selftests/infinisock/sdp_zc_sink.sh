#!/usr/bin/env bash
# Zero-copy SDP, the sink's side: an honest source over userspace verbs (sdp_rogue's
# zc_* scenarios) advertises what it writes with SrcAvail; the module, with
# net.infinisock.sdp_zcopy set, RDMA READs it into its landing buffers and answers
# RdmaRdCompl, or declines with SendSm (then the source sends the rest as Data). The
# reader on host b must get the source's stream byte for byte, in order.
. "$(dirname "$0")/_lib.bash"
module_loaded || insmod "$INFINISOCK_KO" || fail "insmod"
PEER=$(dirname "$0")/py/sdp_peer.py
ROGUE=$HELPERS/sdp_rogue
dir=$(mktemp -d)

cleanup() {
	ip netns exec b sysctl -qw net.infinisock.sdp_zcopy=0
	ip netns exec b sysctl -qw net.infinisock.sdp_srq=1
	kill $(jobs -p) 2>/dev/null
	wait 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

port=7300
# run SCENARIO: sets `out` to what the rogue printed ("advertised A read R data D",
# "disconnected") once the reader has read exactly the stream the rogue sent, and
# `adv`, `rd`, `data` to those counts.
run() {
	local name=$1 reader
	port=$((port + 1))
	rm -f "$dir/got" "$dir/sent"
	ip netns exec b timeout 180 python3 "$PEER" save "$HOST_B4" $port "$dir/got" > "$dir/reader" &
	reader=$!
	wait_output "$dir/reader" listening
	out=$(ip netns exec a env ZC_STREAM="$dir/sent" timeout 150 "$ROGUE" "$HOST_B4" $port "$name" | tr '\n' ' ')
	wait $reader
	echo "# $name: rogue '$out', reader '$(tail -1 "$dir/reader")'" >&2
	grep -q '^eof after' "$dir/reader" || fail "$name: the reader saw '$(tail -1 "$dir/reader")'"
	[[ $out == *disconnected* ]] || fail "$name: the connection did not end gracefully: $out"
	cmp -s "$dir/sent" "$dir/got" ||
		fail "$name: the reader's bytes are not the stream sent ($(stat -c %s "$dir/sent") sent, $(stat -c %s "$dir/got") read)"
	read -r adv rd data < <(sed -n 's/.*advertised \([0-9]*\) read \([0-9]*\) data \([0-9]*\).*/\1 \2 \3/p' <<< "$out")
}

ip netns exec b sysctl -qw net.infinisock.sdp_zcopy=1 || fail "sysctl sdp_zcopy"
for s in zc_src zc_src_pipelined zc_src_inline; do
	run $s
	[ -n "$adv" ] && [ "$adv" -gt 0 ] && [ "$rd" = "$adv" ] || fail "$s: advertised '$adv', READ '$rd'"
	pass "$s: $adv bytes advertised, all READ by the module; the reader got the stream exactly"
done

# Landing buffers beside a ring of the connection's own, not the shared queue.
ip netns exec b sysctl -qw net.infinisock.sdp_srq=0 || fail "sysctl sdp_srq"
run zc_src
[ "$rd" = "$adv" ] || fail "zc_src without the shared queue: advertised '$adv', READ '$rd'"
ip netns exec b sysctl -qw net.infinisock.sdp_srq=1 || fail "sysctl sdp_srq"
pass "zc_src on a connection with a receive ring of its own"

run zc_src_no_reads
[ "$rd" = 0 ] && [ "$data" -gt "$adv" ] || fail "zc_src_no_reads: advertised '$adv', READ '$rd', data '$data'"
pass "a source that serves no READs: every advert declined (SendSm), its bytes came as Data"

run zc_src_cancel
[ -n "$adv" ] && [ $((rd + data - 20)) = "$adv" ] || fail "zc_src_cancel: advertised '$adv', READ '$rd', data '$data'"
pass "adverts cancelled at once: $rd bytes READ, the rest as Data, nothing lost or twice"

ip netns exec b sysctl -qw net.infinisock.sdp_zcopy=0 || fail "sysctl sdp_zcopy"
run zc_off
[[ $out == "offer 0 "* ]] || fail "zc_off: the module offered adverts with sdp_zcopy 0: $out"
pass "sdp_zcopy 0: the module offers no adverts, the source sends Data"
