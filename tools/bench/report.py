#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The benchmark report, host side: reads the samples tools/bench/suite.py wrote in the
VM and writes a Markdown table of figures (median of the repeats, with min and max)
with ratios to raw verbs and to each peer, the run time of each section, and SVG plots.

    report.py BENCH.json OUTDIR     -> OUTDIR/bench.md, OUTDIR/*.svg
"""

import json
import os
import statistics
import sys
from collections import defaultdict

NAMES = {
    "verbs_write": "ib_write_bw",
    "verbs_read": "ib_read_bw",
    "verbs_send": "ib_send_bw",
    "sdp": "SDP",
    "sdp_srq": "SDP, shared receive queues",
    "smc": "SMC-Rv2",
    "rsocket": "rsocket",
    "tcp": "TCP",
    "ibmsg": "AF_IB SEQPACKET",
    "ibrdma_write": "AF_IB RDMA WRITE",
    "ibrdma_read": "AF_IB RDMA READ",
    "ibrdma_write_pinned": "AF_IB RDMA WRITE, pinned iovec",
    "ibrdma_read_pinned": "AF_IB RDMA READ, pinned iovec",
    "ibrdma_write_sleep": "AF_IB RDMA WRITE, poll() for completions",
    "ibrdma_read_sleep": "AF_IB RDMA READ, poll() for completions",
    "ibrdma_writeimm_pinned": "AF_IB RDMA WRITE with immediate, pinned iovec",
    "hybrid": "hybrid (transparent SDP, over SDP)",
    "hybrid_tcp": "hybrid (fell back to TCP)",
    "sdp_beside": "SDP (explicit, beside)",
    "sdp_copy": "SDP, copied (sdp_zcopy 0)",
    "sdp_zc": "SDP, zero-copy source (sdp_zcopy 2)",
    "sdp_zc_auto": "SDP, zero-copy source, the connection's choice (sdp_zcopy 2)",
    "tcp_beside": "TCP (beside)",
}
LAT_NAMES = {"verbs_send": "ib_send_lat", "verbs_write": "ib_write_lat"}
# The systems of suite.py's timed sections (meta.section_seconds), in table order.
RUN_TIME_NAMES = {"verbs": "raw verbs", "sdp": "SDP", "smc": "SMC-Rv2", "rsocket": "rsocket", "tcp": "TCP",
                  "ibmsg": "AF_IB SEQPACKET", "sdp_beside": "SDP beside", "hybrid": "hybrid",
                  "tcp_beside": "TCP beside", "hybrid_tcp": "hybrid on TCP", "zcopy": "SDP zero-copy"}


def size_name(n):
    if n >= 1 << 20:
        return "%d MiB" % (n >> 20)
    if n >= 1 << 10:
        return "%d KiB" % (n >> 10)
    return "%d B" % n


class Figures:
    def __init__(self, samples):
        self.values = defaultdict(list)
        # The same samples by repeat, for ratios of runs made side by side.
        self.by_repeat = defaultdict(dict)
        self.errors = [s for s in samples if "error" in s]
        for s in samples:
            if "error" in s:
                continue
            key = (s["system"], s["test"], s["metric"], s.get("size"), s.get("streams"), s.get("connections"))
            self.values[key].append(s["value"])
            if "repeat" in s:
                self.by_repeat[key][s["repeat"]] = s["value"]

    def get(self, system, test, metric, size=None, streams=None, connections=None):
        v = self.values.get((system, test, metric, size, streams, connections))
        if not v:
            return None
        return statistics.median(v), min(v), max(v), len(v)

    def get_beside(self, system, test, metric, size=None, streams=None):
        """An anchor as run beside the AF_IB repeats (test + "-beside"), when the suite
        did; otherwise from its own section."""
        return self.get(system, test + "-beside", metric, size, streams) or self.get(system, test, metric, size,
                                                                                     streams)

    def paired_ratio(self, num, den):
        """num / den repeat by repeat (each a key of `values`): the median with min and
        max. A pair run back to back shares the host's speed of the moment, which the
        ratio of two medians does not."""
        a, b = self.by_repeat.get(num, {}), self.by_repeat.get(den, {})
        v = [a[r] / b[r] for r in a if r in b and b[r]]
        if not v:
            return None
        return statistics.median(v), min(v), max(v), len(v)

    def sizes(self, test):
        return sorted({k[3] for k in self.values if k[1] == test and k[3] is not None})

    def keys(self, test, index):
        return sorted({k[index] for k in self.values if k[1] == test and k[index] is not None})


def cell(f, digits=3):
    if not f:
        return "—"
    med, lo, hi, n = f
    if n == 1:
        return "%.*g" % (digits, med)
    return "%.*g (%.*g–%.*g)" % (digits, med, digits, lo, digits, hi)


def ratio(a, b):
    if not a or not b or not b[0]:
        return "—"
    return "%.2f" % (a[0] / b[0])


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def zcopy_table(fig):
    """SDP with sdp_zcopy 0 and 2, run side by side in each repeat, beside ib_write_bw
    and ib_read_bw of the same size run just before: iperf3 (non-blocking writes, which
    copy whatever the tunable) and stream_bench bulk (blocking send(), the zero-copy
    source's case)."""
    rows = []
    tools = (("bandwidth", "iperf3, non-blocking write()"), ("bulk", "stream_bench, blocking send()"),
             ("bulk-msgzc", "stream_bench, MSG_ZEROCOPY send()"), ("sendfile", "iperf3 -Z, sendfile()"))
    for size in sorted({k[3] for k in fig.values if k[0] == "sdp_zc" and k[1] in dict(tools)}):
        anchors = {v: fig.get(v, "zcopy-beside", "throughput", size, 1) for v in ("verbs_write", "verbs_read")}
        for test, how in tools:
            key = lambda s, metric="throughput": (s, test, metric, size, 1, None)
            f = {s: fig.get(s, test, "throughput", size, 1) for s in ("sdp_copy", "sdp_zc")}
            if not f["sdp_zc"]:
                continue
            cpu = {s: fig.get(s, test, "kernel_cpu_s_per_gb", size, 1) for s in ("sdp_copy", "sdp_zc")}
            rows.append([size_name(size), how, cell(f["sdp_copy"]), cell(f["sdp_zc"]),
                         cell(fig.paired_ratio(key("sdp_zc"), key("sdp_copy"))),
                         ratio(f["sdp_zc"], anchors["verbs_write"]), ratio(f["sdp_zc"], anchors["verbs_read"]),
                         cell(fig.get("sdp_zc", test, "zc_adverts", size, 1)),
                         "%s / %s" % (cell(cpu["sdp_copy"], 2), cell(cpu["sdp_zc"], 2)) if cpu["sdp_zc"] else "—",
                         cell(fig.paired_ratio(key("sdp_zc", "kernel_cpu_s_per_gb"),
                                               key("sdp_copy", "kernel_cpu_s_per_gb")))])
    if not rows:
        return []
    return zcopy_header(rows) + zcopy_auto_table(fig)


def zcopy_auto_table(fig):
    """Blocking send()s with the connection's own choice (sdp_zcopy 2, the default
    bounds: the floor 64 KiB, the ceiling 1 MiB), run in the same repeats beside the
    copied path and the source pinned to its floor."""
    rows = []
    for size in sorted({k[3] for k in fig.values if k[0] == "sdp_zc_auto" and k[1] == "bulk"}):
        key = lambda s: (s, "bulk", "throughput", size, 1, None)
        auto = fig.get("sdp_zc_auto", "bulk", "throughput", size, 1)
        rows.append([size_name(size), cell(fig.get("sdp_copy", "bulk", "throughput", size, 1)),
                     cell(fig.get("sdp_zc", "bulk", "throughput", size, 1)), cell(auto),
                     cell(fig.paired_ratio(key("sdp_zc_auto"), key("sdp_copy"))),
                     ratio(auto, fig.get("verbs_write", "zcopy-beside", "throughput", size, 1)),
                     cell(fig.get("sdp_zc", "bulk", "zc_adverts", size, 1)),
                     cell(fig.get("sdp_zc_auto", "bulk", "zc_adverts", size, 1))])
    if not rows:
        return []
    return ["### The connection's own choice (SDP_ZCOPY_THRESH -1, the default), stream_bench blocking send()", "",
            "sdp_zcopy 2 with the default bounds (sdp_zcopy_thresh 64 KiB, sdp_zcopy_thresh_max 1 MiB): "
            "each size class of 64 KiB to 1 MiB is advertised or copied as its calls have fared, the other "
            "mode tried once every 32 calls; a send() of 1 MiB or more is always advertised. Beside it in "
            "the same repeats: the copied path and the source with every send() advertised. Throughput in "
            "Gbit/s.", "",
            table(["size", "copied", "every send() advertised", "connection's choice",
                   "choice / copied (paired)", "choice / ib_write_bw", "adverts per run (every)",
                   "adverts per run (choice)"], rows), ""]


def zcopy_header(rows):
    return ["## SDP zero-copy source (sdp_zcopy 2) beside the copied path (0), ib_write_bw and ib_read_bw", "",
            "Explicit SDP, one stream, writes of the size; the two modes side by side in ABBA order over the "
            "repeats, ib_write_bw and ib_read_bw of the same size just before each pair. With 2 a blocking "
            "send() of 64 KiB or more is advertised and RDMA READ by the peer; iperf3 writes on non-blocking "
            "sockets, which copy in either mode (its zero-copy column shows the mode's other effect: the "
            "stream keeps a receive ring of its own instead of the shared receive queue). MSG_ZEROCOPY "
            "sends (stream_bench, a ring of 8 buffers, each reused once its notification came) and "
            "sendfile() (iperf3 -Z, 64 KiB pages a call, blocking or not) are advertised in either "
            "blocking mode and return before the READ. Adverts: SrcAvails "
            "host a sent in the run (zc_adverts_sent). Kernel CPU: the whole VM's (both ends and rxe, "
            "/proc/stat) per GB moved. Throughput in Gbit/s; paired ratios repeat by repeat "
            "(goals: ≥ 0.95 × ib_write_bw, kernel CPU ≤ 0.5 × copied).", "",
            table(["size", "program", "copied", "sdp_zcopy 2", "2 / copied (paired)", "2 / ib_write_bw",
                   "2 / ib_read_bw", "adverts per run", "kernel CPU s/GB copied / 2", "CPU 2 / copied (paired)"],
                  rows), ""]


def report(data, outdir):
    meta, fig = data["meta"], Figures(data["samples"])
    md = ["# Benchmark: InfiniSock beside raw verbs, SMC-R, rsocket and TCP", ""]
    md.append("One VM run: kernel %s, %s vCPUs (QEMU TCG), %d MiB, veth MTU %s, RoCE MTU %s; %s repeat(s) of %s s "
              "each; figures are medians with (min–max). Mode: %s. Duration %s s." % (
                  meta["kernel"], meta["cpus"], meta["mem_kib"] // 1024, meta["veth_mtu"], meta["rxe_active_mtu"],
                  meta["repeats"], meta["seconds_per_run"], "quick" if meta["quick"] else "full", meta["duration_s"]))
    md.append("Tools: " + ", ".join("%s (%s)" % kv for kv in sorted(meta["tools"].items())) + ".")
    if meta.get("kernel_build"):
        md.append("Kernel build: " + meta["kernel_build"])
    for n in meta.get("notes", []):
        md.append("Note: " + n)
    md.append("")

    # Bandwidth vs message size.
    sysbw = ["verbs_write", "verbs_read", "verbs_send", "sdp", "smc", "rsocket", "tcp"]
    rows = []
    for size in fig.sizes("bandwidth"):
        f = {s: fig.get(s, "bandwidth", "throughput", size, 1) for s in sysbw}
        rows.append([size_name(size)] + [cell(f[s]) for s in sysbw] +
                    [ratio(f["sdp"], f["verbs_write"]), ratio(f["sdp"], f["verbs_send"]), ratio(f["smc"], f["verbs_write"]),
                     ratio(f["sdp"], f["smc"]), ratio(f["sdp"], f["rsocket"]), ratio(f["sdp"], f["tcp"])])
    md += ["## Bandwidth, one stream (Gbit/s)", "",
           table(["size"] + [NAMES[s] for s in sysbw] +
                 ["SDP / ib_write_bw", "SDP / ib_send_bw", "SMC / ib_write_bw", "SDP / SMC", "SDP / rsocket", "SDP / TCP"],
                 rows), ""]

    # Parallel streams.
    streams = sorted({k[4] for k in fig.values if k[1] == "bandwidth" and k[4] and k[4] > 1})
    if streams:
        rows = []
        anchor = fig.get("verbs_write", "bandwidth", "throughput", 65536, 1)
        for n in [1] + streams:
            f = {s: fig.get(s, "bandwidth", "throughput", 65536, n) for s in ("sdp", "smc", "tcp")}
            rows.append([str(n)] + [cell(f[s]) for s in ("sdp", "smc", "tcp")] +
                        [ratio(f["sdp"], anchor), ratio(f["sdp"], f["tcp"])])
        md += ["## Bandwidth, parallel streams of 64 KiB writes (Gbit/s)", "",
               table(["streams", "SDP", "SMC-Rv2", "TCP", "SDP / ib_write_bw 64 KiB", "SDP / TCP"], rows), ""]

    # Latency.
    syslat = ["verbs_send", "verbs_write", "sdp", "smc", "tcp"]
    for metric in ("median", "p99", "p99.9"):
        rows = []
        for size in fig.sizes("latency"):
            f = {s: fig.get(s, "latency", metric, size) for s in syslat}
            rows.append([size_name(size)] + [cell(f[s]) for s in syslat] +
                        [ratio(f["sdp"], f["verbs_send"]), ratio(f["smc"], f["verbs_send"]), ratio(f["sdp"], f["smc"]),
                         ratio(f["sdp"], f["tcp"])])
        md += ["## Latency, %s, one way (half round trip, µs)" % metric, "",
               table(["size"] + [LAT_NAMES.get(s, NAMES[s]) for s in syslat] +
                     ["SDP / ib_send_lat", "SMC / ib_send_lat", "SDP / SMC", "SDP / TCP"], rows), ""]
    rows = []
    for size in fig.sizes("latency-polling"):
        f = {s: fig.get(s, "latency-polling", "median", size) for s in ("sdp", "smc", "tcp")}
        f.update({s: fig.get(s, "latency", "median", size) for s in ("verbs_send", "verbs_write")})
        rows.append([size_name(size)] + [cell(f[s]) for s in syslat] +
                    [ratio(f["sdp"], f["verbs_send"]), ratio(f["smc"], f["verbs_send"]), ratio(f["sdp"], f["smc"]),
                     ratio(f["sdp"], f["tcp"])])
    if rows:
        md += ["## Latency while polling, median, one way (µs)", "",
               "Both sockperf sides spin on non-blocking sockets instead of sleeping in recvfrom(), as "
               "ib_send_lat and ib_write_lat spin on their CQs (those columns repeat the table above).", "",
               table(["size"] + [LAT_NAMES.get(s, NAMES[s]) for s in syslat] +
                     ["SDP / ib_send_lat", "SMC / ib_send_lat", "SDP / SMC", "SDP / TCP"], rows), ""]
    rows = []
    for size in fig.sizes("latency-busypoll"):
        f = {s: fig.get(s, "latency-busypoll", "median", size) for s in ("sdp", "ibmsg")}
        send = fig.get("verbs_send", "latency", "median", size)
        rows.append([size_name(size), cell(send), cell(f["sdp"]), cell(f["ibmsg"]), ratio(f["sdp"], send),
                     ratio(f["ibmsg"], send)])
    if rows:
        md += ["## Latency with busy polling, median, one way (µs)", "",
               "Blocking calls with SO_BUSY_POLL (net.core.busy_read): a blocked reader spins watching its "
               "connection's completion events before it sleeps.", "",
               table(["size", "ib_send_lat", "SDP", "AF_IB SEQPACKET", "SDP / ib_send_lat",
                      "AF_IB SEQPACKET / ib_send_lat"], rows), ""]
    rows, modes = [], []
    for size in fig.sizes("rate"):
        lat = fig.get("ibmsg", "latency", "median", size)
        send_lat = fig.get_beside("verbs_send", "latency", "median", size)
        bw = fig.get("ibmsg", "bandwidth", "throughput", size, 1)
        send_bw = fig.get("verbs_send", "bandwidth", "throughput", size, 1)
        rows.append([size_name(size), cell(fig.get("ibmsg", "rate", "messages", size)), cell(bw), cell(send_bw),
                     ratio(bw, send_bw), cell(lat), cell(send_lat), ratio(send_lat, lat)])
    for size in fig.sizes("rate"):
        send_lat = fig.get_beside("verbs_send", "latency", "median", size)
        for test, how in (("latency", "blocking recv()"), ("latency-polling", "spinning on non-blocking recv()"),
                          ("latency-busypoll", "blocking recv() with SO_BUSY_POLL")):
            lat = fig.get("ibmsg", test, "median", size)
            if lat:
                paired = fig.paired_ratio(("verbs_send", "latency-beside", "median", size, None, None),
                                          ("ibmsg", test, "median", size, None, None))
                modes.append([size_name(size), how, cell(lat), cell(send_lat), ratio(send_lat, lat),
                              cell(paired, 2), cell(fig.get("ibmsg", test, "sleeps", size))])
    if rows:
        md += ["## AF_IB SOCK_SEQPACKET messages beside ib_send_bw and ib_send_lat", "",
               "One sendmsg() per message, blocking calls (stream_bench), INFINISOCK_MAX_MSG_SIZE = the message "
               "size. Ratios are speed ratios: higher is better, 1 is raw verbs.", "",
               table(["size", "messages/s", "Gbit/s", "ib_send_bw Gbit/s", "rate / ib_send_bw",
                      "latency median (µs)", "ib_send_lat median (µs)", "ib_send_lat / latency"], rows), ""]
    if modes:
        md += ["## AF_IB SOCK_SEQPACKET latency by how the reader waits, median, one way (µs)", "",
               "ib_send_lat spins on its CQ; speed ratios, 1 is raw verbs. The ib_send_lat column is the run made "
               "just before each AF_IB repeat (the suite's drift under TCG is larger than the differences here). "
               "The paired ratio is taken repeat by repeat, each AF_IB run against the anchor run just before it: "
               "when the host's speed swings between repeats, it is the one to read.", "",
               table(["size", "reader", "AF_IB SEQPACKET", "ib_send_lat", "ib_send_lat / AF_IB SEQPACKET",
                      "paired ratio, median (min–max)", "client sleeps per round trip"], modes),
               ""]
    rows = []
    for size in sorted({k[3] for k in fig.values if k[0].startswith("ibrdma_")}):
        for suffix, how in (("", "registered region, error queue polled"),
                            ("_sleep", "registered region, poll() for POLLERR"),
                            ("_pinned", "pinned iovec, error queue polled")):
            f = {s: fig.get(s + suffix, "bandwidth", "throughput", size, 1) for s in ("ibrdma_write", "ibrdma_read")}
            f.update({s: fig.get_beside(s, "bandwidth", "throughput", size, 1) for s in ("verbs_write", "verbs_read")})
            rows.append([size_name(size), how, cell(f["ibrdma_write"]),
                         cell(f["verbs_write"]), ratio(f["ibrdma_write"], f["verbs_write"]), cell(f["ibrdma_read"]),
                         cell(f["verbs_read"]), ratio(f["ibrdma_read"], f["verbs_read"])])
    if rows:
        md += ["## AF_IB one-sided RDMA beside ib_write_bw and ib_read_bw (Gbit/s)", "",
               "sendmsg() with INFINISOCK_CMSG_RDMA, 64 operations in flight, completions read from the error "
               "queue (stream_bench rdma). The local side is a registered region (INFINISOCK_RDMA_REGION: one "
               "request, one SGE, as perftest posts from its MR) or the iovec's pages, pinned by each operation; "
               "the program polls its error queue as perftest polls its CQ, or sleeps in poll() until POLLERR. "
               "ib_write_bw and ib_read_bw ran just before each AF_IB repeat of the same size.",
               "",
               table(["size", "local side, completions", "AF_IB WRITE", "ib_write_bw", "WRITE / ib_write_bw", "AF_IB READ",
                      "ib_read_bw", "READ / ib_read_bw"], rows), ""]
    imm = []
    for size in sorted({k[3] for k in fig.values if k[0] == "ibrdma_writeimm_pinned"}):
        f, anchor = fig.get("ibrdma_writeimm_pinned", "bandwidth", "throughput", size, 1), \
            fig.get_beside("verbs_write", "bandwidth", "throughput", size, 1)
        imm.append([size_name(size), cell(f), cell(anchor), ratio(f, anchor)])
    if imm:
        md += ["## AF_IB RDMA WRITE with immediate from pinned pages beside ib_write_bw (Gbit/s)", "",
               "Up to 64 in flight as the server's receive credits allow (each write takes one), completions polled, the server taking each immediate's message. Up to 16 pages "
               "a write is one request of one SGE per page; beyond (1 MiB), its page runs are registered "
               "through regions the queue pair keeps and reuses, each write posting a LOCAL_INV and a REG_MR "
               "before it, and rxe runs a LOCAL_INV only once every earlier request of the QP has completed. "
               "ib_write_bw ran just before each repeat of the same size.", "",
               table(["size", "AF_IB WRITE with immediate", "ib_write_bw", "ratio"], imm), ""]
    md += zcopy_table(fig)
    rs = [(size, fig.get("rsocket", "latency", "mean", size)) for size in fig.sizes("latency")]
    if any(f for _, f in rs):
        md += ["rsocket (rstream, blocking calls; it reports the mean, not percentiles), one way: " +
               ", ".join("%s %s µs (%s × ib_send_lat median)" % (
                   size_name(s), cell(f), ratio(f, fig.get("verbs_send", "latency", "median", s))) for s, f in rs if f)
               + ".", ""]

    # Connection setup.
    rows = []
    for s in ("sdp", "smc", "tcp"):
        rows.append([NAMES[s], cell(fig.get(s, "connrate", "connections")), cell(fig.get(s, "connrate", "first_byte_median"))])
    md += ["## Connection setup (connect, first byte there and back, close)", "",
           table(["system", "connections/s", "time to first byte, median (µs)"], rows), ""]

    # Transparent SDP.
    pairs = (("hybrid", "sdp_beside", "0.9"), ("hybrid_tcp", "tcp_beside", "0.8"))
    if any(fig.get(h, "connrate", "connections") for h, _, _ in pairs):
        rows = []
        for h, anchor, goal in pairs:
            c, ca = fig.get(h, "connrate", "connections"), fig.get(anchor, "connrate", "connections")
            b, ba = fig.get(h, "bandwidth", "throughput", 65536, 1), fig.get(anchor, "bandwidth", "throughput", 65536, 1)
            l, la = fig.get(h, "latency", "median", 64), fig.get(anchor, "latency", "median", 64)
            rows.append([NAMES[h], cell(c), ratio(c, ca) + " (goal ≥ %s)" % goal, cell(b),
                         ratio(b, ba) + (" (goal ≥ 0.95)" if h == "hybrid_tcp" else ""), cell(l),
                         ratio(la, l) + (" (goal ≥ 0.95)" if h == "hybrid_tcp" else "")])
        md += ["## Transparent SDP (unmodified programs, the hook and the sysctl, no preload)", "",
               "Each hybrid system ran beside its anchor in every repeat, in ABBA order over the "
               "repeats (the bed drifts within a run): over SDP beside explicit SDP (through the "
               "preload shim), fallen back beside plain TCP. Speed and "
               "latency ratios are the hybrid's over the anchor's (latency: anchor median / hybrid "
               "median, so higher is better).", "",
               table(["system", "connections/s", "× anchor", "64 KiB bulk, Gbit/s", "× anchor",
                      "64 B latency, median (µs)", "anchor / hybrid"], rows), ""]

    # Scale.
    rows = []
    # SDP twice: with receive buffers of its own per connection, and on the devices'
    # shared receive queues (sdp_srq).
    scale_systems = (("sdp", "SDP"), ("sdp_srq", "SDP-SRQ"), ("smc", "SMC"), ("tcp", "TCP"))
    keys = [k for k, _ in scale_systems]
    for n in fig.keys("scale", 5):
        f = {(s, m): fig.get(s, "scale", m, connections=n) for s in keys
             for m in ("throughput", "kernel_kib_per_idle_connection", "kernel_cpu_s_per_gb", "setup_seconds")}
        rows.append([str(n)] + [cell(f[(s, "throughput")]) for s in keys] +
                    [cell(f[(s, "kernel_kib_per_idle_connection")]) for s in keys] +
                    [cell(f[(s, "kernel_cpu_s_per_gb")]) for s in keys])
    md += ["## Scale: N concurrent connections", "",
           "Aggregate throughput (Gbit/s, 64 KiB writes on every connection), kernel memory per idle connection "
           "(KiB, both ends: client and server share the VM) and kernel CPU time per GB moved (s/GB, the whole "
           "guest's system+irq+softirq time). SDP: SDP streams with receive buffers and CQs of their own "
           "(net.infinisock.sdp_srq=0); SDP-SRQ: on their devices' shared receive queues (sdp_srq=1, the "
           "default, which the other sections use).", "",
           table(["N"] + ["%s %s" % (label, unit) for unit in ("Gbit/s", "KiB/conn", "s/GB")
                          for _, label in scale_systems], rows), ""]
    # Where the kernel figure per idle connection went.
    rows = []
    for n in fig.keys("scale", 5):
        rows.append([str(n)] + [cell(fig.get(s, "scale", m + "_kib_per_idle_connection", connections=n))
                                for s in keys for m in ("kernel", "slab", "vmalloc")])
    if rows:
        md += ["Kernel memory per idle connection (KiB, both ends) and two of its parts: slab objects and "
               "vmalloc (rdma_rxe allocates its queues there).", "",
               table(["N"] + ["%s %s" % (label, m) for _, label in scale_systems for m in ("kernel", "slab", "vmalloc")],
                     rows), ""]

    md += run_time(meta)

    if fig.errors:
        md += ["## Runs without a figure", ""]
        for e in fig.errors:
            params = ", ".join("%s=%s" % (k, v) for k, v in sorted(e.items()) if k not in ("system", "test", "error"))
            md.append("- %s %s (%s): %s" % (NAMES.get(e["system"], e["system"]), e["test"], params,
                                             " ".join(e["error"].split())[:200]))
        md.append("")

    plots = plot(fig, outdir)
    if plots:
        md += ["## Plots", ""] + ["![%s](%s)" % (p, p) for p in plots] + [""]
    with open(os.path.join(outdir, "bench.md"), "w") as f:
        f.write("\n".join(md))
    print("\n".join(md))


def run_time(meta):
    """The wall-clock seconds of each section of the run, by system, as Markdown lines;
    none for a run from before the suite timed its sections."""
    entries = meta.get("section_seconds") or []
    if not entries:
        return []
    seconds = defaultdict(float)
    sections, systems = [], []
    for e in entries:
        seconds[(e["section"], e["system"])] += e["seconds"]
        if e["section"] not in sections:
            sections.append(e["section"])
        if e["system"] not in systems:
            systems.append(e["system"])
    systems.sort(key=lambda s: list(RUN_TIME_NAMES).index(s) if s in RUN_TIME_NAMES else len(RUN_TIME_NAMES))

    def secs(v):
        return "" if v is None else "%.0f" % v

    rows = [[name] + [secs(seconds.get((name, s))) for s in systems] + [secs(sum(seconds.get((name, s), 0) for s in systems))]
            for name in sections]
    timed = sum(seconds.values())
    rows.append(["total"] + [secs(sum(seconds.get((n, s), 0) for n in sections)) for s in systems] + [secs(timed)])
    out = ["## Run time (wall-clock seconds of the suite's sections, all repeats)", "",
           table(["section"] + [RUN_TIME_NAMES.get(s, s) for s in systems] + ["total"], rows), ""]
    if meta.get("duration_s") is not None:
        out += ["The suite took %s s; %.0f s of it outside these sections (tool versions, device settings). "
                "Booting the VM and loading the module come on top." % (meta["duration_s"], max(0, meta["duration_s"] - timed)), ""]
    return out


def plot(fig, outdir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plots (tools/bootstrap.sh installs it)", file=sys.stderr)
        return []
    made = []

    def series(ax, systems, test, metric, names, **kw):
        for s in systems:
            pts = [(size, fig.get(s, test, metric, size, **kw)) for size in fig.sizes(test)]
            pts = [(x, f) for x, f in pts if f]
            if not pts:
                continue
            xs = [x for x, _ in pts]
            ax.errorbar(xs, [f[0] for _, f in pts], yerr=[[f[0] - f[1] for _, f in pts], [f[2] - f[0] for _, f in pts]],
                        marker="o", capsize=3, label=names.get(s, NAMES.get(s, s)))
        ax.set_xscale("log", base=2)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()

    fig_, ax = plt.subplots(figsize=(8, 5))
    series(ax, ["verbs_write", "verbs_read", "verbs_send", "sdp", "smc", "rsocket", "tcp"], "bandwidth", "throughput",
           {}, streams=1)
    ax.set_xlabel("message / write size (bytes)")
    ax.set_ylabel("Gbit/s")
    ax.set_title("Bandwidth vs size, one stream")
    fig_.savefig(os.path.join(outdir, "bandwidth.svg"))
    made.append("bandwidth.svg")

    fig_, ax = plt.subplots(figsize=(8, 5))
    series(ax, ["verbs_send", "verbs_write", "sdp", "smc", "tcp"], "latency", "median", LAT_NAMES)
    ax.set_yscale("log")
    ax.set_xlabel("message size (bytes)")
    ax.set_ylabel("one-way latency, median (µs)")
    ax.set_title("Latency vs size")
    fig_.savefig(os.path.join(outdir, "latency.svg"))
    made.append("latency.svg")

    ns = fig.keys("scale", 5)
    if ns:
        fig_, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
        for s in ("sdp", "sdp_srq", "smc", "tcp"):
            t = [(n, fig.get(s, "scale", "throughput", connections=n)) for n in ns]
            m = [(n, fig.get(s, "scale", "kernel_kib_per_idle_connection", connections=n)) for n in ns]
            if any(f for _, f in t):
                ax1.plot([n for n, f in t if f], [f[0] for _, f in t if f], marker="o", label=NAMES[s])
            if any(f for _, f in m):
                ax2.plot([n for n, f in m if f], [f[0] for _, f in m if f], marker="o", label=NAMES[s])
        for ax, label in ((ax1, "aggregate Gbit/s"), (ax2, "kernel KiB per idle connection")):
            ax.set_xscale("log", base=2)
            ax.set_xlabel("concurrent connections")
            ax.set_ylabel(label)
            ax.grid(True, alpha=0.3)
            ax.legend()
        fig_.suptitle("Scaling")
        fig_.savefig(os.path.join(outdir, "scaling.svg"))
        made.append("scaling.svg")
    return made


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    with open(sys.argv[1]) as f:
        report(json.load(f), sys.argv[2])
