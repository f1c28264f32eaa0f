#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The benchmark suite, guest side: runs inside the two-host VM (tools/vm/bench.sh)
and writes every sample to a JSON file; tools/bench/report.py turns it into tables and
plots on the host.

Systems, all on the same veth + rxe pair between netns a (client) and b (server):
  verbs       perftest ib_write_bw/ib_read_bw/ib_send_bw/ib_send_lat/ib_write_lat:
              the device's own limit, the anchor of every ratio
  sdp         our SDP (IPPROTO_SDP), driven by iperf3 and sockperf through
              sockproto_preload.so, and by stream_bench for what they do not measure
  smc         SMC-Rv2 (IPPROTO_SMC) the same way; a run that fell back to TCP is
              recorded as a fallback, never as an SMC figure
  rsocket     rdmacm-utils' rstream
  tcp         TCP over the same veth, with the same tools
  ibmsg       AF_IB SOCK_SEQPACKET message sockets, through stream_bench

    suite.py OUT.json [--quick] [--only verbs,sdp,smc,rsocket,tcp,ibmsg]

Every section's wall-clock time goes to the JSON too (meta.section_seconds), so that a
run shows where its time went.
"""

import contextlib
import json
import math
import os
import platform
import re
import select
import subprocess
import sys
import time

TOP = os.environ.get("INFINISOCK_TOP", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.path.join(TOP, "tools/bench/build")
PRELOAD = os.path.join(BUILD, "sockproto_preload.so")
STREAM_BENCH = os.path.join(BUILD, "stream_bench")
SERVER = os.environ.get("HOST_B4", "10.77.0.2")
PROTO = {"sdp": 258, "smc": 256, "tcp": 0}
KIB = 1024
MIB = KIB * KIB
# What rxe moves under TCG with large messages (about 0.16 Gbit/s) and a small
# message's one-way time: runs are sized from these to last about Suite.seconds.
RXE_BYTES_PER_S = 20e6
RXE_SMALL_ONE_WAY_S = 100e-6
# SO_BUSY_POLL of the busy-polling latency runs, µs: longer than a round trip under
# TCG, so that a reader spins through it.
BUSY_POLL_US = 1000
# How long a server may take to listen under TCG; a kind of server whose listener was
# not seen in that time (so the check cannot see it) gets a fixed wait from then on.
LISTEN_TIMEOUT_S = 5
UNSEEN_LISTENER_WAIT_S = 1.5


def finite(text):
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def log(*args):
    print("#", *args, flush=True)


def read_busy_poll():
    with open("/proc/sys/net/core/busy_read") as f:
        return int(f.read().strip() or 0)


class Suite:
    def __init__(self, quick, only):
        self.quick = quick
        self.only = only
        self.repeats = 1 if quick else 3
        self.seconds = 2
        self.samples = []
        self.notes = []
        self.port = 6000
        self.section_seconds = {}
        self.unseen_listeners = set()
        self.anchors = {}

    def next_port(self):
        self.port += 1
        return self.port

    # ---- running things in the two hosts ----

    def run(self, host, cmd, timeout=120, env=None):
        """Runs cmd in netns host; returns (rc, stdout, stderr)."""
        full = ["ip", "netns", "exec", host] + cmd
        e = dict(os.environ)
        if env:
            e.update(env)
        try:
            p = subprocess.run(full, capture_output=True, text=True, timeout=timeout, env=e)
            return p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as ex:
            return 124, ex.stdout or "", "timed out after %ss" % timeout

    def start(self, host, cmd, env=None):
        e = dict(os.environ)
        if env:
            e.update(env)
        return subprocess.Popen(["ip", "netns", "exec", host] + cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=e)

    @staticmethod
    def stop(proc):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def anchor_pid(self, host):
        """A process that only sits in netns host: the suite reads that namespace's
        /proc/net files through /proc/PID/net instead of starting `ip netns exec` for
        each reading (twice per run, a noticeable cost under TCG)."""
        if host not in self.anchors:
            proc = self.start(host, ["sleep", "infinity"])
            own = os.readlink("/proc/self/ns/net")
            deadline = time.monotonic() + LISTEN_TIMEOUT_S
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    if os.readlink("/proc/%d/ns/net" % proc.pid) != own:
                        break
                except OSError:
                    pass
                time.sleep(0.02)
            self.anchors[host] = proc
        return self.anchors[host].pid

    @staticmethod
    def listening(pid, port):
        """Whether the network namespace of process pid has a listener on port: TCP
        (perftest's and iperf3's own sockets, SMC's internal TCP socket) or SDP."""
        for table in ("tcp", "tcp6"):
            try:
                with open("/proc/%d/net/%s" % (pid, table)) as f:
                    for line in f:
                        # sl local_address(hex addr:port) rem_address st(0A: LISTEN) ...
                        fields = line.split()
                        if len(fields) > 3 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                            return True
            except (OSError, ValueError, IndexError):
                pass
        try:
            with open("/proc/%d/net/infinisock/sdp" % pid) as f:
                for line in f:
                    # local peer state ...; local is a.b.c.d:port or [v6]:port
                    fields = line.split()
                    if len(fields) > 2 and fields[2] == "listen" and fields[0].rsplit(":", 1)[-1] == str(port):
                        return True
        except OSError:
            pass
        return False

    def wait_listening(self, srv, port):
        deadline = time.monotonic() + LISTEN_TIMEOUT_S
        while time.monotonic() < deadline and srv.poll() is None:
            if self.listening(srv.pid, port):
                return True
            time.sleep(0.05)
        return False

    @staticmethod
    def wait_first_line(srv):
        """Whether srv printed a line within the time a server may take to listen."""
        fd = srv.stdout.fileno()
        deadline = time.monotonic() + LISTEN_TIMEOUT_S
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return False
            chunk = os.read(fd, 4096)
            if not chunk:  # it closed its output: it is ending, not slow
                with contextlib.suppress(subprocess.TimeoutExpired):
                    srv.wait(LISTEN_TIMEOUT_S)
                return False
            if b"\n" in chunk:
                return True

    def wait_ready(self, srv, port, kind, first_line=False):
        """Waits until the server srv is ready for its client: it listens on port or,
        with first_line, has printed a line (rstream prints its header once it listens).
        Polling instead of a fixed sleep: under TCG a server is ready in a fraction of
        the seconds a safe sleep takes."""
        if kind in self.unseen_listeners:
            time.sleep(UNSEEN_LISTENER_WAIT_S)
            return
        ready = self.wait_first_line(srv) if first_line else self.wait_listening(srv, port)
        if not ready and srv.poll() is None:
            log("%s: not seen listening on port %d within %d s; a fixed %.1f s wait for it from now on" % (
                kind, port, LISTEN_TIMEOUT_S, UNSEEN_LISTENER_WAIT_S))
            self.unseen_listeners.add(kind)

    @contextlib.contextmanager
    def section(self, system, name):
        """Adds the wall-clock time of what runs inside to the section's (the repeats of
        a section add up)."""
        t0 = time.monotonic()
        try:
            yield
        finally:
            key = (system, name)
            self.section_seconds[key] = self.section_seconds.get(key, 0) + time.monotonic() - t0

    def record(self, system, test, metric, unit, value, **params):
        self.samples.append(dict(system=system, test=test, metric=metric, unit=unit, value=value, **params))

    def error(self, system, test, what, **params):
        self.samples.append(dict(system=system, test=test, error=what[-400:], **params))
        log("%s %s %s failed: %s" % (system, test, params, what.strip()[-200:]))

    @staticmethod
    def preload_env(system):
        if system in ("sdp", "smc"):
            return {"LD_PRELOAD": PRELOAD, "SOCKPROTO": str(PROTO[system])}
        return {}

    # ---- proof of the path: rxe counters, TCP segments, SMC fallbacks ----

    @staticmethod
    def rxe_sent_bytes():
        total = 0
        for dev in ("rxea", "rxeb"):
            try:
                with open("/sys/class/infiniband/%s/ports/1/hw_counters/sent_bytes" % dev) as f:
                    total += int(f.read())
            except OSError:
                pass
        return total

    def tcp_out_segs(self, host):
        try:
            with open("/proc/%d/net/snmp" % self.anchor_pid(host)) as f:
                lines = [l.split() for l in f if l.startswith("Tcp:")]
        except OSError:
            return 0
        if len(lines) >= 2 and "OutSegs" in lines[0]:
            return int(lines[1][lines[0].index("OutSegs")])
        return 0

    def path_check(self, system, moved_bytes, rxe_before, segs_before):
        """Whether a socket run's payload crossed the RDMA devices (SDP, SMC) or the
        veth (TCP). Returns a note; None if the run cannot count as `system`."""
        rxe = self.rxe_sent_bytes() - rxe_before
        segs = self.tcp_out_segs("a") - segs_before
        if system == "tcp":
            return "tcp"
        if rxe >= moved_bytes * 0.9:
            return "rdma"
        log("%s: only %d bytes crossed rxe for %d moved (TCP segments %d): fallback" % (system, rxe, moved_bytes, segs))
        return None

    # ---- raw verbs ----

    def perftest(self, tool, size, iters, extra=()):
        def side(host, port):
            return [tool, "-d", "rxe" + host, "-F", "-s", str(size), "-n", str(iters), "-p", str(port)] + list(extra)

        # A failed run is tried again with a new server, and so is one whose figures
        # are not numbers: under TCG perftest's clock calibration sometimes fails and
        # its latency tools then print "inf" (its bandwidth tools, now and then, 0).
        for _ in range(3):
            port = self.next_port()
            srv = self.start("b", side("b", port))
            self.wait_ready(srv, port, "perftest")
            rc, out, err = self.run("a", side("a", port) + [SERVER], timeout=180)
            self.stop(srv)
            if rc != 0:
                continue
            for line in out.splitlines():
                f = line.split()
                if f and f[0] == str(size) and len(f) >= 4 and all(finite(x) for x in f[1:]) and float(f[3]) > 0:
                    return f, None
            err = "figures that are not numbers, or no bandwidth: " + out[-500:]
        return None, (err or out)

    def iterations(self, size):
        """Messages for a bandwidth run of about self.seconds (at least 20, which keeps
        1 MiB runs from taking half as long again)."""
        return max(20, min(20000, int(RXE_BYTES_PER_S * self.seconds) // max(size, 1)))

    def round_trips(self, size):
        """Round trips for a latency run: 1000, enough for a p99.9, where they fit in
        about self.seconds; fewer (never below 300) for large messages, whose 1000
        round trips would take three times as long (60 KiB: about 300)."""
        if self.quick:
            return 300
        round_trip_s = 2 * (RXE_SMALL_ONE_WAY_S + size / RXE_BYTES_PER_S)
        return max(300, min(1000, int(self.seconds / round_trip_s)))

    def verbs_bandwidth(self, sizes):
        for name in ("write", "read", "send"):
            for size in sizes:
                for r in range(self.repeats):
                    self.verbs_bandwidth_once(name, size, r)

    def verbs_bandwidth_once(self, name, size, r, test="bandwidth"):
        # MB/s (MiB/s in perftest) has two more significant digits than its Gbit/s.
        f, err = self.perftest("ib_%s_bw" % name, size, self.iterations(size))
        if f:
            self.record("verbs_" + name, test, "throughput", "Gbit/s", float(f[3]) * MIB * 8 / 1e9, size=size,
                        streams=1, repeat=r)
        else:
            self.error("verbs_" + name, test, err, size=size)

    def verbs_latency(self, sizes):
        for name in ("send", "write"):
            for size in sizes:
                for r in range(self.repeats):
                    self.verbs_latency_once(name, size, r)

    def verbs_latency_once(self, name, size, r, test="latency"):
        f, err = self.perftest("ib_%s_lat" % name, size, self.round_trips(size))
        # bytes iterations t_min t_max t_typical t_avg t_stdev p99 p99.9
        if f and len(f) >= 9:
            for metric, col in (("median", 4), ("p99", 7), ("p99.9", 8)):
                self.record("verbs_" + name, test, metric, "us", float(f[col]), size=size, repeat=r)
        else:
            self.error("verbs_" + name, test, err or "no output", size=size)

    # ---- socket systems through iperf3 and sockperf ----

    def iperf3(self, system, size, streams, r):
        port = self.next_port()
        env = self.preload_env(system)
        srv = self.start("b", ["iperf3", "-s", "-1", "-B", SERVER, "-p", str(port)], env=env)
        self.wait_ready(srv, port, "iperf3 " + system)
        rxe0, segs0 = self.rxe_sent_bytes(), self.tcp_out_segs("a")
        rc, out, err = self.run("a", ["iperf3", "-c", SERVER, "-p", str(port), "-t", str(self.seconds), "-l",
                                      str(size), "-P", str(streams), "-J"], timeout=60 + 10 * self.seconds, env=env)
        self.stop(srv)
        try:
            j = json.loads(out)
            recv = j["end"]["sum_received"]
            bps, moved = recv["bits_per_second"], recv["bytes"]
            cpu = j["end"].get("cpu_utilization_percent", {})
        except (ValueError, KeyError):
            return self.error(system, "bandwidth", err or out, size=size, streams=streams, tool="iperf3")
        path = self.path_check(system, moved, rxe0, segs0)
        if path is None:
            return self.error(system, "bandwidth", "fell back to TCP", size=size, streams=streams, tool="iperf3")
        self.record(system, "bandwidth", "throughput", "Gbit/s", bps / 1e9, size=size, streams=streams, repeat=r,
                    tool="iperf3", path=path, host_cpu_percent=cpu.get("host_total"))

    @contextlib.contextmanager
    def busy_read(self, usec):
        """net.core.busy_read (a global sysctl) for what runs inside: the SO_BUSY_POLL
        every new socket starts with."""
        path = "/proc/sys/net/core/busy_read"
        with open(path) as f:
            old = f.read().strip()
        with open(path, "w") as f:
            f.write(str(usec))
        try:
            yield
        finally:
            with open(path, "w") as f:
                f.write(old)

    def sockperf(self, system, size, r, polling=False, busy_poll=False):
        """Ping-pong latency. Both sides block in recvfrom(), or with `polling` spin on
        non-blocking sockets, as perftest's ib_send_lat spins on its CQ, or with
        `busy_poll` block after busy-polling (SO_BUSY_POLL via net.core.busy_read)."""
        if busy_poll:
            with self.busy_read(BUSY_POLL_US):
                return self.sockperf(system, size, r, polling)
        port = self.next_port()
        env = self.preload_env(system)
        mode = ["--nonblocked"] if polling else []
        test = "latency-polling" if polling else "latency-busypoll" if read_busy_poll() else "latency"
        srv = self.start("b", ["sockperf", "sr", "--tcp", "-i", SERVER, "-p", str(port)] + mode, env=env)
        self.wait_ready(srv, port, "sockperf " + system)
        rxe0, segs0 = self.rxe_sent_bytes(), self.tcp_out_segs("a")
        rc, out, err = self.run("a", ["sockperf", "pp", "--tcp", "-i", SERVER, "-p", str(port), "-m", str(size), "-t",
                                      str(self.seconds)] + mode, timeout=60, env=env)
        self.stop(srv)
        text = out + err
        pct = dict(re.findall(r"percentile\s+([\d.]+)\s*=\s*([\d.]+)", text))
        m = re.search(r"SentMessages=(\d+)", text)
        if not pct or "50.000" not in pct:
            return self.error(system, test, text, size=size, tool="sockperf")
        moved = int(m.group(1)) * size if m else 0
        path = self.path_check(system, moved, rxe0, segs0)
        if path is None:
            return self.error(system, test, "fell back to TCP", size=size, tool="sockperf")
        for metric, key in (("median", "50.000"), ("p99", "99.000"), ("p99.9", "99.900")):
            if key in pct:
                self.record(system, test, metric, "us", float(pct[key]), size=size, repeat=r, tool="sockperf",
                            path=path)

    # ---- AF_IB message sockets, through stream_bench ----

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
        self.stop(srv)

    # ---- stream_bench: setup rate and scale ----

    def stream_bench_server(self, system):
        # stream_bench names the protocols as the suite names the systems.
        port = self.next_port()
        srv = self.start("b", [STREAM_BENCH, "server", system, str(port)])
        self.wait_ready(srv, port, "stream_bench " + system)
        return srv, system, port

    @staticmethod
    def kv(out):
        return dict(re.findall(r"(\w+)=(-?[\w.]+)", out))

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
        else:
            return self.error(system, "scale-idle", err or out, connections=n)
        if rc != 0 or "gbit_per_s" not in kv:
            return self.error(system, "scale-bulk", err or out, connections=n)
        if self.path_check(system, int(kv["bytes"]), rxe0, segs0) is None:
            return self.error(system, "scale-bulk", "fell back to TCP", connections=n)
        self.record(system, "scale", "throughput", "Gbit/s", float(kv["gbit_per_s"]), connections=n, repeat=r)
        self.record(system, "scale", "kernel_cpu_s_per_gb", "s/GB", float(kv["kernel_cpu_s_per_gb"]), connections=n,
                    repeat=r)

    def rstream(self, size, count, iterations):
        """One rstream run (blocking calls); returns its result row or an error text.
        Each iteration sends `count` transfers of `size` one way, then back."""
        port = self.next_port()
        args = ["-p", str(port), "-S", str(size), "-C", str(count), "-I", str(iterations), "-T", "b"]
        # Line-buffered, so that its header, printed once it listens, says it is ready
        # (rsocket listeners show in no /proc table).
        srv = self.start("b", ["stdbuf", "-oL", "rstream", "-b", SERVER] + args)
        self.wait_ready(srv, port, "rstream", first_line=True)
        rc, out, err = self.run("a", ["rstream", "-s", SERVER] + args, timeout=180)
        self.stop(srv)
        for line in out.splitlines():
            f = line.split()
            # name bytes xfers iters total time Gb/sec usec/xfer
            if len(f) == 8 and f[0] == "custom":
                return f, None
        return None, (err or out) or "rstream printed nothing (rc %d)" % rc

    def rsocket_bandwidth(self, size, r):
        count = max(10, min(5000, self.iterations(size) // 2))
        f, err = self.rstream(size, count, 1)
        if not f:
            return self.error("rsocket", "bandwidth", err, size=size)
        # Gb/sec counts both directions, which run one after the other: it is the
        # rate of one stream.
        self.record("rsocket", "bandwidth", "throughput", "Gbit/s", float(f[6]), size=size, streams=1, repeat=r,
                    tool="rstream")

    def rsocket_latency(self, size, r):
        f, err = self.rstream(size, 1, self.round_trips(size))
        if not f:
            return self.error("rsocket", "latency", err, size=size)
        # usec/xfer: the mean one-way time of a ping-pong transfer.
        self.record("rsocket", "latency", "mean", "us", float(f[7]), size=size, repeat=r, tool="rstream")

    # ---- SMC-R set-up ----

    def smc_setup(self):
        p = subprocess.run([sys.executable, os.path.join(TOP, "tools/bench/smc_setup.py")], capture_output=True,
                           text=True)
        log(p.stdout.strip() + p.stderr.strip())
        if p.returncode != 0:
            self.notes.append("SMC-R set-up failed, so SMC has no figures: " + (p.stderr.strip() or p.stdout.strip()))
            return False
        return True

    # ---- the whole run ----

    def main(self, out_path):
        t0 = time.time()
        try:
            self.run_sections()
        finally:
            for proc in self.anchors.values():
                self.stop(proc)
        meta = dict(
            kernel=platform.release(),
            kernel_build=open("/proc/version").read().strip(),
            quick=self.quick,
            repeats=self.repeats,
            seconds_per_run=self.seconds,
            cpus=os.cpu_count(),
            mem_kib=int(open("/proc/meminfo").readline().split()[1]),
            veth_mtu=self.veth_mtu(),
            rxe_active_mtu=self.rxe_mtu(),
            tools=self.tool_versions(),
            duration_s=round(time.time() - t0),
            section_seconds=[dict(system=system, section=name, seconds=round(seconds, 1))
                             for (system, name), seconds in self.section_seconds.items()],
            notes=self.notes,
        )
        with open(out_path, "w") as f:
            json.dump(dict(meta=meta, samples=self.samples), f, indent=1)
        for (system, name), seconds in self.section_seconds.items():
            log("run time: %s %s %.0f s" % (system, name, seconds))
        log("suite done in %ds, %d samples" % (meta["duration_s"], len(self.samples)))
        return 0

    def run_sections(self):
        q = self.quick
        bw_sizes = [64, 64 * KIB] if q else [64, KIB, 16 * KIB, 64 * KIB, KIB * KIB]
        # sockperf's largest message is 65506 bytes: 60 KiB stands for "64 KiB".
        lat_sizes = [64] if q else [64, KIB, 16 * KIB, 60 * KIB]
        streams = [1, 4] if q else [1, 4, 16]
        scale_n = [1, 16] if q else [1, 16, 256, 1024]
        wanted = (lambda s: s in self.only) if self.only else (lambda s: True)
        smc = False
        if wanted("smc"):
            with self.section("smc", "set-up"):
                smc = self.smc_setup()
        systems = [s for s in ("sdp", "tcp") if wanted(s)] + (["smc"] if smc else [])

        if wanted("verbs"):
            log("raw verbs: bandwidth")
            with self.section("verbs", "bandwidth"):
                self.verbs_bandwidth(bw_sizes)
            log("raw verbs: latency")
            with self.section("verbs", "latency"):
                self.verbs_latency(lat_sizes)
        for system in systems:
            log("%s: bandwidth, latency, connection setup" % system)
            for r in range(self.repeats):
                with self.section(system, "bandwidth"):
                    for size in bw_sizes:
                        self.iperf3(system, size, 1, r)
                    for n in streams[1:]:
                        self.iperf3(system, 64 * KIB, n, r)
                with self.section(system, "latency"):
                    for size in lat_sizes:
                        self.sockperf(system, size, r)
                    self.sockperf(system, 64, r, polling=True)
                    if system == "sdp":
                        self.sockperf(system, 64, r, busy_poll=True)
                with self.section(system, "connection setup"):
                    self.connrate(system, r)
        if wanted("ibmsg"):
            log("AF_IB message sockets")
            # Their ratios are held against a goal, and the pair's speed swings by a
            # fifth between runs: more repeats, each with its anchor beside it.
            for r in range(self.repeats if q else max(self.repeats, 5)):
                with self.section("ibmsg", "latency and rate"):
                    # The anchor again, just before (see ib_rdma).
                    self.verbs_latency_once("send", 64, r, test="latency-beside")
                    self.ibmsg(64, r)
                    self.ibmsg(64, r, polling=True)
                    self.ibmsg(64, r, busy_poll=True)
                with self.section("ibmsg", "rdma"):
                    for size in ([64 * KIB] if q else [64 * KIB, KIB * KIB]):
                        self.ib_rdma(size, r)
        if wanted("rsocket"):
            log("rsocket")
            for r in range(self.repeats):
                with self.section("rsocket", "bandwidth"):
                    for size in bw_sizes:
                        self.rsocket_bandwidth(size, r)
                with self.section("rsocket", "latency"):
                    for size in lat_sizes:
                        self.rsocket_latency(size, r)
        for system in systems:
            for n in scale_n:
                log("%s: %d connections" % (system, n))
                with self.section(system, "scale %d" % n):
                    for r in range(self.repeats):
                        self.scale(system, n, r)

    def veth_mtu(self):
        rc, out, _ = self.run("a", ["cat", "/sys/class/net/va/mtu"])
        return int(out) if out.strip().isdigit() else None

    @staticmethod
    def rxe_mtu():
        """The RoCE MTU of rxea, from the module's device list."""
        try:
            with open("/proc/net/infinisock/devices") as f:
                for line in f:
                    p = line.split()
                    # device port state active_mtu link_layer
                    if len(p) >= 4 and p[0] == "rxea":
                        return p[3]
        except OSError:
            pass
        return None

    @staticmethod
    def tool_versions():
        v = {}
        for name, cmd in (("iperf3", ["iperf3", "--version"]), ("sockperf", ["sockperf", "--version"]),
                          ("perftest", ["ib_write_bw", "--version"])):
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
                v[name] = (p.stdout + p.stderr).strip().splitlines()[0][:80]
            except (OSError, IndexError, subprocess.TimeoutExpired):
                v[name] = None
        return v


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    args = sys.argv[2:]
    only = args[args.index("--only") + 1].split(",") if "--only" in args[:-1] else None
    sys.exit(Suite("--quick" in args, only).main(sys.argv[1]))
