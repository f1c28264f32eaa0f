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

    suite.py OUT.json [--quick] [--only verbs,sdp,smc,rsocket,tcp]
"""

import json
import os
import platform
import re
import shlex
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


def log(*args):
    print("#", *args, flush=True)


class Suite:
    def __init__(self, quick, only):
        self.quick = quick
        self.only = only
        self.repeats = 1 if quick else 3
        self.seconds = 2
        self.samples = []
        self.notes = []
        self.port = 6000

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
        rc, out, _ = self.run(host, ["cat", "/proc/net/snmp"])
        lines = [l.split() for l in out.splitlines() if l.startswith("Tcp:")]
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
        port = str(self.next_port())

        def side(host):
            return [tool, "-d", "rxe" + host, "-F", "-s", str(size), "-n", str(iters), "-p", port] + list(extra)

        srv = self.start("b", side("b"))
        time.sleep(1.5)
        rc, out, err = self.run("a", side("a") + [SERVER], timeout=180)
        if rc != 0:
            time.sleep(2)  # the server was slow to start under TCG: once more
            self.stop(srv)
            srv = self.start("b", side("b"))
            time.sleep(3)
            rc, out, err = self.run("a", side("a") + [SERVER], timeout=180)
        self.stop(srv)
        for line in out.splitlines():
            f = line.split()
            if f and f[0] == str(size) and len(f) >= 4:
                return f, None
        return None, (err or out)

    def iterations(self, size, seconds_at_30mbs):
        target = int(30e6 * seconds_at_30mbs)
        return max(50, min(20000, target // max(size, 1)))

    def verbs_bandwidth(self, sizes):
        for tool, name in (("ib_write_bw", "write"), ("ib_read_bw", "read"), ("ib_send_bw", "send")):
            for size in sizes:
                for r in range(self.repeats):
                    f, err = self.perftest(tool, size, self.iterations(size, self.seconds), ["--report_gbits"])
                    if f:
                        self.record("verbs_" + name, "bandwidth", "throughput", "Gbit/s", float(f[3]), size=size,
                                    streams=1, repeat=r)
                    else:
                        self.error("verbs_" + name, "bandwidth", err, size=size)

    def verbs_latency(self, sizes):
        iters = 300 if self.quick else 1000
        for tool, name in (("ib_send_lat", "send"), ("ib_write_lat", "write")):
            for size in sizes:
                for r in range(self.repeats):
                    f, err = self.perftest(tool, size, iters)
                    # bytes iterations t_min t_max t_typical t_avg t_stdev p99 p99.9
                    if f and len(f) >= 9:
                        for metric, col in (("median", 4), ("p99", 7), ("p99.9", 8)):
                            self.record("verbs_" + name, "latency", metric, "us", float(f[col]), size=size, repeat=r)
                    else:
                        self.error("verbs_" + name, "latency", err or "no output", size=size)

    # ---- socket systems through iperf3 and sockperf ----

    def iperf3(self, system, size, streams, r):
        port = self.next_port()
        env = self.preload_env(system)
        srv = self.start("b", ["iperf3", "-s", "-1", "-B", SERVER, "-p", str(port)], env=env)
        time.sleep(1)
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

    def sockperf(self, system, size, r):
        port = self.next_port()
        env = self.preload_env(system)
        srv = self.start("b", ["sockperf", "sr", "--tcp", "-i", SERVER, "-p", str(port)], env=env)
        time.sleep(1.5)
        rxe0, segs0 = self.rxe_sent_bytes(), self.tcp_out_segs("a")
        rc, out, err = self.run("a", ["sockperf", "pp", "--tcp", "-i", SERVER, "-p", str(port), "-m", str(size), "-t",
                                      str(self.seconds)], timeout=60, env=env)
        self.stop(srv)
        text = out + err
        pct = dict(re.findall(r"percentile\s+([\d.]+)\s*=\s*([\d.]+)", text))
        m = re.search(r"SentMessages=(\d+)", text)
        if not pct or "50.000" not in pct:
            return self.error(system, "latency", text, size=size, tool="sockperf")
        moved = int(m.group(1)) * size if m else 0
        path = self.path_check(system, moved, rxe0, segs0)
        if path is None:
            return self.error(system, "latency", "fell back to TCP", size=size, tool="sockperf")
        for metric, key in (("median", "50.000"), ("p99", "99.000"), ("p99.9", "99.900")):
            if key in pct:
                self.record(system, "latency", metric, "us", float(pct[key]), size=size, repeat=r, tool="sockperf",
                            path=path)

    # ---- stream_bench: setup rate and scale ----

    def stream_bench_server(self, system):
        # stream_bench names the protocols as the suite names the systems.
        port = self.next_port()
        return self.start("b", [STREAM_BENCH, "server", system, str(port)]), system, port

    @staticmethod
    def kv(out):
        return dict(re.findall(r"(\w+)=(-?[\w.]+)", out))

    def connrate(self, system, r):
        srv, proto, port = self.stream_bench_server(system)
        time.sleep(1)
        rc, out, err = self.run("a", [STREAM_BENCH, "connrate", proto, SERVER, str(port), str(self.seconds)], timeout=120)
        self.stop(srv)
        kv = self.kv(out)
        if rc != 0 or "conn_per_s" not in kv:
            return self.error(system, "connrate", err or out)
        self.record(system, "connrate", "connections", "1/s", float(kv["conn_per_s"]), repeat=r)
        self.record(system, "connrate", "first_byte_median", "us", float(kv["first_byte_median_us"]), repeat=r)

    def scale(self, system, n, r):
        srv, proto, port = self.stream_bench_server(system)
        time.sleep(1)
        rc, out, err = self.run("a", [STREAM_BENCH, "idle", proto, SERVER, str(port), str(n)], timeout=600)
        kv = self.kv(out)
        if rc == 0 and "kib_per_connection" in kv:
            self.record(system, "scale", "kernel_kib_per_idle_connection", "KiB", float(kv["kib_per_connection"]),
                        connections=n, repeat=r)
            self.record(system, "scale", "setup_seconds", "s", float(kv["setup_s"]), connections=n, repeat=r)
        else:
            self.error(system, "scale-idle", err or out, connections=n)
        rxe0, segs0 = self.rxe_sent_bytes(), self.tcp_out_segs("a")
        rc, out, err = self.run("a", [STREAM_BENCH, "bulk", proto, SERVER, str(port), str(self.seconds), "65536",
                                      str(n)], timeout=600)
        self.stop(srv)
        kv = self.kv(out)
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
        srv = self.start("b", ["rstream", "-b", SERVER] + args)
        time.sleep(1.5)
        rc, out, err = self.run("a", ["rstream", "-s", SERVER] + args, timeout=180)
        self.stop(srv)
        for line in out.splitlines():
            f = line.split()
            # name bytes xfers iters total time Gb/sec usec/xfer
            if len(f) == 8 and f[0] == "custom":
                return f, None
        return None, (err or out) or "rstream printed nothing (rc %d)" % rc

    def rsocket_bandwidth(self, size, r):
        count = max(10, min(5000, self.iterations(size, self.seconds) // 2))
        f, err = self.rstream(size, count, 1)
        if not f:
            return self.error("rsocket", "bandwidth", err, size=size)
        # Gb/sec counts both directions, which run one after the other: it is the
        # rate of one stream.
        self.record("rsocket", "bandwidth", "throughput", "Gbit/s", float(f[6]), size=size, streams=1, repeat=r,
                    tool="rstream")

    def rsocket_latency(self, size, r):
        f, err = self.rstream(size, 1, 300 if self.quick else 1000)
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
        q = self.quick
        bw_sizes = [64, 64 * KIB] if q else [64, KIB, 16 * KIB, 64 * KIB, KIB * KIB]
        # sockperf's largest message is 65506 bytes: 60 KiB stands for "64 KiB".
        lat_sizes = [64] if q else [64, KIB, 16 * KIB, 60 * KIB]
        streams = [1, 4] if q else [1, 4, 16]
        scale_n = [1, 16] if q else [1, 16, 256, 1024]
        wanted = (lambda s: s in self.only) if self.only else (lambda s: True)
        smc = wanted("smc") and self.smc_setup()
        systems = [s for s in ("sdp", "tcp") if wanted(s)] + (["smc"] if smc else [])

        if wanted("verbs"):
            log("raw verbs: bandwidth")
            self.verbs_bandwidth(bw_sizes)
            log("raw verbs: latency")
            self.verbs_latency(lat_sizes)
        for system in systems:
            log("%s: bandwidth, latency, connection setup" % system)
            for r in range(self.repeats):
                for size in bw_sizes:
                    self.iperf3(system, size, 1, r)
                for n in streams[1:]:
                    self.iperf3(system, 64 * KIB, n, r)
                for size in lat_sizes:
                    self.sockperf(system, size, r)
                self.connrate(system, r)
        if wanted("rsocket"):
            log("rsocket")
            for r in range(self.repeats):
                for size in bw_sizes:
                    self.rsocket_bandwidth(size, r)
                for size in lat_sizes:
                    self.rsocket_latency(size, r)
        for system in systems:
            for n in scale_n:
                log("%s: %d connections" % (system, n))
                for r in range(self.repeats):
                    self.scale(system, n, r)
        meta = dict(
            kernel=platform.release(),
            kernel_build=open("/proc/version").read().strip(),
            quick=q,
            repeats=self.repeats,
            seconds_per_run=self.seconds,
            cpus=os.cpu_count(),
            mem_kib=int(open("/proc/meminfo").readline().split()[1]),
            veth_mtu=self.veth_mtu(),
            rxe_active_mtu=self.rxe_mtu(),
            tools=self.tool_versions(),
            duration_s=round(time.time() - t0),
            notes=self.notes,
        )
        with open(out_path, "w") as f:
            json.dump(dict(meta=meta, samples=self.samples), f, indent=1)
        log("suite done in %ds, %d samples" % (meta["duration_s"], len(self.samples)))
        return 0

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
