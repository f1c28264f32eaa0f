#!/usr/bin/env python3
"""Where a ping-pong message's time goes: reads the function-tracer logs that
tools/vm/latency.sh records (DIR/ib_send_lat-N.txt, DIR/seqpacket-N.txt) and prints a
Markdown table of the median time of each step, for ib_send_lat and for the AF_IB
SOCK_SEQPACKET ping-pong side by side.

    latency_stages.py DIR

Each message is followed through the entries of a few rxe functions (the tracer marks
each entry with the task, its CPU and a microsecond time stamp):

    post       the program hands the message to rxe: rxe_post_send, called by the program
               (ib_send_lat from its doorbell write(), the module from sendmsg())
    sender     rxe's send task starts: the first rxe_sender in a kworker after that
    xmit       the packet leaves: rxe_xmit_packet called by rxe_requester
    udp        the packet reaches the peer's rxe: rxe_udp_encap_recv
    receiver   the peer's receive task starts: rxe_receiver
    cqe        the completion is in the peer's CQ: rxe_cq_post in the receive task
    reply      the peer program posts its reply: the next post

The tracer's cost per marked call is alike for both programs: only rxe functions are
marked, the same ones, and each message passes each mark once.
"""

import os
import re
import statistics
import sys

LINE = re.compile(r"^\s*(.+)-(\d+)\s+\[(\d+)\]\s+\S+\s+([\d.]+):\s+(\S+?):?\s+(.*)$")
STEPS = ["post", "sender", "xmit", "udp", "receiver", "cqe", "reply"]
NAMES = {
    "sender": "hand-off: the send task runs",
    "xmit": "requester: the packet leaves",
    "udp": "network: the peer's rxe has it",
    "receiver": "the peer's receive task runs",
    "cqe": "responder: the completion is in the CQ",
    "reply": "turnaround: the peer posts its reply",
}
SYSTEMS = ["ib_send_lat", "seqpacket"]


def marks(path):
    """The marks of one trace, in time order: (step, time in µs)."""
    task_kind = {}
    out = []
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                continue
            m = LINE.match(line)
            if not m:
                continue
            comm, pid, _cpu, ts, func, rest = m.groups()
            t = float(ts) * 1e6
            kworker = comm.startswith("kworker")
            if func in ("rxe_receiver", "rxe_completer"):
                task_kind[pid] = func
            if func == "rxe_post_send" and not kworker:
                out.append(("post", t))
            elif func == "rxe_sender" and kworker:
                out.append(("sender", t))
            elif func == "rxe_xmit_packet" and rest.startswith("<-rxe_requester"):
                out.append(("xmit", t))
            elif func == "rxe_udp_encap_recv":
                out.append(("udp", t))
            elif func == "rxe_receiver":
                out.append(("receiver", t))
            elif func == "rxe_cq_post" and task_kind.get(pid) == "rxe_receiver":
                out.append(("cqe", t))
    return out


def messages(path):
    """One dict per message: step -> time, each step the first of its kind after the
    one before it; only messages that passed every step."""
    done, cur = [], None
    for step, t in marks(path):
        if step == "post":
            if cur is not None and "cqe" in cur:
                cur["reply"] = t
                done.append(cur)
            cur = {"post": t}
            continue
        if cur is None or step in cur:
            continue
        i = STEPS.index(step)
        if STEPS[i - 1] in cur:
            cur[step] = t
    return done


def main(d):
    per = {}
    for key in SYSTEMS:
        files = sorted(f for f in os.listdir(d) if f.startswith(key + "-"))
        per[key] = [messages(os.path.join(d, f)) for f in files]
    if not all(any(rounds) for rounds in per.values()):
        print("no complete message in the traces of " + d, file=sys.stderr)
        return 1

    def median(key, a, b, rounds=None):
        v = [m[b] - m[a] for r in (rounds or per[key]) for m in r]
        return statistics.median(v) if v else float("nan")

    print("## Where a 64-byte ping-pong message's time goes, median (µs)")
    print()
    print("Function tracer on rxe's own functions only, the same ones for both programs; "
          "%d messages of ib_send_lat, %d of the AF_IB SOCK_SEQPACKET ping-pong (spinning on "
          "non-blocking reads), in %d rounds. The tracer slows every step a little." % (
              sum(len(r) for r in per["ib_send_lat"]), sum(len(r) for r in per["seqpacket"]),
              len(per["seqpacket"])))
    print()
    print("| step (from the step above) | ib_send_lat | AF_IB SEQPACKET | difference |")
    print("|---|---|---|---|")
    total = {k: 0.0 for k in SYSTEMS}
    for a, b in zip(STEPS, STEPS[1:]):
        v = {k: median(k, a, b) for k in SYSTEMS}
        for k in v:
            total[k] += v[k]
        print("| %s | %.0f | %.0f | %+.0f |" % (NAMES[b], v["ib_send_lat"], v["seqpacket"],
                                              v["seqpacket"] - v["ib_send_lat"]))
    print("| **one way (sum of the medians)** | **%.0f** | **%.0f** | **%+.0f** |" % (
        total["ib_send_lat"], total["seqpacket"], total["seqpacket"] - total["ib_send_lat"]))
    print()
    print("Per round, one way (median of post → reply):")
    print()
    print("| round | ib_send_lat | AF_IB SEQPACKET | ib_send_lat / SEQPACKET |")
    print("|---|---|---|---|")
    for i, (a, b) in enumerate(zip(per["ib_send_lat"], per["seqpacket"])):
        la, lb = median("ib_send_lat", "post", "reply", [a]), median("seqpacket", "post", "reply", [b])
        print("| %d | %.0f | %.0f | %.2f |" % (i + 1, la, lb, la / lb))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
