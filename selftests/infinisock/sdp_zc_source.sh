#!/usr/bin/env bash
# Zero-copy SDP, the source's side, module to module: with net.infinisock.sdp_zcopy 2
# on host a, a blocking send() of 64 KiB or more advertises the program's pages
# (SrcAvail) and returns once host b's module has RDMA READ them and every region is
# invalidated. The writer overwrites its buffer as soon as each send() returns; the
# reader on host b must get the file byte for byte, in order.
. "$(dirname "$0")/_lib.bash"
module_loaded || insmod "$INFINISOCK_KO" || fail "insmod"
PEER=$(dirname "$0")/py/sdp_peer.py
# The administrator's tool, which sdp_peer.py's "show" runs.
export INFINISOCK_SS=${INFINISOCK_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tools/stat/infinisock-ss
dir=$(mktemp -d)

TOOL=${INFINISOCK_TOP:-$(dirname "$0")/../..}/tools/transparent/build/infinisock-transparent

cleanup() {
	"$TOOL" disable > /dev/null 2>&1
	for ns in a b; do
		ip netns exec $ns sysctl -qw net.infinisock.sdp_zcopy=0
		ip netns exec $ns sysctl -qw net.infinisock.sdp_zcopy_thresh=65536
		ip netns exec $ns sysctl -qw net.infinisock.sdp_zcopy_thresh_max=1048576
		ip netns exec $ns sysctl -qw net.infinisock.sdp_transparent=0
	done
	kill $(jobs -p) 2>/dev/null
	wait 2>/dev/null
	rxe_hosts_del zs1 zs2
	rm -rf "$dir"
}
trap cleanup EXIT

head -c $((8 << 20)) /dev/urandom > "$dir/file"
port=7400
# writer MODE ARG READER [MORE...]: the reader (save, or hold: first 5 s without
# reading; with the arguments in `reader_args`) on host b, sdp_peer.py MODE ARG
# MORE... on host a; sets `wrote` and `got` (the bytes the reader saw before EOF).
reader_args=()
writer() {
	local reader
	port=$((port + 1))
	rm -f "$dir/got"
	ip netns exec b timeout 180 python3 "$PEER" "$3" "$HOST_B4" $port "$dir/got" "${reader_args[@]}" > "$dir/reader" &
	reader=$!
	wait_output "$dir/reader" listening
	wrote=$(ip netns exec a timeout 150 python3 "$PEER" "$1" "$HOST_B4" $port "$2" "${@:4}")
	wait $reader
	got=$(sed -n 's/^eof after \([0-9]*\).*/\1/p' "$dir/reader")
	echo "# $1 $3: writer '$wrote', reader '$(tail -1 "$dir/reader")'" >&2
	[ -n "$got" ] || fail "$1: the reader saw '$(tail -1 "$dir/reader")'"
}

# transfer READER: the writer sends $dir/file in pieces; the reader gets it exactly.
transfer() {
	writer send "$dir/file" "$1"
	[ "$wrote" = "sent $(stat -c %s "$dir/file")" ] || fail "$1: the writer: $wrote"
	cmp -s "$dir/file" "$dir/got" || fail "$1: the reader's bytes are not the file ($got read)"
}

# mark: notes every counter of both hosts, with one read of each (an `ip netns exec`
# takes a while under TCG); delta NETNS NAME: how far NAME moved on NETNS since.
declare -A at
mark() {
	local ns n v
	for ns in a b; do
		while read -r n v; do at[$ns.$n]=$v; done < <(ip netns exec $ns cat /proc/net/infinisock/stats)
	done
}
delta() { echo $(($(counter "$1" "$2") - ${at[$1.$2]})); }

# pin_counts: /proc/vmstat's pins acquired and released system-wide, with every
# CPU's pending counts folded in first (vm.stat_refresh, as af_ib_rdma.c does):
# unfolded, either count can lag by pins a CPU has not reported yet.
pin_counts() {
	echo 1 > /proc/sys/vm/stat_refresh
	awk '$1 == "nr_foll_pin_acquired" {a = $2} $1 == "nr_foll_pin_released" {r = $2} END {print a, r}' /proc/vmstat
}
# pins: pages pinned and not released yet.
pins() { local a r; read -r a r < <(pin_counts); echo $((a - r)); }

# pins_settled: the baseline for pins_back, once two reads 1 s apart agree (10 s at
# most). The pages of the case before may still be on their way back, and the VM's
# own I/O pins pages for a moment (9p pins the user buffers it reads into).
pins_settled() {
	local prev now t0=$SECONDS
	now=$(pins)
	while prev=$now; sleep 1; now=$(pins); [ "$now" != "$prev" ] && [ $((SECONDS - t0)) -lt 10 ]; do :; done
	echo "$now"
}

# pins_back BEFORE WHAT: within 60 s, no more pages pinned than BEFORE. The pages go
# with the connection's teardown and the rogue's exit, which a loaded VM under TCG
# has taken more than 10 s to finish; a slow return is reported, with what is left.
# Fewer than BEFORE is pages pinned elsewhere and released since (an unpin of a page
# never pinned would be a splat, which fails the run on its own); it is logged.
pins_back() {
	local now t0=$SECONDS
	while now=$(pins); [ "$now" -gt "$1" ] && [ $((SECONDS - t0)) -lt 60 ]; do sleep 0.5; done
	if [ $((SECONDS - t0)) -ge 5 ] || [ "$now" != "$1" ]; then
		echo "# $2: after $((SECONDS - t0)) s, $((now - $1)) pages more pinned than before (acquired, released: $(pin_counts))" >&2
		for ns in $(ip netns list | cut -d" " -f1); do ip netns exec "$ns" cat /proc/net/infinisock/sdp; done | sed 's/^/# /' >&2
	fi
	[ "$now" -le "$1" ] || fail "$2: $((now - $1)) pages still pinned after 60 s"
}

ip netns exec a sysctl -qw net.infinisock.sdp_zcopy=2 || fail "sysctl sdp_zcopy=2"
ip netns exec b sysctl -qw net.infinisock.sdp_zcopy=1 || fail "sysctl sdp_zcopy=1"
# The connection's own choice (SDP_ZCOPY_THRESH -1) is pinned to the floor, 64 KiB,
# for the cases that count adverts; its own case (zs_slow) lifts the ceiling.
ip netns exec a sysctl -qw net.infinisock.sdp_zcopy_thresh_max=65536 || fail "sysctl sdp_zcopy_thresh_max"

# A reader that keeps up: every advert READ whole by host b's module.
mark
transfer save
sent=$(delta a zc_adverts_sent) by_peer=$(delta a zc_bytes_read_by_peer)
echo "# zc_adverts_sent +$sent, zc_bytes_read_by_peer +$by_peer, zc_adverts_taken +$(delta b zc_adverts_taken), zc_bytes_read +$(delta b zc_bytes_read), zc_bytes_to_user +$(delta b zc_bytes_to_user)" >&2
[ "$sent" -gt 0 ] || fail "no advert was sent"
# An advert sent right after a cancel's answer may meet that answer's SendSm and be
# discarded unread (declined, then copied): taken, at most as many as sent.
[ "$(delta b zc_adverts_taken)" -gt 0 ] && [ "$(delta b zc_adverts_taken)" -le "$sent" ] ||
	fail "host b took $(delta b zc_adverts_taken) of $sent adverts"
# Into landing slots or straight into the reader's pages (its recv() of 64 KiB
# blocks with room for a whole piece).
read_b=$(($(delta b zc_bytes_read) + $(delta b zc_bytes_to_user)))
[ "$read_b" = "$by_peer" ] || fail "host b READ $read_b bytes, host a counts $by_peer"
[ "$(delta b zc_bytes_to_user)" -gt 0 ] || fail "no READ went straight into the reader's pages"
# Every piece of 64 KiB or more went as adverts, the smaller ones copied, but for what
# a cancel sent copied (a reader a second behind: at most 4 MiB, one call's rest):
# more than two thirds of the file.
cancels=$(delta a zc_cancels_sent)
echo "# zc_cancels_sent +$cancels" >&2
[ $((by_peer + cancels * (4 << 20))) -gt $(($(stat -c %s "$dir/file") * 2 / 3)) ] || fail "only $by_peer bytes went zero-copy"
pass "blocking sends of 64 KiB to 4 MiB at odd offsets: $sent adverts, $by_peer bytes READ by the peer; the buffer reused after each send, the file whole"

# A reader blocked in recv() with room for a whole piece takes the adverts straight
# into its own pages (one RDMA READ into them, no copy on either side): recv_into()
# one reused buffer of 1 MiB with MSG_WAITALL, plain, interrupted by SIGALRM every
# ms, and ended by SO_RCVTIMEO of 1 ms. A READ in flight is waited for whatever
# happens: no byte lost or twice, whatever returns early. The reader's pages are
# unpinned after each READ.
for how in "" alarm rcvtimeo; do
	before=$(pins_settled)
	mark
	reader_args=(1048576 $how)
	writer send "$dir/file" saveinto
	reader_args=()
	[ "$wrote" = "sent $(stat -c %s "$dir/file")" ] || fail "saveinto $how: the writer: $wrote"
	cmp -s "$dir/file" "$dir/got" || fail "saveinto $how: the reader's bytes are not the file ($got read)"
	by_peer=$(delta a zc_bytes_read_by_peer) landed=$(delta b zc_bytes_read) to_user=$(delta b zc_bytes_to_user)
	echo "# saveinto $how: $(tail -1 "$dir/reader"); zc_bytes_read_by_peer +$by_peer, zc_bytes_read +$landed, zc_bytes_to_user +$to_user" >&2
	[ $((landed + to_user)) = "$by_peer" ] || fail "saveinto $how: host b READ $landed + $to_user bytes, host a counts $by_peer"
	# Landing takes what comes while the reader is out of recv() (writing its file),
	# and, interrupted, what comes after a signal or the time-out ended a call.
	[ "$to_user" -gt 0 ] && { [ -n "$how" ] || [ $((to_user * 2)) -ge "$by_peer" ]; } ||
		fail "saveinto $how: $to_user of $by_peer bytes straight into the reader's pages"
	pins_back "$before" "saveinto $how"
done
grep -Eq 'short [1-9]' "$dir/reader" || fail "SO_RCVTIMEO of 1 ms never cut a recv() short: $(tail -1 "$dir/reader")"
# An urgent byte (not inline) the reader steps over waits at the head of the ring
# while the reader is blocked at its mark: the advert behind it lands, as nothing
# may be READ into the reader's pages before that byte is out of the way.
mark
reader_args=(1048576)
writer oobsend "$dir/file" saveinto
reader_args=()
[ "$wrote" = "sent $(stat -c %s "$dir/file")" ] || fail "oobsend: the writer: $wrote"
cmp -s "$dir/file" "$dir/got" || fail "oobsend: the reader's bytes are not the file ($got read)"
# Held back, the first advert would have waited for its time-out and been cancelled.
echo "# oobsend: zc_cancels_sent +$(delta a zc_cancels_sent), zc_bytes_read +$(delta b zc_bytes_read), zc_bytes_to_user +$(delta b zc_bytes_to_user)" >&2
[ "$(delta a zc_cancels_sent)" = 0 ] || fail "oobsend: $(delta a zc_cancels_sent) adverts cancelled behind the urgent byte"
pass "recv_into() of 1 MiB with MSG_WAITALL, plain (most bytes READ straight into the reader's pages), under SIGALRM every ms, and with SO_RCVTIMEO of 1 ms: the file whole, pins released; behind an urgent byte the reader steps over, the file whole"

# sendfile(2) and splice(2) through a pipe of 1 MiB: the socket gets the file's pages
# (MSG_SPLICE_PAGES, 64 KiB a call), advertised without a copy, and the reader the
# file whole. All but what a cancel copied goes by READ. The calls that come while
# an advert is open gather into larger adverts, fewer than one a call: sendfile()
# says MSG_MORE on all but its last, and without it (64 KiB a sendfile(), as
# iperf3 -Z calls it) Nagle's rule holds them behind the open advert as it would a
# TCP stream's; with TCP_NODELAY each call goes as its own advert. Also from a
# non-blocking socket, as an event-driven server sends a file: each call advertises
# or gathers what the connection takes now and returns, EAGAIN when it takes none
# (then POLLOUT); the pages are held until READ, as TCP holds them.
size=$(stat -c %s "$dir/file")
for how in sendfile splice "sendfile nonblock" "sendfile chunked" "sendfile chunked nodelay"; do
	read -r call opts <<< "$how"
	mark
	writer "$call" "$dir/file" save $opts
	if [[ $opts == *nonblock* ]]; then
		[[ $wrote =~ ^"sent $size eagain "[1-9][0-9]*" spurious 0"$ ]] ||
			fail "$how: the writer (no EAGAIN, an EAGAIN after POLLOUT, or an error): $wrote"
	else
		[ "$wrote" = "sent $size" ] || fail "$how: the writer: $wrote"
	fi
	cmp -s "$dir/file" "$dir/got" || fail "$how: the reader's bytes are not the file ($got read)"
	sent=$(delta a zc_adverts_sent) by_peer=$(delta a zc_bytes_read_by_peer) cancels=$(delta a zc_cancels_sent)
	echo "# $how: zc_adverts_sent +$sent for $((size >> 16)) pieces of 64 KiB, zc_bytes_read_by_peer +$by_peer, zc_cancels_sent +$cancels" >&2
	[ "$sent" -gt 0 ] || fail "$how: no advert was sent"
	[ $((by_peer + cancels * (1 << 20))) -gt $((size / 2)) ] || fail "$how: only $by_peer bytes went zero-copy"
	if [[ $opts == *nodelay* ]]; then
		[ "$sent" -ge $((size >> 16)) ] || fail "$how: $sent adverts for $((size >> 16)) calls: gathered despite TCP_NODELAY"
	elif [ "$call" = sendfile ]; then
		[ "$sent" -le $((size >> 17)) ] ||
			fail "$how: $sent adverts for $((size >> 16)) pieces of 64 KiB: the pieces behind open adverts did not gather"
	fi
done
pass "sendfile() (blocking or not, in one call or 64 KiB a call) and splice() of the file: its pages advertised, gathered behind open adverts unless TCP_NODELAY, the file whole"

# sendfile(2) to a reader that holds off 5 s: the adverts of calls that returned are
# cancelled by the clock, their bytes go from the file's pages (held by reference,
# which /proc/vmstat's pin counts do not see), the rest copied, and the reader gets
# the file whole.
mark
writer sendfile "$dir/file" hold
echo "# sendfile, reader late: zc_cancels_sent +$(delta a zc_cancels_sent), zc_declines +$(delta a zc_declines), zc_bytes_read_by_peer +$(delta a zc_bytes_read_by_peer)" >&2
[ "$wrote" = "sent $(stat -c %s "$dir/file")" ] || fail "sendfile, reader late: the writer: $wrote"
cmp -s "$dir/file" "$dir/got" || fail "sendfile, reader late: the reader's bytes are not the file ($got read)"
[ "$(delta a zc_cancels_sent)" -gt 0 ] || fail "sendfile, reader late: nothing cancelled"
pass "sendfile() to a reader 5 s late: the adverts of calls that returned cancelled, their bytes sent from the file's pages, the file whole"

# A reader that comes late: host b's landing buffers fill and the advert sees no READ
# for a second; host a cancels, host b answers, and the rest goes copied.
mark
transfer hold
echo "# late reader: zc_cancels_sent +$(delta a zc_cancels_sent), zc_cancels +$(delta b zc_cancels), zc_declines +$(delta a zc_declines), zc_declines_sent +$(delta b zc_declines_sent)" >&2
[ "$(delta a zc_cancels_sent)" -gt 0 ] || fail "no advert was cancelled"
[ "$(delta b zc_cancels)" = "$(delta a zc_cancels_sent)" ] || fail "host b saw $(delta b zc_cancels) cancels"
# Host b answers each cancel with a SendSm (or an RdmaRdCompl, when it READ the advert
# whole first): both hosts count the same adverts declined.
[ "$(delta b zc_declines_sent)" = "$(delta a zc_declines)" ] ||
	fail "host b declined $(delta b zc_declines_sent) adverts, host a counts $(delta a zc_declines)"
pass "a reader 5 s late: the open advert cancelled after 1 s, the rest copied; the file whole"

# The same late reader with net.infinisock.sdp_zcopy_timeout_ms at 10 s: the advert
# waits for it, and nothing is cancelled.
ip netns exec a sysctl -qw net.infinisock.sdp_zcopy_timeout_ms=10000 || fail "sysctl sdp_zcopy_timeout_ms"
mark
transfer hold
ip netns exec a sysctl -qw net.infinisock.sdp_zcopy_timeout_ms=1000
echo "# late reader, sdp_zcopy_timeout_ms 10000: zc_adverts_sent +$(delta a zc_adverts_sent), zc_cancels_sent +$(delta a zc_cancels_sent)" >&2
[ "$(delta a zc_cancels_sent)" = 0 ] || fail "sdp_zcopy_timeout_ms 10000: $(delta a zc_cancels_sent) adverts cancelled"
[ "$(delta a zc_adverts_sent)" -gt 0 ] || fail "sdp_zcopy_timeout_ms 10000: no advert"
pass "sdp_zcopy_timeout_ms 10000: the reader 5 s late gets its adverts READ, none cancelled; the file whole"

# Both ways at once: host b's program writes 2 MiB back while it reads, and host a's
# reads nothing until its file is sent. Host b's data fills host a's ring, yet host
# b's replies to host a's adverts must get through: while an advert is open, every
# buffer host a reposts goes back to host b at once.
mark
port=$((port + 1))
rm -f "$dir/got"
ip netns exec b timeout 180 python3 "$PEER" saveback "$HOST_B4" $port "$dir/got" $((2 << 20)) > "$dir/reader" &
reader=$!
wait_output "$dir/reader" listening
wrote=$(ip netns exec a timeout 150 python3 "$PEER" sendread "$HOST_B4" $port "$dir/file" $((2 << 20)))
wait $reader
echo "# both ways: writer '$wrote', reader '$(tail -1 "$dir/reader")'" >&2
size=$(stat -c %s "$dir/file")
[ "$wrote" = "sent $size read $((2 << 20))" ] || fail "both ways, the writer: $wrote"
[ "$(tail -1 "$dir/reader")" = "eof after $size wrote $((2 << 20))" ] || fail "both ways, the reader: $(tail -1 "$dir/reader")"
cmp -s "$dir/file" "$dir/got" || fail "both ways: the reader's bytes are not the file"
[ "$(delta a zc_adverts_sent)" -gt 0 ] || fail "both ways: no advert"
pass "both ways at once, the writer reading nothing meanwhile: $(delta a zc_adverts_sent) adverts answered, $(delta a zc_cancels_sent) cancelled, the file whole"

# Two threads write at once, 1 MiB per send(): one advertises, the other waits and
# copies or advertises after it; no byte is lost or sent twice.
mark
writer twice $((2 << 20)) save
[ "$wrote" = "sent $((4 << 20))" ] || fail "two writers: $wrote"
a=$(tr -cd A < "$dir/got" | wc -c) b=$(tr -cd B < "$dir/got" | wc -c)
[ "$got" = $((4 << 20)) ] && [ "$a" = $((2 << 20)) ] && [ "$b" = $((2 << 20)) ] ||
	fail "two writers: the reader got $got bytes, $a of A and $b of B"
[ "$(delta a zc_adverts_sent)" -gt 0 ] || fail "two writers: no advert"
pass "two writers at once: $(delta a zc_adverts_sent) adverts, every byte once"

# A send() cut short while its advert is open, by SO_SNDTIMEO or by a signal: it
# cancels, waits for the sink's answer, and returns what the sink READ; the reader
# gets exactly that.
for how in timeout signal; do
	mark
	writer cut $how hold
	# Nothing READ yet when it was cut: EAGAIN (the timeout), or a send() that
	# Python restarts after the signal's handler and that ends whole.
	n=$(sed -n 's/^sent \([0-9]*\) in.*/\1/p' <<< "$wrote")
	[ "$wrote" = "error EAGAIN" ] && n=0
	[ -n "$n" ] || fail "cut by $how: $wrote"
	[ "$got" = "$n" ] || fail "cut by $how: send() returned $n, the reader got $got"
	[ "$(delta a zc_cancels_sent)" -gt 0 ] || fail "cut by $how: no cancel"
	pass "a send() cut by $how: cancelled, $n bytes returned and received"
done

# A writer killed (SIGKILL) while its advert is open, on a connection its parent
# shares: the advert is cancelled and its answer awaited all the same, so the
# connection lives on. The parent's bytes follow what the sink READ of the child's.
mark
tail=100000
writer killed $tail hold
[ "$wrote" = "tail sent $tail" ] || fail "a killed writer: the parent got '$wrote'"
n=$((got - tail))
[ "$n" -ge 0 ] && [ "$n" -le $((4 << 20)) ] || fail "a killed writer: the reader got $got bytes"
cmp -s <(head -c $n /dev/zero | tr '\0' z; head -c $tail /dev/zero | tr '\0' y) "$dir/got" ||
	fail "a killed writer: the reader's $got bytes are not $n of the child's then the parent's $tail"
[ "$(delta a zc_cancels_sent)" -gt 0 ] || fail "a killed writer: no cancel"
[ "$(delta b zc_cancels)" = "$(delta a zc_cancels_sent)" ] || fail "a killed writer: host b saw $(delta b zc_cancels) cancels"
pass "a writer killed during its send(): cancelled, the shared connection lives on ($n of its bytes, then the parent's $tail)"

# Another thread meddles with the buffer of a send() in progress, 0.3 s in, while
# adverts go to a reader that keeps up. It unmaps the buffer: what the peer READ or
# was sent comes from pages still pinned or copied before, and the send() returns
# that much (or EFAULT, with nothing sent). Or it forks a child that fills its copy
# with "C": the pages the parent pins next are made its own first, and the peer gets
# the parent's 8 MiB of "z" exactly. Every pin is released.
for how in munmap fork; do
	mark
	before=$(pins_settled)
	writer racy $how save
	[[ $wrote == *" during" ]] || fail "$how: the send() was over before the thread acted: $wrote"
	n=$(sed -n 's/^sent \([0-9]*\) during$/\1/p' <<< "$wrote")
	[ "$wrote" = "error EFAULT during" ] && [ "$how" = munmap ] && n=0
	[ -n "$n" ] || fail "$how: the writer: $wrote"
	[ "$how" = munmap ] || [ "$n" = $((8 << 20)) ] || fail "fork: the send() returned $n"
	[ "$got" = "$n" ] || fail "$how: send() returned $n, the reader got $got"
	cmp -s <(head -c "$n" /dev/zero | tr '\0' z) "$dir/got" || fail "$how: the reader's $got bytes are not all the parent's"
	[ "$(delta a zc_adverts_sent)" -gt 0 ] || fail "$how: no advert"
	pins_back "$before" "$how during a send()"
	echo "# $how: $(delta a zc_adverts_sent) adverts, $(delta a zc_bytes_read_by_peer) bytes READ by the peer" >&2
done
pass "a buffer unmapped during its send(): the peer gets exactly what send() returned; a fork() during it: the child's writes never reach the peer; pins released"

# The same unmapping, 0.3 s in, while the reader holds off 5 s: the adverts are
# cancelled at 1 s, after the buffer is gone, and their unREAD bytes must still go,
# as Data copied from the adverts' own pages (still pinned), not from the program's
# memory (EFAULT by then, which stopped the call at the bytes READ). The send()
# then returns every advertised byte, and the rest of the buffer, copied, faults.
mark
before=$(pins_settled)
writer racy munmap hold
[[ $wrote == *" during" ]] || fail "munmap, reader late: the send() was over before the thread acted: $wrote"
n=$(sed -n 's/^sent \([0-9]*\) during$/\1/p' <<< "$wrote")
read_by_peer=$(delta a zc_bytes_read_by_peer)
echo "# munmap, reader late: send() '$wrote', $(delta a zc_adverts_sent) adverts, $read_by_peer bytes READ, zc_declines +$(delta a zc_declines)" >&2
[ -n "$n" ] || fail "munmap, reader late: the writer: $wrote"
[ "$(delta a zc_cancels_sent)" -gt 0 ] || fail "munmap, reader late: no advert was cancelled"
[ "$n" -gt "$read_by_peer" ] || fail "munmap, reader late: send() returned $n, only the $read_by_peer bytes READ: the declined ones were not sent"
[ "$got" = "$n" ] || fail "munmap, reader late: send() returned $n, the reader got $got"
cmp -s <(head -c "$n" /dev/zero | tr '\0' z) "$dir/got" || fail "munmap, reader late: the reader's $got bytes are not all the writer's"
pins_back "$before" "munmap, reader late"
pass "a buffer unmapped, then its adverts declined: their bytes go from the pinned pages ($n sent, $read_by_peer of them READ); pins released"

# SDP_ZCOPY_THRESH (SOL_TCP 80, OFED SDP's option) and net.infinisock.sdp_zcopy_thresh:
# the smallest piece of a blocking write that goes as an advert.
opts=$(ip netns exec a python3 - <<'PY'
import errno, socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 258)
out = [s.getsockopt(socket.SOL_TCP, 80)]
for v in (0, 4096, 1 << 20, -1):
    s.setsockopt(socket.SOL_TCP, 80, v)
    out.append(s.getsockopt(socket.SOL_TCP, 80))
for v in (1, 4095, (1 << 20) + 1, -2):
    try:
        s.setsockopt(socket.SOL_TCP, 80, v)
        out.append("accepted")
    except OSError as e:
        out.append(errno.errorcode[e.errno])
print(*out)
PY
)
[ "$opts" = "-1 0 4096 1048576 -1 EINVAL EINVAL EINVAL EINVAL" ] || fail "SDP_ZCOPY_THRESH's values: $opts"

head -c $((2 << 20)) "$dir/file" > "$dir/small"
# thresh WHO SIZE THRESH [hybrid]: host a's program sends $dir/small in pieces of
# SIZE, with SDP_ZCOPY_THRESH THRESH on its connecting socket (WHO client; "hybrid":
# an IPPROTO_SDP_HYBRID one, set before the path is chosen) or on the listener whose
# connection it accepts (WHO server); host b's program reads it whole. Sets
# `adverts`, those host a sent meanwhile.
thresh() {
	local want=$3 w
	[ "$3" = default ] && want=-1
	mark
	port=$((port + 1))
	rm -f "$dir/got"
	if [ "$1" = client ]; then
		ip netns exec b timeout 120 python3 "$PEER" save "$HOST_B4" $port "$dir/got" > "$dir/reader" &
		w=$!
		wait_output "$dir/reader" listening
		wrote=$(ip netns exec a timeout 120 python3 "$PEER" threshsend "$HOST_B4" $port "$dir/small" "$2" "$3" "${4:-sdp}")
		wait $w
	else
		ip netns exec a timeout 120 python3 "$PEER" threshserve "$HOST_A4" $port "$dir/small" "$2" "$3" > "$dir/writer" &
		w=$!
		wait_output "$dir/writer" listening
		ip netns exec b timeout 120 python3 "$PEER" fetch "$HOST_A4" $port "$dir/got" > "$dir/reader"
		wait $w
		wrote=$(tail -1 "$dir/writer")
	fi
	adverts=$(delta a zc_adverts_sent)
	echo "# SDP_ZCOPY_THRESH $3 on the $1, pieces of $2: writer '$wrote', reader '$(tail -1 "$dir/reader")', $adverts adverts" >&2
	local path=""
	[ "${4:-}" = hybrid ] && path=" transport 1"
	[ "$wrote" = "sent $((2 << 20)) thresh $want$path" ] || fail "SDP_ZCOPY_THRESH $3 on the $1: the writer: $wrote"
	cmp -s "$dir/small" "$dir/got" || fail "SDP_ZCOPY_THRESH $3 on the $1: the reader's bytes are not the file"
}
thresh client $((256 << 10)) $((1 << 20))
[ "$adverts" = 0 ] || fail "a threshold of 1 MiB: pieces of 256 KiB went as $adverts adverts"
thresh client $((2 << 20)) $((1 << 20))
[ "$adverts" -gt 0 ] || fail "a threshold of 1 MiB: pieces of 2 MiB went without adverts"
thresh server $((1 << 20)) 0
[ "$adverts" = 0 ] || fail "a listener's threshold 0: the connection it accepted sent $adverts adverts"
thresh server $((1 << 20)) default
[ "$adverts" -gt 0 ] || fail "a listener's default threshold: the connection it accepted sent no advert"
ip netns exec a sysctl -qw net.infinisock.sdp_zcopy_thresh=$((1 << 20)) || fail "sysctl sdp_zcopy_thresh"
thresh client $((256 << 10)) default
ip netns exec a sysctl -qw net.infinisock.sdp_zcopy_thresh=65536
[ "$adverts" = 0 ] || fail "sdp_zcopy_thresh 1 MiB: pieces of 256 KiB went as $adverts adverts"
# A hybrid stream takes the option before its path is chosen (TCP has none such).
ip netns exec a sysctl -qw net.infinisock.sdp_transparent=1 || fail "sysctl sdp_transparent"
thresh client $((256 << 10)) $((1 << 20)) hybrid
[ "$adverts" = 0 ] || fail "a hybrid's threshold of 1 MiB: pieces of 256 KiB went as $adverts adverts"
thresh client $((256 << 10)) default hybrid
ip netns exec a sysctl -qw net.infinisock.sdp_transparent=0
[ "$adverts" -gt 0 ] || fail "a hybrid's default threshold: pieces of 256 KiB went without adverts"
pass "SDP_ZCOPY_THRESH: its values; 1 MiB copies pieces of 256 KiB and advertises pieces of 2 MiB; 0 on a listener reaches its connection; sdp_zcopy_thresh sets the default; a hybrid stream takes it before its path is chosen"

# MSG_ZEROCOPY as TCP offers it, on a hybrid stream's SDP path (the protocol takes
# SO_ZEROCOPY, which the socket layer grants TCP, UDP and RDS only): each send()'s
# notification is on the error queue as it returns, POLLERR says so, ids in order;
# 1 MiB sends go as adverts (not copied), a 1000-byte one is copied
# (SO_EE_CODE_ZEROCOPY_COPIED).
#
# msgzc_to_reader ARGS...: the line of `sdp_peer.py msgzc ARGS` (run under the command
# prefix $MSGZC_AS, if set) writing to a reader that saves to $dir/got on $port. The
# caller advances $port: this runs in a $(...) subshell.
msgzc_to_reader() {
	local w
	rm -f "$dir/got"
	ip netns exec b timeout 120 python3 "$PEER" save "$HOST_B4" $port "$dir/got" > "$dir/reader" &
	w=$!
	wait_output "$dir/reader" listening
	ip netns exec a ${MSGZC_AS:-} timeout 120 python3 "$PEER" msgzc "$HOST_B4" $port "$@"
	wait $w
}
ip netns exec a sysctl -qw net.infinisock.sdp_transparent=1 || fail "sysctl sdp_transparent"
port=$((port + 1))
wrote=$(msgzc_to_reader 1048576 1048576 1000 1048576)
ip netns exec a sysctl -qw net.infinisock.sdp_transparent=0
echo "# MSG_ZEROCOPY: writer '$wrote', reader '$(tail -1 "$dir/reader")'" >&2
[[ $wrote =~ ^"transport 1 0:"[zc]" 1:"[zc]" 2:c 3:"[zc]" sent 3146728"$ ]] || fail "MSG_ZEROCOPY: $wrote"
[[ $wrote == *:z* ]] || fail "MSG_ZEROCOPY: every 1 MiB send was copied: $wrote"
[ "$(tail -1 "$dir/reader")" = "eof after 3146728" ] || fail "MSG_ZEROCOPY: the reader: $(tail -1 "$dir/reader")"
[ "$(tr -d q < "$dir/got" | wc -c)" = 0 ] || fail "MSG_ZEROCOPY: the reader's bytes are not the writer's"
pass "MSG_ZEROCOPY on a hybrid stream over SDP: one notification per send(), ids in order, POLLERR; 1 MiB sends not copied, a small one copied"

# The same on an IPPROTO_SDP stream, whose SO_ZEROCOPY the protocol takes itself.
port=$((port + 1))
wrote=$(msgzc_to_reader sdp 1048576 1000)
echo "# MSG_ZEROCOPY, IPPROTO_SDP: writer '$wrote', reader '$(tail -1 "$dir/reader")'" >&2
[ "$wrote" = "transport sdp 0:z 1:c sent 1049576" ] || fail "MSG_ZEROCOPY on IPPROTO_SDP: $wrote"
[ "$(tail -1 "$dir/reader")" = "eof after 1049576" ] || fail "MSG_ZEROCOPY on IPPROTO_SDP: the reader: $(tail -1 "$dir/reader")"
pass "SO_ZEROCOPY and MSG_ZEROCOPY on an IPPROTO_SDP stream: 1 MiB not copied, 1000 bytes copied"

# MSG_ZEROCOPY as TCP offers it: the call returns once its pages are advertised, not
# once the peer READ them, and the notification says when they are the program's
# again. msgzcburst sends 1 MiB from each of its page-aligned buffers back to back,
# reading no notification between sends, and overwrites each buffer with "!" as its
# id is notified: the reader must get every letter and no "!".
# burst_expect COUNT: the bytes the reader must get, letter i for the i-th MiB.
burst_expect() {
	local i
	for ((i = 0; i < $1; i++)); do
		head -c $((1 << 20)) /dev/zero | tr '\0' "\\$(printf %03o $((97 + i % 26)))"
	done
}
# A reader that keeps up: every id notified once, the adverts READ.
mark
before=$(pins_settled)
port=$((port + 1))
writer msgzcburst 8 save
echo "# MSG_ZEROCOPY burst: $(delta a zc_adverts_sent) adverts, $(delta a zc_bytes_read_by_peer) bytes READ" >&2
[[ $wrote =~ ^"returned "[0-8]" outq "[0-9]+" notified ".*" sent 8388608"$ ]] || fail "MSG_ZEROCOPY burst: $wrote"
[[ $wrote == *:z* ]] || fail "MSG_ZEROCOPY burst: every send copied: $wrote"
[ "$got" = $((8 << 20)) ] || fail "MSG_ZEROCOPY burst: the reader got $got bytes"
cmp -s <(burst_expect 8) "$dir/got" || fail "MSG_ZEROCOPY burst: the reader's bytes are not the buffers' before their notifications"
[ "$(delta a zc_adverts_sent)" -ge 8 ] || fail "MSG_ZEROCOPY burst: $(delta a zc_adverts_sent) adverts"
pins_back "$before" "MSG_ZEROCOPY burst"
pass "MSG_ZEROCOPY: 8 sends of 1 MiB back to back, none waiting for a notification: each id notified once, no buffer overwritten after its notification reached the peer ($wrote)"

# The same on a non-blocking socket, as TCP's: a call advertises what free adverts
# and credits allow now and returns that much, or EAGAIN if nothing; the program
# takes up a partial send where it ended, and waits for POLLOUT after an EAGAIN,
# taking notifications meanwhile. Most bytes go by READ.
mark
before=$(pins_settled)
writer msgzcburst 8 save nonblock
echo "# MSG_ZEROCOPY burst, non-blocking: $(delta a zc_adverts_sent) adverts, $(delta a zc_bytes_read_by_peer) bytes READ" >&2
[[ $wrote =~ ^"returned "[0-9]+" outq "[0-9]+" notified ".*" sent 8388608 calls "[0-9]+" eagain "[1-9][0-9]*" spurious 0"$ ]] ||
	fail "MSG_ZEROCOPY burst, non-blocking (no EAGAIN, an EAGAIN after POLLOUT, or an error): $wrote"
[[ $wrote == *:z* ]] || fail "MSG_ZEROCOPY burst, non-blocking: every call copied: $wrote"
[ "$got" = $((8 << 20)) ] || fail "MSG_ZEROCOPY burst, non-blocking: the reader got $got bytes"
cmp -s <(burst_expect 8) "$dir/got" || fail "MSG_ZEROCOPY burst, non-blocking: the reader's bytes are not the buffers' before their notifications"
[ "$(delta a zc_bytes_read_by_peer)" -ge $((4 << 20)) ] || fail "MSG_ZEROCOPY burst, non-blocking: only $(delta a zc_bytes_read_by_peer) bytes READ"
pins_back "$before" "MSG_ZEROCOPY burst, non-blocking"
pass "MSG_ZEROCOPY on a non-blocking socket: partial counts and EAGAIN as TCP's, $(delta a zc_bytes_read_by_peer) bytes READ, no buffer overwritten before its notification reached the peer ($wrote)"

# A reader that holds off 5 s: all four sends return at once (nothing READ whole),
# no writer waits, and the adverts' clock still cancels them at 1 s; their bytes go
# from the pinned pages once the reader reads, each notification marked copied.
mark
before=$(pins_settled)
writer msgzcburst 4 hold
echo "# MSG_ZEROCOPY burst, reader late: zc_cancels_sent +$(delta a zc_cancels_sent), zc_declines +$(delta a zc_declines), $(delta a zc_bytes_read_by_peer) bytes READ" >&2
[[ $wrote =~ ^"returned 4 outq "([0-9]+)" notified ".*" sent 4194304"$ ]] || fail "MSG_ZEROCOPY burst, reader late: $wrote"
[ "${BASH_REMATCH[1]}" -gt $((3 << 20)) ] || fail "MSG_ZEROCOPY burst, reader late: only ${BASH_REMATCH[1]} bytes outstanding after the sends"
[[ $wrote == *:z* ]] && fail "MSG_ZEROCOPY burst, reader late: a declined send's notification is not marked copied: $wrote"
[ "$(delta a zc_cancels_sent)" -gt 0 ] || fail "MSG_ZEROCOPY burst, reader late: no cancel without a waiting writer"
[ "$got" = $((4 << 20)) ] || fail "MSG_ZEROCOPY burst, reader late: the reader got $got bytes"
cmp -s <(burst_expect 4) "$dir/got" || fail "MSG_ZEROCOPY burst, reader late: the reader's bytes are not the buffers' before their notifications"
pins_back "$before" "MSG_ZEROCOPY burst, reader late"
pass "MSG_ZEROCOPY to a reader 5 s late: 4 sends returned at once, cancelled by the clock with no writer, their bytes copied from the pinned pages, notifications marked copied"

# The same sends, but the program closes its socket and ends right after them, its
# notifications unread (TCP lets it: the data still goes). The adverts outlive the
# file: the clock cancels them, their bytes go from the pinned pages, then the
# DisConn; the reader gets every byte, and every pin goes with the connection.
mark
before=$(pins_settled)
writer msgzcburst 4 hold close
echo "# MSG_ZEROCOPY burst, then close: zc_cancels_sent +$(delta a zc_cancels_sent), zc_declines +$(delta a zc_declines)" >&2
[[ $wrote =~ ^"returned 4 outq "([0-9]+)" sent 4194304 closed"$ ]] || fail "MSG_ZEROCOPY burst, then close: $wrote"
[ "${BASH_REMATCH[1]}" -gt $((3 << 20)) ] || fail "MSG_ZEROCOPY burst, then close: only ${BASH_REMATCH[1]} bytes outstanding at close"
[ "$got" = $((4 << 20)) ] || fail "MSG_ZEROCOPY burst, then close: the reader got $got bytes"
cmp -s <(burst_expect 4) "$dir/got" || fail "MSG_ZEROCOPY burst, then close: the reader's bytes are not the buffers'"
[ "$(delta a zc_cancels_sent)" -gt 0 ] || fail "MSG_ZEROCOPY burst, then close: no cancel after the close"
pins_back "$before" "MSG_ZEROCOPY burst, then close"
pass "MSG_ZEROCOPY sends, then close() at once, to a reader 5 s late: every byte delivered from the pinned pages after the close, the pins released"

# MSG_ZEROCOPY's pages count against RLIMIT_MEMLOCK once, as TCP's: the call's
# notification is charged for them, and an advert's pins keep it until they go
# (they are not charged again). A program without CAP_IPC_LOCK whose limit holds one
# 1 MiB call, not two, sends 1 MiB twice as adverts (the charge comes back with each
# notification); one whose limit is below the call gets ENOBUFS, as from TCP, and its
# next, smaller call the first id.
msgzc_limited() { # LIMIT SIZE...: the writer's line, as nobody with that memlock limit
	MSGZC_AS="prlimit --memlock=$1:$1 setpriv --reuid 65534 --regid 65534 --clear-groups" \
		msgzc_to_reader "${@:2}"
}
ip netns exec a sysctl -qw net.infinisock.sdp_transparent=1 || fail "sysctl sdp_transparent"
port=$((port + 1))
roomy=$(msgzc_limited $((1536 << 10)) 1048576 1048576)
echo "# MSG_ZEROCOPY under a memlock limit of 1.5 MiB: writer '$roomy', reader '$(tail -1 "$dir/reader")'" >&2
[ "$(tail -1 "$dir/reader")" = "eof after 2097152" ] || fail "MSG_ZEROCOPY, memlock 1.5 MiB: the reader: $(tail -1 "$dir/reader")"
port=$((port + 1))
short=$(msgzc_limited $((512 << 10)) 1048576 1000)
ip netns exec a sysctl -qw net.infinisock.sdp_transparent=0
echo "# MSG_ZEROCOPY under a memlock limit of 512 KiB: writer '$short'" >&2
[ "$roomy" = "transport 1 0:z 1:z sent 2097152" ] || fail "MSG_ZEROCOPY, memlock 1.5 MiB (pages charged twice?): $roomy"
[ "$short" = "transport 1 ENOBUFS 0:c sent 1000" ] || fail "MSG_ZEROCOPY, memlock 512 KiB: $short"
pass "MSG_ZEROCOPY and RLIMIT_MEMLOCK: an advert's pages charged once, by the call's notification; ENOBUFS beyond the limit"

# An accepted stream takes its listener's SO_ZEROCOPY and may change it, as TCP's,
# on a hybrid listener and on an IPPROTO_SDP one; a notification it leaves unread at
# close goes with the socket (kmemleak, in the kernel_log step, would name one left
# behind).
ip netns exec a sysctl -qw net.infinisock.sdp_transparent=2 || fail "sysctl sdp_transparent"
for proto in hybrid sdp; do
	port=$((port + 1))
	ip netns exec a timeout 60 python3 "$PEER" msgzcserve "$HOST_A4" $port ${proto/hybrid/} > "$dir/writer" &
	w=$!
	wait_output "$dir/writer" listening
	ip netns exec b timeout 60 python3 "$PEER" fetch "$HOST_A4" $port "$dir/got" > "$dir/reader"
	wait $w
	echo "# MSG_ZEROCOPY, accepted ($proto): writer '$(tail -1 "$dir/writer")', reader '$(tail -1 "$dir/reader")'" >&2
	[ "$(tail -1 "$dir/writer")" = "zerocopy 1 off 0 sent 1000 pending" ] || fail "MSG_ZEROCOPY on an accepted $proto stream: $(tail -1 "$dir/writer")"
	[ "$(stat -c %s "$dir/got")" = 1000 ] || fail "MSG_ZEROCOPY on an accepted $proto stream: the reader got $(stat -c %s "$dir/got") bytes"
done
ip netns exec a sysctl -qw net.infinisock.sdp_transparent=0
pass "an accepted stream has its listener's SO_ZEROCOPY, and may turn it off (hybrid and IPPROTO_SDP); a notification unread at close goes with it"

# An unmodified Debian program through transparent SDP: socat copying the file with
# writes of up to 1 MiB (its -b) to a hybrid stream; those writes go as adverts.
[ -x "$TOOL" ] || fail "$TOOL not built"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf || fail "mount bpffs"
"$TOOL" enable > /dev/null || fail "transparent hook"
for ns in a b; do ip netns exec $ns sysctl -qw net.infinisock.sdp_transparent=3 || fail "sdp_transparent"; done
mark
port=$((port + 1))
rm -f "$dir/got"
ip netns exec b timeout 120 socat -u TCP-LISTEN:$port,reuseaddr "OPEN:$dir/got,creat,trunc" &
srv=$!
wait_listening b $port
ip netns exec a timeout 120 socat -b 1048576 -u "OPEN:$dir/file" TCP:$HOST_B4:$port || fail "socat client"
wait $srv || fail "socat server"
cmp -s "$dir/file" "$dir/got" || fail "socat: the file differs"
echo "# socat: zc_adverts_sent +$(delta a zc_adverts_sent), zc_bytes_read_by_peer +$(delta a zc_bytes_read_by_peer)" >&2
[ "$(delta a zc_adverts_sent)" -gt 0 ] || fail "socat's writes went without adverts"
pass "socat through transparent SDP: $(delta a zc_bytes_read_by_peer) bytes of its writes READ by the peer, the file whole"

# iperf3 -Z (Debian's, unmodified) through transparent SDP: its "zero copy" sender
# sendfile()s its buffer's file to the stream; the pages are advertised, and most of
# its bytes go by READ.
mark
port=$((port + 1))
ip netns exec b timeout 60 iperf3 -s -1 -B "$HOST_B4" -p $port > "$dir/iperf3_server" 2>&1 &
srv=$!
wait_listening b $port
ip netns exec a timeout 60 iperf3 -c "$HOST_B4" -p $port -Z -t 3 -l 1M > "$dir/iperf3_client" 2>&1 ||
	fail "iperf3 -Z: $(tail -3 "$dir/iperf3_client" | tr '\n' ' ')"
wait $srv || fail "iperf3 -s: $(tail -3 "$dir/iperf3_server" | tr '\n' ' ')"
echo "# iperf3 -Z: $(grep -E 'sender|receiver' "$dir/iperf3_client" | tr -s ' ' | tr '\n' ' '); bytes_sent +$(delta a bytes_sent), zc_adverts_sent +$(delta a zc_adverts_sent), zc_bytes_read_by_peer +$(delta a zc_bytes_read_by_peer)" >&2
[ "$(delta a zc_adverts_sent)" -gt 0 ] || fail "iperf3 -Z: its sendfile() calls made no advert"
[ "$(delta a zc_bytes_read_by_peer)" -gt $(($(delta a bytes_sent) / 2)) ] ||
	fail "iperf3 -Z: $(delta a zc_bytes_read_by_peer) of $(delta a bytes_sent) bytes READ"
pass "iperf3 -Z through transparent SDP: $(delta a zc_bytes_read_by_peer) of $(delta a bytes_sent) bytes of its sendfile() calls READ by the peer"

# The kernel's own msg_zerocopy (tools/testing/selftests/net), unmodified, through
# transparent SDP: its receiver drops what it reads with recv(NULL, MSG_TRUNC), its
# sender gets a notification for every MSG_ZEROCOPY send, each marked copied (-Z 0:
# its 65,495-byte sends are below sdp_zcopy_thresh).
mark
port=$((port + 1))
ip netns exec b timeout 60 "$HELPERS/msg_zerocopy" -4 -r -t 5 -D "$HOST_B4" -S "$HOST_A4" -p $port tcp > "$dir/mzc_rx" 2>&1 &
srv=$!
wait_listening b $port
ip netns exec a timeout 60 "$HELPERS/msg_zerocopy" -4 -t 2 -z -Z 0 -D "$HOST_B4" -S "$HOST_A4" -p $port tcp > "$dir/mzc_tx" 2>&1 ||
	fail "msg_zerocopy: $(tr '\n' ' ' < "$dir/mzc_tx")"
wait $srv || fail "msg_zerocopy -r: $(tr '\n' ' ' < "$dir/mzc_rx")"
echo "# msg_zerocopy: sender '$(tr '\n' ' ' < "$dir/mzc_tx")', receiver '$(tr '\n' ' ' < "$dir/mzc_rx")', bytes_sent +$(delta a bytes_sent)" >&2
tx=$(sed -n 's/^tx=\([0-9]*\) .*/\1/p' "$dir/mzc_tx") txc=$(sed -n 's/.* txc=\([0-9]*\) .*/\1/p' "$dir/mzc_tx")
[ -n "$tx" ] && [ "$tx" -gt 0 ] && [ "$txc" = "$tx" ] || fail "msg_zerocopy: $tx sends, $txc notifications"
grep -Eq '^rx=[1-9]' "$dir/mzc_rx" || fail "msg_zerocopy -r read nothing: $(cat "$dir/mzc_rx")"
# Its sends may be partial: half of what the full ones would carry is plenty of proof.
[ "$(delta a bytes_sent)" -ge $((tx * 65495 / 2)) ] || fail "msg_zerocopy's bytes did not go over SDP"
pass "msg_zerocopy through transparent SDP: $txc notifications of $tx sends, all marked copied; its receiver's MSG_TRUNC reads"
"$TOOL" disable > /dev/null
for ns in a b; do ip netns exec $ns sysctl -qw net.infinisock.sdp_transparent=0; done

# rogue_and_writer WRITER SINK ADDR PORT SCENARIO [MODE ARG...]: sdp_rogue listens in
# netns SINK at ADDR:PORT as SCENARIO, then a writer in netns WRITER sends it
# $dir/file (or runs sdp_peer.py MODE ARG...) in the background, its output in
# $dir/writer; `rogue` and `writer` are their pids.
rogue_and_writer() {
	local how=(send "$dir/file")
	[ $# -gt 5 ] && how=("${@:6}")
	ip netns exec "$2" timeout 120 "$HELPERS/sdp_rogue" "$3" "$4" "$5" > "$dir/rogue" &
	rogue=$!
	wait_output "$dir/rogue" listening
	ip netns exec "$1" timeout 100 python3 "$PEER" "${how[0]}" "$3" "$4" "${how[@]:1}" > "$dir/writer" &
	writer=$!
}

# rogue_sink SCENARIO: sdp_rogue listens on host b as a sink of host a's adverts;
# host a's writer sends the file to it. Sets `before` (the pins before), `wrote` (the
# writer's line) and `out` (the rogue's lines).
rogue_sink() {
	before=$(pins_settled)
	port=$((port + 1))
	rogue_and_writer a b "$HOST_B4" $port "$1"
	wait $writer
	wrote=$(cat "$dir/writer")
	wait $rogue
	out=$(tr '\n' ' ' < "$dir/rogue")
	echo "# $1: writer '$wrote', rogue '$out'" >&2
}

# hostile SCENARIO: rogue_sink with a sink that breaks a rule. The writer must get an
# error, the connection end, and every page pinned for it be released.
hostile() {
	local rogue writer before
	rogue_sink "$1"
	[[ $wrote == error* ]] || fail "$1: the writer: $wrote"
	[[ $out == *disconnected* ]] || fail "$1: the connection did not end: $out"
	pins_back "$before" "$1"
}

mark
hostile zs_silent
[ "$(delta a zc_cancels_sent)" -gt 0 ] || fail "zs_silent: no cancel"
pass "a sink that never READs nor answers: cancelled, then reset ($wrote), pins released"

# net.infinisock.sdp_zcopy_cancel_ms at 15 s against the same silent sink: where the
# default resets about 6 s after the advert (1 s, then 5 s), the writer still waits
# at 10 s, then gets its reset.
ip netns exec a sysctl -qw net.infinisock.sdp_zcopy_cancel_ms=15000 || fail "sysctl sdp_zcopy_cancel_ms"
before=$(pins_settled)
port=$((port + 1))
rogue_and_writer a b "$HOST_B4" $port zs_silent
wait_output "$dir/rogue" advert
sleep 10
kill -0 $writer 2>/dev/null && [ ! -s "$dir/writer" ] || fail "sdp_zcopy_cancel_ms 15000: the writer was done within 10 s: $(cat "$dir/writer")"
wait $writer
wait $rogue
ip netns exec a sysctl -qw net.infinisock.sdp_zcopy_cancel_ms=5000
echo "# zs_silent, sdp_zcopy_cancel_ms 15000: writer '$(cat "$dir/writer")', rogue '$(tr '\n' ' ' < "$dir/rogue")'" >&2
grep -q '^error ETIMEDOUT' "$dir/writer" || fail "sdp_zcopy_cancel_ms 15000: the writer: $(cat "$dir/writer")"
pins_back "$before" "sdp_zcopy_cancel_ms 15000"
pass "sdp_zcopy_cancel_ms 15000: a silent sink's writer still waits at 10 s, then is reset; pins released"
# MSG_ZEROCOPY sends to the same silent sink: they return with no writer left to
# wait, yet the clock cancels, then resets the connection; the program gets every
# notification and the error, and every pin goes.
before=$(pins_settled)
port=$((port + 1))
rogue_and_writer a b "$HOST_B4" $port zs_silent msgzcburst 4
wait $writer
wait $rogue
wrote=$(cat "$dir/writer")
echo "# zs_silent, MSG_ZEROCOPY: writer '$wrote', rogue '$(tr '\n' ' ' < "$dir/rogue")'" >&2
[[ $wrote =~ ^"returned 4 outq "[0-9]+" notified ".*" sent 4194304 error ETIMEDOUT"$ ]] || fail "zs_silent, MSG_ZEROCOPY: the writer: $wrote"
grep -q disconnected "$dir/rogue" || fail "zs_silent, MSG_ZEROCOPY: the connection did not end: $(cat "$dir/rogue")"
pins_back "$before" "zs_silent, MSG_ZEROCOPY"
pass "MSG_ZEROCOPY sends to a sink that never READs: returned at once, cancelled and reset by the clock, every notification delivered, pins released"

# The same sink killed with the adverts open: the connection ends, the program gets
# every notification and the error, and every pin goes.
before=$(pins_settled)
port=$((port + 1))
rogue_and_writer a b "$HOST_B4" $port zs_silent msgzcburst 4
wait_output "$dir/rogue" advert
kill -9 $rogue
wait $rogue 2>/dev/null
wait $writer
wrote=$(cat "$dir/writer")
echo "# sink killed, MSG_ZEROCOPY: writer '$wrote'" >&2
[[ $wrote =~ ^"returned "[0-4]" outq "-?[0-9]+" notified ".*" sent "[0-9]+" error E"[A-Z]+$ ]] || fail "sink killed, MSG_ZEROCOPY: the writer: $wrote"
pins_back "$before" "sink killed, MSG_ZEROCOPY"
pass "MSG_ZEROCOPY sends, their sink killed with the adverts open: every notification delivered, the error reported, pins released"

hostile zs_overread
pass "a sink that claims one byte more than advertised: reset ($wrote), pins released"
hostile zs_read_beyond
[[ $out == *"read beyond refused"* ]] || fail "zs_read_beyond: $out"
pass "a READ 4 KiB beyond the advert is refused by the device; reset ($wrote), pins released"
hostile zs_read_after
[[ $out == *"read after close refused"* ]] || fail "zs_read_after: $out"
pass "a READ of a closed advert's region is refused (invalidated before send() returned); pins released"
# The device invalidates the key a SEND with invalidate names (rxe: any MR of the
# device) before the receive completes; never negotiated, it resets the peer at once,
# not after the next advert's cancel timed out.
mark
hostile zs_send_inv
[ "$(delta a protocol_violations)" -gt 0 ] && [ "$(delta a zc_cancels_sent)" = 0 ] ||
	fail "zs_send_inv: violations +$(delta a protocol_violations), cancels +$(delta a zc_cancels_sent)"
dmesg | grep -q 'SEND with invalidate from peer, never negotiated; connection reset' ||
	fail "zs_send_inv: no kernel log line"
pass "a sink that answers with a SEND with invalidate (never negotiated): reset at once ($wrote), logged, pins released"

# A sink that declines every advert (SendSm), and drops unread those sent before the
# module saw its SendSm: every byte comes as Data, and zc_declines counts
# each advert a SendSm closed (the ones the sink declined and the ones it dropped).
mark
rogue_sink zs_decline
echo "# zs_decline: zc_declines +$(delta a zc_declines)" >&2
[ "$wrote" = "sent $(stat -c %s "$dir/file")" ] || fail "zs_decline: the writer: $wrote"
[[ $out =~ declined\ ([0-9]+)\ discarded\ ([0-9]+)\ data\ ([0-9]+) ]] || fail "zs_decline: the sink: $out"
[ "${BASH_REMATCH[3]}" = "$(stat -c %s "$dir/file")" ] || fail "zs_decline: the sink got ${BASH_REMATCH[3]} bytes as Data"
[ "${BASH_REMATCH[1]}" -gt 0 ] || fail "zs_decline: no advert to decline"
[ "$(delta a zc_declines)" = $((BASH_REMATCH[1] + BASH_REMATCH[2])) ] ||
	fail "zs_decline: zc_declines +$(delta a zc_declines), the sink declined ${BASH_REMATCH[1]} and dropped ${BASH_REMATCH[2]}"
pins_back "$before" "zs_decline"
pass "a sink that declines every advert: the file whole as Data; zc_declines +$(delta a zc_declines); pins released"

# The connection's own choice, between sdp_zcopy_thresh and sdp_zcopy_thresh_max:
# against a sink that answers each advert 200 ms late, 40 writes of 128 KiB go
# copied but for the first (nothing measured yet) and one probe every 32 calls; with
# the threshold fixed at 64 KiB, every one is advertised.
head -c $((5 << 20)) "$dir/file" > "$dir/slow"
# slow_sink THRESH [SINK]: host a's program sends $dir/slow in pieces of 128 KiB with
# SDP_ZCOPY_THRESH THRESH to SINK (zs_slow); sets `adverts`, those the sink answered,
# and `shown`, the connection's threshold and adverts after its last write as
# /proc/net/infinisock/sdp and infinisock-ss show them.
slow_sink() {
	before=$(pins_settled)
	port=$((port + 1))
	rogue_and_writer a b "$HOST_B4" $port "${2:-zs_slow}" threshsend "$dir/slow" $((128 << 10)) "$1" show
	wait $writer
	wrote=$(cat "$dir/writer")
	wait $rogue
	out=$(tr '\n' ' ' < "$dir/rogue")
	echo "# ${2:-zs_slow}, SDP_ZCOPY_THRESH $1: writer '$wrote', rogue '$out'" >&2
	[[ $wrote =~ ^"sent $((5 << 20)) thresh " ]] || fail "${2:-zs_slow}, SDP_ZCOPY_THRESH $1: the writer: $wrote"
	[[ $out =~ answered\ ([0-9]+)\ read\ ([0-9]+)\ data\ ([0-9]+) ]] || fail "${2:-zs_slow}, SDP_ZCOPY_THRESH $1: the sink: $out"
	[ $((BASH_REMATCH[2] + BASH_REMATCH[3])) = $((5 << 20)) ] ||
		fail "${2:-zs_slow}, SDP_ZCOPY_THRESH $1: the sink got ${BASH_REMATCH[2]} bytes READ and ${BASH_REMATCH[3]} as Data"
	adverts=${BASH_REMATCH[1]}
	shown=${wrote#* proc }
	pins_back "$before" "${2:-zs_slow}, SDP_ZCOPY_THRESH $1"
}
ip netns exec a sysctl -qw net.infinisock.sdp_zcopy_thresh_max=$((1 << 20)) || fail "sysctl sdp_zcopy_thresh_max"
slow_sink default
choice=$adverts
# 128 KiB writes are copied; the classes above, unmeasured, still advertise.
[ "$shown" = "auto:262144 0/0 diag 262144 zc_adaptive 0/0" ] ||
	fail "the connection's choice as /proc/net/infinisock/sdp and infinisock-ss show it: $shown"
# A sink that lets every advert be cancelled (a second each, sdp_zcopy_timeout_ms):
# those calls measure what advertising costs too, and the class turns to copying.
slow_sink default zs_late
late=$adverts
[ "$late" -ge 1 ] && [ "$late" -le 4 ] || fail "the connection's choice: $late of 40 writes of 128 KiB advertised to a sink that lets them be cancelled"
[ "$shown" = "auto:262144 0/0 diag 262144 zc_adaptive 0/0" ] || fail "zs_late: the connection's choice shown: $shown"
slow_sink 65536
[ "$shown" = "65536 0/0 diag 65536 - 0/0" ] || fail "SDP_ZCOPY_THRESH 65536 as /proc/net/infinisock/sdp and infinisock-ss show it: $shown"
ip netns exec a sysctl -qw net.infinisock.sdp_zcopy_thresh_max=65536 || fail "sysctl sdp_zcopy_thresh_max"
[ "$choice" -ge 1 ] && [ "$choice" -le 4 ] || fail "the connection's choice: $choice of 40 writes of 128 KiB advertised to a slow sink"
[ "$adverts" -ge 40 ] || fail "SDP_ZCOPY_THRESH 65536: $adverts adverts for 40 writes of 128 KiB"
pass "the connection's choice: $choice of 40 writes of 128 KiB advertised to a sink 200 ms late per advert ($adverts with a fixed threshold), $late to one that lets them be cancelled; every byte there; pins released; /proc/net/infinisock/sdp and infinisock-ss show auto:262144 (65536 fixed)"

# device_removed PORT WHAT EXPECTED [MODE ARG...]: host zs1's writer (sdp_peer.py MODE
# ARG..., or a send of the file) to zs2's silent sink; once the sink has an advert,
# zs1's device goes. The writer's line must match EXPECTED (an extended regular
# expression), its pages must come back and its connection go.
device_removed() {
	local before
	before=$(pins_settled)
	rogue_and_writer zs1 zs2 10.75.0.2 "$1" zs_silent "${@:4}"
	wait_output "$dir/rogue" advert
	ip netns exec zs1 rdma link delete rxezs1 || fail "rdma link delete rxezs1"
	wait $writer
	echo "# device removal, $2: writer '$(cat "$dir/writer")'" >&2
	grep -Eq "$3" "$dir/writer" || fail "$2, its device removed: the writer: $(cat "$dir/writer")"
	kill $rogue 2>/dev/null
	wait $rogue 2>/dev/null
	pins_back "$before" "device removal, $2"
	[ "$(ip netns exec zs1 cat /proc/net/infinisock/sdp | wc -l)" -le 1 ] ||
		fail "connections left: $(ip netns exec zs1 cat /proc/net/infinisock/sdp)"
}
# The writer's device removed while its advert is open (hosts zs1, the writer, and
# zs2, a silent sink, of their own): the writer gets an error, its pages are released
# and its connection goes.
rxe_hosts zs1 zs2 10.75.0
ip netns exec zs1 sysctl -qw net.infinisock.sdp_zcopy=2 || fail "sysctl sdp_zcopy in zs1"
device_removed 7499 "a blocking send()" '^error E[A-Z]+'
pass "the writer's device removed with its advert open: an error, the pages released, the connection gone"

# The same with MSG_ZEROCOPY sends, which returned before the device went: no call
# is there to see it, yet the program gets every notification and the error, and
# every pin goes.
ip netns exec zs1 rdma link add rxezs1 type rxe netdev vzs1 || fail "rdma link add rxezs1"
device_removed 7498 "MSG_ZEROCOPY sends" '^returned [0-4] outq -?[0-9]+ notified .* sent [0-9]+ error E[A-Z]+$' msgzcburst 4
pass "MSG_ZEROCOPY sends returned, then their device removed: every notification delivered, the error reported, the pages released, the connection gone"

# sdp_zcopy 1 on the writer: it READs adverts but makes none.
ip netns exec a sysctl -qw net.infinisock.sdp_zcopy=1
mark
transfer save
[ "$(delta a zc_adverts_sent)" = 0 ] || fail "sdp_zcopy 1 advertised"
pass "sdp_zcopy 1: no advert of our own, the file whole"
