# SPDX-License-Identifier: GPL-2.0
"""Our own stream_bench (tools/bench/stream_bench.c), for what the standard tools do not
measure: AF_IB message sockets and one-sided RDMA, connection setup rate, and many
connections (memory per idle connection, aggregate throughput)."""

import re

from common import BUSY_POLL_US, SERVER, STREAM_BENCH, base_system, read_busy_poll


class StreamBench:
    """Mixed into suite.Suite, whose run/start/stop/record/error/wait_ready it uses."""

    def ibmsg(self, size, r, busy_poll=False, polling=False):
        """AF_IB SOCK_SEQPACKET: ping-pong latency and the one-way message rate of
        `size`-byte messages, with INFINISOCK_MAX_MSG_SIZE = size (deep rings).
        `polling`: both ends spin on non-blocking reads (latency only); `busy_poll`:
        blocking reads after SO_BUSY_POLL spinning (latency only)."""
        if busy_poll:
            with self.busy_read(BUSY_POLL_US):
                return self.ibmsg(size, r)
        env = {"STREAM_BENCH_MAX_MSG": str(size)}
        test = "latency-polling" if polling else "latency-busypoll" if read_busy_poll() else "latency"
        port = self.next_port()
        srv = self.start("b", [STREAM_BENCH, "server", "ibmsg", str(port)], env=env)
        self.wait_ready(srv, port, "stream_bench ibmsg")
        rc, out, err = self.run("a", [STREAM_BENCH, "pingpong", "ibmsg", SERVER, str(port),
                                      str(self.round_trips(size)), str(size)] + (["poll"] if polling else []),
                                env=env, timeout=120)
        kv = self.kv(out)
        if rc == 0 and "half_rtt_median_us" in kv:
            for metric, key in (("median", "half_rtt_median_us"), ("p99", "half_rtt_p99_us"),
                                ("p99.9", "half_rtt_p999_us")):
                self.record("ibmsg", test, metric, "us", float(kv[key]), size=size, repeat=r, tool="stream_bench")
            # Voluntary context switches of the client per round trip: its sleeps.
            self.record("ibmsg", test, "sleeps", "1/round trip", float(kv.get("sleeps_per_round_trip", 0)), size=size,
                        repeat=r, tool="stream_bench")
        else:
            self.error("ibmsg", test, err or out, size=size)
        if not busy_poll and test == "latency":
            rc, out, err = self.run("a", [STREAM_BENCH, "bulk", "ibmsg", SERVER, str(port), str(self.seconds),
                                          str(size)], env=env, timeout=120)
            kv = self.kv(out)
            if rc == 0 and "gbit_per_s" in kv:
                self.record("ibmsg", "bandwidth", "throughput", "Gbit/s", float(kv["gbit_per_s"]), size=size,
                            streams=1, repeat=r, tool="stream_bench")
                self.record("ibmsg", "rate", "messages", "1/s", int(kv["bytes"]) / size / float(kv["seconds"]),
                            size=size, repeat=r, tool="stream_bench")
            else:
                self.error("ibmsg", "bandwidth", err or out, size=size)
        self.stop(srv)

    # stream_bench rdma variants: (local side, how completions are awaited, system
    # suffix). The first is perftest's way: a registered buffer, a polled CQ.
    RDMA_VARIANTS = (("region", "spin", ""), ("region", "poll", "_sleep"), ("pinned", "spin", "_pinned"))

    def ib_rdma(self, size, r):
        """AF_IB one-sided RDMA WRITE and READ bandwidth (stream_bench rdma), in the
        RDMA_VARIANTS ways (systems ibrdma_write, ibrdma_write_sleep, ...)."""
        # The anchors again, just before: under TCG the pair's speed drifts over a
        # run by more than the differences measured here.
        for op in ("write", "read"):
            self.verbs_bandwidth_once(op, size, r, test="bandwidth-beside")
        port = self.next_port()
        srv = self.start("b", [STREAM_BENCH, "server", "ibmsg", str(port)])
        self.wait_ready(srv, port, "stream_bench ibmsg")
        for local, wait, suffix in self.RDMA_VARIANTS:
            for op in ("write", "read"):
                system = "ibrdma_" + op + suffix
                rc, out, err = self.run("a", [STREAM_BENCH, "rdma", SERVER, str(port), str(self.seconds), str(size),
                                              op, local] + (["spin"] if wait == "spin" else []), timeout=120)
                kv = self.kv(out)
                if rc == 0 and "gbit_per_s" in kv:
                    self.record(system, "bandwidth", "throughput", "Gbit/s", float(kv["gbit_per_s"]), size=size,
                                streams=1, repeat=r, tool="stream_bench")
                else:
                    self.error(system, "bandwidth", err or out, size=size)
        # Writes with immediate from pinned pages: past one request's SGEs (1 MiB) their
        # page runs go through the queue pair's registration regions, reused from one
        # write to the next behind a LOCAL_INV each.
        rc, out, err = self.run("a", [STREAM_BENCH, "rdma", SERVER, str(port), str(self.seconds), str(size),
                                      "writeimm", "pinned", "spin"], timeout=120)
        kv = self.kv(out)
        if rc == 0 and "gbit_per_s" in kv:
            self.record("ibrdma_writeimm_pinned", "bandwidth", "throughput", "Gbit/s", float(kv["gbit_per_s"]),
                        size=size, streams=1, repeat=r, tool="stream_bench")
        else:
            self.error("ibrdma_writeimm_pinned", "bandwidth", err or out, size=size)
        self.stop(srv)

    # ---- stream_bench: setup rate and scale ----

    def stream_bench_server(self, system):
        # stream_bench names the protocols as the suite names the (base) systems.
        port = self.next_port()
        proto = base_system(system)
        srv = self.start("b", [STREAM_BENCH, "server", proto, str(port)])
        self.wait_ready(srv, port, "stream_bench " + system)
        return srv, proto, port

    @staticmethod
    def kv(out):
        return dict(re.findall(r"(\w+)=(-?[\w.]+)", out))

    def bulk(self, system, size, r, msgzc=False):
        """One stream of blocking `size`-byte send()s for self.seconds: throughput, and
        the kernel CPU time of the whole VM (both ends and rxe) per GB moved. With
        `msgzc` (test bulk-msgzc) the sends carry MSG_ZEROCOPY, from a ring of
        buffers each reused once its notification came, and the share of
        notifications marked copied is recorded too."""
        test = "bulk-msgzc" if msgzc else "bulk"
        srv, proto, port = self.stream_bench_server(system)
        rxe0, segs0 = self.rxe_sent_bytes(), self.tcp_out_segs("a")
        argv = [STREAM_BENCH, "bulk", proto, SERVER, str(port), str(self.seconds), str(size)]
        rc, out, err = self.run("a", argv + (["1", "msgzc"] if msgzc else []), timeout=120)
        self.stop(srv)
        kv = self.kv(out)
        if rc != 0 or "gbit_per_s" not in kv:
            return self.error(system, test, err or out, size=size)
        if self.path_check(system, int(kv["bytes"]), rxe0, segs0) is None:
            return self.error(system, test, "fell back to TCP", size=size)
        self.record(system, test, "throughput", "Gbit/s", float(kv["gbit_per_s"]), size=size, streams=1, repeat=r,
                    tool="stream_bench")
        self.record(system, test, "kernel_cpu_s_per_gb", "s/GB", float(kv["kernel_cpu_s_per_gb"]), size=size,
                    streams=1, repeat=r, tool="stream_bench")
        if msgzc and int(kv.get("notified", 0)) > 0:
            self.record(system, test, "copied_share", "ratio", int(kv["copied"]) / int(kv["notified"]), size=size,
                        streams=1, repeat=r, tool="stream_bench")

    def connrate(self, system, r):
        srv, proto, port = self.stream_bench_server(system)
        rc, out, err = self.run("a", [STREAM_BENCH, "connrate", proto, SERVER, str(port), str(self.seconds)], timeout=120)
        self.stop(srv)
        kv = self.kv(out)
        if rc != 0 or "conn_per_s" not in kv:
            return self.error(system, "connrate", err or out)
        self.record(system, "connrate", "connections", "1/s", float(kv["conn_per_s"]), repeat=r)
        self.record(system, "connrate", "first_byte_median", "us", float(kv["first_byte_median_us"]), repeat=r)

    def scale(self, system, n, r):
        """n connections: kernel memory while they are idle, then aggregate throughput
        and kernel CPU time per GB with 64 KiB writes on all of them (one stream_bench
        run, one set of connections)."""
        srv, proto, port = self.stream_bench_server(system)
        rxe0, segs0 = self.rxe_sent_bytes(), self.tcp_out_segs("a")
        rc, out, err = self.run("a", [STREAM_BENCH, "scale", proto, SERVER, str(port), str(n), str(self.seconds),
                                      "65536"], timeout=600)
        self.stop(srv)
        kv = self.kv(out)
        if "kib_per_connection" in kv:
            self.record(system, "scale", "kernel_kib_per_idle_connection", "KiB", float(kv["kib_per_connection"]),
                        connections=n, repeat=r)
            self.record(system, "scale", "setup_seconds", "s", float(kv["setup_s"]), connections=n, repeat=r)
            # Where the kernel figure went: slab objects and vmalloc (rxe's queues).
            for part in ("slab", "vmalloc"):
                if part + "_kib_per_connection" in kv:
                    self.record(system, "scale", part + "_kib_per_idle_connection", "KiB",
                                float(kv[part + "_kib_per_connection"]), connections=n, repeat=r)
        else:
            return self.error(system, "scale-idle", err or out, connections=n)
        if rc != 0 or "gbit_per_s" not in kv:
            return self.error(system, "scale-bulk", err or out, connections=n)
        if self.path_check(system, int(kv["bytes"]), rxe0, segs0) is None:
            return self.error(system, "scale-bulk", "fell back to TCP", connections=n)
        self.record(system, "scale", "throughput", "Gbit/s", float(kv["gbit_per_s"]), connections=n, repeat=r)
        self.record(system, "scale", "kernel_cpu_s_per_gb", "s/GB", float(kv["kernel_cpu_s_per_gb"]), connections=n,
                    repeat=r)
