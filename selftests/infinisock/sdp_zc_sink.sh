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
	ip netns exec a sysctl -qw net.infinisock.sdp_zcopy=0
	ip netns exec b sysctl -qw net.infinisock.sdp_zcopy=0
	ip netns exec b sysctl -qw net.infinisock.sdp_srq=1
	kill $(jobs -p) 2>/dev/null
	wait 2>/dev/null
	rxe_hosts_del zc1 zc2
	rm -rf "$dir"
}
trap cleanup EXIT

port=7300
# pair MODE SCENARIO [ARGS]: sdp_peer.py MODE [ARGS] listens on host b, the rogue runs
# SCENARIO against it from host a; sets `out` to the rogue's lines once both ended
# (the reader's are in $dir/reader).
pair() {
	local mode=$1 name=$2 reader
	shift 2
	port=$((port + 1))
	ip netns exec b timeout 180 python3 "$PEER" "$mode" "$HOST_B4" $port "$@" > "$dir/reader" &
	reader=$!
	wait_output "$dir/reader" listening
	out=$(ip netns exec a env ZC_STREAM="$dir/sent" timeout 150 "$ROGUE" "$HOST_B4" $port "$name" | tr '\n' ' ')
	wait $reader
	echo "# $name: rogue '$out', reader '$(tail -1 "$dir/reader")'" >&2
}

# counts: `adv`, `rd`, `data`, `inl` from the rogue's "advertised A read R data D
# inline I".
counts() {
	read -r adv rd data inl < <(sed -n 's/.*advertised \([0-9]*\) read \([0-9]*\) data \([0-9]*\) inline \([0-9]*\).*/\1 \2 \3 \4/p' <<< "$out")
}

# whole NAME: the reader got the stream the rogue sent ($dir/sent) in $dir/got,
# exactly, and the connection ended gracefully.
whole() {
	grep -q '^eof after' "$dir/reader" || fail "$1: the reader saw '$(tail -1 "$dir/reader")'"
	[[ $out == *disconnected* ]] || fail "$1: the connection did not end gracefully: $out"
	cmp -s "$dir/sent" "$dir/got" ||
		fail "$1: the reader's bytes are not the stream sent ($(stat -c %s "$dir/sent") sent, $(stat -c %s "$dir/got") read)"
	counts
}

# run SCENARIO: the rogue's stream, read whole by a reader on host b.
run() {
	rm -f "$dir/got" "$dir/sent"
	pair save "$1" "$dir/got"
	whole "$1"
}

ip netns exec b sysctl -qw net.infinisock.sdp_zcopy=1 || fail "sysctl sdp_zcopy"
for s in zc_src zc_src_pipelined zc_src_inline; do
	taken=$(counter b zc_adverts_taken) bytes=$(counter b zc_bytes_read) to_user=$(counter b zc_bytes_to_user)
	run $s
	[ -n "$adv" ] && [ "$adv" -gt 0 ] && [ "$rd" = "$adv" ] || fail "$s: advertised '$adv', READ '$rd'"
	# The module's own count: every byte not inline was READ, once, into a landing
	# slot or straight into the reader's pages.
	taken=$(($(counter b zc_adverts_taken) - taken)) bytes=$(($(counter b zc_bytes_read) - bytes))
	to_user=$(($(counter b zc_bytes_to_user) - to_user))
	echo "# $s: zc_adverts_taken +$taken, zc_bytes_read +$bytes, zc_bytes_to_user +$to_user" >&2
	[ "$taken" -gt 0 ] && [ $((bytes + to_user)) = $((adv - inl)) ] || fail "$s: the module's counters"
	pass "$s: $adv bytes advertised, all READ by the module; the reader got the stream exactly"
done

# A reader that comes late (5 s): its reads take Data, inline bytes and landed READs
# together, and the buffers go back to the ring and the landing slots in one call.
rm -f "$dir/got" "$dir/sent"
pair hold zc_src "$dir/got"
whole zc_src
[ "$rd" = "$adv" ] || fail "zc_src to a late reader: advertised '$adv', READ '$rd'"
pass "zc_src to a reader that comes late"

# Landing buffers beside a ring of the connection's own, not the shared queue.
ip netns exec b sysctl -qw net.infinisock.sdp_srq=0 || fail "sysctl sdp_srq"
run zc_src
[ "$rd" = "$adv" ] || fail "zc_src without the shared queue: advertised '$adv', READ '$rd'"
ip netns exec b sysctl -qw net.infinisock.sdp_srq=1 || fail "sysctl sdp_srq"
pass "zc_src on a connection with a receive ring of its own"

declines=$(counter b zc_declines_sent)
run zc_src_no_reads
[ "$rd" = 0 ] && [ "$data" -gt "$adv" ] || fail "zc_src_no_reads: advertised '$adv', READ '$rd', data '$data'"
declines=$(($(counter b zc_declines_sent) - declines))
[ "$declines" -gt 0 ] || fail "zc_src_no_reads: zc_declines_sent grew by $declines"
pass "a source that serves no READs: every advert declined (SendSm, zc_declines_sent +$declines), its bytes came as Data"

cancels=$(counter b zc_cancels) declines=$(counter b zc_declines_sent)
run zc_src_cancel
[ $(($(counter b zc_cancels) - cancels)) = 20 ] || fail "zc_src_cancel: zc_cancels grew by $(($(counter b zc_cancels) - cancels)), not 20"
# A cancel is answered as a decline (SendSm) unless the advert was READ whole first.
declines=$(($(counter b zc_declines_sent) - declines))
[ "$declines" -ge 1 ] && [ "$declines" -le 20 ] || fail "zc_src_cancel: zc_declines_sent grew by $declines"
# Each advert is 1 MiB and cancelled at once: some were cut short (read in part).
[ -n "$adv" ] && [ $((rd + data - 20)) = "$adv" ] && [ "$rd" -lt "$adv" ] ||
	fail "zc_src_cancel: advertised '$adv', READ '$rd', data '$data'"
pass "adverts cancelled at once: $rd bytes READ, the rest as Data, nothing lost or twice"

ip netns exec b sysctl -qw net.infinisock.sdp_zcopy=0 || fail "sysctl sdp_zcopy"
run zc_off
[[ $out == "offer 0 "* ]] || fail "zc_off: the module offered adverts with sdp_zcopy 0: $out"
pass "sdp_zcopy 0: the module offers no adverts, the source sends Data"

# The module as the active side: the source listens on host b, and a client on host a
# (where sdp_zcopy is set now) connects and reads.
ip netns exec a sysctl -qw net.infinisock.sdp_zcopy=1 || fail "sysctl sdp_zcopy in a"
port=$((port + 1))
rm -f "$dir/got" "$dir/sent"
ip netns exec b env ZC_STREAM="$dir/sent" timeout 150 "$ROGUE" "$HOST_B4" $port zc_listen > "$dir/rogue" &
rogue=$!
wait_output "$dir/rogue" listening
ip netns exec a timeout 150 python3 "$PEER" fetch "$HOST_B4" $port "$dir/got" > "$dir/reader"
wait $rogue
ip netns exec a sysctl -qw net.infinisock.sdp_zcopy=0
out=$(tr '\n' ' ' < "$dir/rogue")
echo "# zc_listen: rogue '$out', reader '$(tail -1 "$dir/reader")'" >&2
whole zc_listen
[ -n "$adv" ] && [ "$rd" = "$adv" ] || fail "zc_listen: advertised '$adv', READ '$rd'"
pass "the module as the connecting side READs a listening source's adverts"

# A reader that closes with an advert open: the connection is reset (Abort), as TCP
# answers unread data at close with RST.
ip netns exec b sysctl -qw net.infinisock.sdp_zcopy=1 || fail "sysctl sdp_zcopy"
pair partial zc_close_mid_advert
# The Abort is best effort (it needs a credit); without it rdma_cm's disconnect says
# the same. A graceful close would leave the source waiting on its advert.
[[ $out == aborted* || $out == disconnected* ]] || fail "zc_close_mid_advert: the source was not reset: $out"
pass "close with an advert open: Abort"

# A reader that shuts its side with an advert open: the advert is declined (SendSm),
# not left open for ever, and its rest is dropped as data after SHUT_RD is.
declines=$(counter b zc_declines_sent)
pair shutrd zc_shut_read
[[ $out == *settled* ]] || fail "zc_shut_read: the advert stayed open after SHUT_RD: $out"
[ "$(counter b zc_declines_sent)" -gt "$declines" ] || fail "zc_shut_read: zc_declines_sent did not grow"
pass "shutdown(SHUT_RD) with an advert open: declined, the source goes on"

# hostile NAME LOG_REGEX [READER_MODE]: the rogue breaks a zero-copy rule; its
# connection is reset alone, with a line in the kernel log.
hostile() {
	local name=$1 want_log=$2 mark
	# Only the lines from here on (the log is not cleared: the kernel_log step reads
	# all of it for splats).
	mark=$(dmesg | wc -l)
	pair "${3:-sink}" "$name"
	[[ $out == *disconnected* ]] || fail "$name: the rogue was not reset: $out"
	grep -q '^error ECONNRESET' "$dir/reader" || fail "$name: the reader saw '$(tail -1 "$dir/reader")'"
	dmesg | tail -n +$((mark + 1)) | grep -Eq "$want_log" || fail "$name: no '$want_log' in the kernel log"
}
for s in zc_bogus_rkey zc_overlong zc_dereg; do
	hostile $s "SDP: RDMA READ of the peer's advert failed"
	pass "$s: the module's READ is refused, the connection reset"
done
for s in zc_data_while_open zc_disconn_while_open; do
	hostile $s 'SDP: peer broke a zero-copy rule \(DataWhileOpen\)'
	pass "$s: connection reset"
done
hostile zc_too_many 'SDP: peer broke a zero-copy rule \(TooMany\)' hold
pass "more adverts than offered: connection reset"
for s in zc_rdcompl zc_sinkavail; do
	hostile $s 'SDP: unsolicited zero-copy message'
	pass "$s: connection reset"
done

# The hosts still serve honest sources.
run zc_src
[ "$rd" = "$adv" ] || fail "zc_src after the hostile sources: advertised '$adv', READ '$rd'"
pass "an honest source after the hostile ones"

# The module's RDMA device goes while an advert is open and its landing buffers hold
# READ data (hosts zc1, the source, and zc2, the module's reader, of their own):
# the reader returns an error, and nothing is left behind (the kernel_log step unloads
# the module and runs kmemleak).
rxe_hosts zc1 zc2 10.76.0
ip netns exec zc2 sysctl -qw net.infinisock.sdp_zcopy=1 || fail "sysctl sdp_zcopy in zc2"
ip netns exec zc2 timeout 120 python3 "$PEER" hold 10.76.0.2 7399 > "$dir/reader" &
reader=$!
wait_output "$dir/reader" listening
ip netns exec zc1 timeout 120 "$ROGUE" 10.76.0.2 7399 zc_close_mid_advert > "$dir/rogue" &
rogue=$!
# The reader holds off: the advert lands.
for _ in $(seq 60); do
	[ "$(counter zc2 zc_bytes_read)" -gt 0 ] && break
	sleep 0.5
done
[ "$(counter zc2 zc_bytes_read)" -gt 0 ] || fail "no READ of the advert before the device removal"
ip netns exec zc2 rdma link delete rxezc2 || fail "rdma link delete rxezc2"
wait $reader
echo "# device removal mid-advert: reader '$(tail -1 "$dir/reader")'" >&2
grep -Eq '^error E[A-Z]+' "$dir/reader" || fail "the reader of an advert whose device went: $(tail -1 "$dir/reader")"
kill $rogue 2>/dev/null
for _ in $(seq 40); do
	[ "$(ip netns exec zc2 cat /proc/net/infinisock/sdp | wc -l)" -le 1 ] && break
	sleep 0.5
done
[ "$(ip netns exec zc2 cat /proc/net/infinisock/sdp | wc -l)" -le 1 ] ||
	fail "connections left: $(ip netns exec zc2 cat /proc/net/infinisock/sdp)"
pass "the module's device removed with an advert open: the reader gets an error, the connection goes"
