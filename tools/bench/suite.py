#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The benchmark suite, guest side: runs inside the two-host VM (tools/vm/bench.sh)
and writes every sample to a JSON file; tools/bench/report.py turns it into tables and
plots on the host.

Systems, all on the same veth + rxe pair between netns a (client) and b (server):
  verbs       perftest ib_write_bw/ib_read_bw/ib_send_bw/ib_send_lat/ib_write_lat:
              the device's own limit, the anchor of every ratio
  sdp         our SDP, driven by iperf3 and sockperf through transparent SDP (the hook
              attached, net.infinisock.sdp_transparent=3 on both hosts), and by
              stream_bench (IPPROTO_SDP) for what they do not measure
  smc         SMC-Rv2 (IPPROTO_SMC), through sockproto_preload.so; a run that fell
              back to TCP is recorded as a fallback, never as an SMC figure
  rsocket     rdmacm-utils' rstream
  tcp         TCP over the same veth, with the same tools
  ibmsg       AF_IB SOCK_SEQPACKET message sockets, through stream_bench
  hybrid      transparent SDP: unmodified TCP programs, no preload, the hook attached
              and net.infinisock.sdp_transparent=3 on both hosts (over SDP); with
              hybrid_tcp, the server's namespace off (the client falls back to TCP);
              beside each, explicit SDP (sdp_beside) and TCP (tcp_beside) again
  zcopy       explicit SDP with net.infinisock.sdp_zcopy 0 (sdp_copy) and 2 (sdp_zc:
              large sends advertised, RDMA READ by the peer) at 64 KiB, 256 KiB and
              1 MiB: iperf3 (plain, and -Z: sendfile()) and stream_bench bulk (blocking
              send(), and MSG_ZEROCOPY; kernel CPU per GB), beside ib_write_bw and
              ib_read_bw (test zcopy-beside); and stream_bench's blocking send()s with
              the connection's own choice (sdp_zc_auto: sdp_zcopy 2, default bounds)

    suite.py OUT.json [--quick] [--only verbs,sdp,smc,rsocket,tcp,ibmsg,hybrid,zcopy,scale]

"scale" in --only runs the scale steps alone, for the systems named beside it (sdp, smc,
tcp; all three if none is), and nothing else.

Every section's wall-clock time goes to the JSON too (meta.section_seconds), so that a
run shows where its time went.
"""

import contextlib
import json
import os
import platform
import select
import subprocess
import sys
import time

from common import (BIG_SCALE_N, KIB, LISTEN_TIMEOUT_S, PRELOAD, PROTO, SHARED_QUEUE_SYSTEM, TOP, TRANSPARENT,
                    TRANSPARENT_SYSTEMS, UNSEEN_LISTENER_WAIT_S, ZCOPY_AUTO_TESTS, ZCOPY_SIZES, ZCOPY_SYSTEMS,
                    base_system, log)
from tool_iperf3 import Iperf3
from tool_perftest import Perftest
from tool_rstream import Rstream
from tool_sockperf import Sockperf
from tool_stream_bench import StreamBench


class Suite(Perftest, Iperf3, Sockperf, StreamBench, Rstream):
    """The runner: the two hosts, the sections and their order, the samples and the
    run's metadata. What each tool measures and how is in its tool_*.py mixin."""

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
        self.sdp_through_policy = False

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

    def preload_env(self, system):
        # "sdp" runs through transparent SDP where the hook attached (see
        # run_sections); "sdp_beside", the explicit protocol, through the shim.
        if system == "sdp" and self.sdp_through_policy:
            return {}
        system = base_system(system)
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

    def infinisock_counter(self, host, name):
        """A counter of the module's in netns host (/proc/net/infinisock/stats); 0 if
        none is there."""
        try:
            with open("/proc/%d/net/infinisock/stats" % self.anchor_pid(host)) as f:
                for line in f:
                    fields = line.split()
                    if len(fields) == 2 and fields[0] == name:
                        return int(fields[1])
        except OSError:
            pass
        return 0

    def path_check(self, system, moved_bytes, rxe_before, segs_before):
        """Whether a socket run's payload crossed the RDMA devices (SDP, SMC) or the
        veth (TCP). Returns a note; None if the run cannot count as `system`."""
        rxe = self.rxe_sent_bytes() - rxe_before
        segs = self.tcp_out_segs("a") - segs_before
        if system in ("tcp", "tcp_beside"):
            return "tcp"
        if system == "hybrid_tcp":
            # A fallen-back socket: the payload must not have crossed rxe.
            if rxe < moved_bytes * 0.1:
                return "tcp"
            log("%s: %d bytes crossed rxe for %d moved: not on TCP" % (system, rxe, moved_bytes))
            return None
        if rxe >= moved_bytes * 0.9:
            return "rdma"
        log("%s: only %d bytes crossed rxe for %d moved (TCP segments %d): fallback" % (system, rxe, moved_bytes, segs))
        return None

    @contextlib.contextmanager
    def sysctl(self, name, value):
        """A sysctl of the initial namespace (a global or module-wide one) set to
        `value` for what runs inside, then back to what it was."""
        path = "/proc/sys/" + name.replace(".", "/")
        with open(path) as f:
            old = f.read().strip()
        with open(path, "w") as f:
            f.write(str(value))
        try:
            yield
        finally:
            with open(path, "w") as f:
                f.write(old)

    def ns_sysctl(self, host, name, value):
        self.run(host, ["sysctl", "-qw", "%s=%s" % (name, value)])

    @contextlib.contextmanager
    def host_sysctls(self, values, after):
        """Namespace sysctls of hosts a and b for what runs inside: `values` maps each
        host to its (name, value) pairs; `after` are the (name, value) pairs both
        hosts get once it is over."""
        for host, pairs in values.items():
            for name, value in pairs:
                self.ns_sysctl(host, name, value)
        try:
            yield
        finally:
            for host in ("a", "b"):
                for name, value in after:
                    self.ns_sysctl(host, name, value)

    def transparent(self, modes):
        """Transparent SDP for what runs inside: sdp_transparent of hosts a and b as
        `modes` (None: off), with a connect bound long enough for TCG."""
        a, b = modes or (0, 0)
        return self.host_sysctls(
            {host: (("net.infinisock.sdp_transparent", mode), ("net.infinisock.sdp_connect_timeout", 60000))
             for host, mode in (("a", a), ("b", b))},
            (("net.infinisock.sdp_transparent", 0),))

    def zcopy(self, settings):
        """net.infinisock.sdp_zcopy and sdp_zcopy_thresh_max of hosts a and b as
        `settings` (ZCOPY_SYSTEMS) for the SDP streams made inside; the defaults
        after."""
        mode, ceiling = settings
        pairs = (("net.infinisock.sdp_zcopy", mode), ("net.infinisock.sdp_zcopy_thresh_max", ceiling))
        return self.host_sysctls({"a": pairs, "b": pairs},
                                 (("net.infinisock.sdp_zcopy", 0), ("net.infinisock.sdp_zcopy_thresh_max", 1 << 20)))

    def shared_queues(self, on):
        """SDP streams made inside on their devices' shared receive queues if `on`,
        else on receive buffers and CQs of each connection's own
        (net.infinisock.sdp_srq 1 or 0 on hosts a and b); the default, 1, after."""
        srq = (("net.infinisock.sdp_srq", 1 if on else 0),)
        return self.host_sysctls({"a": srq, "b": srq}, (("net.infinisock.sdp_srq", 1),))

    def attach_transparent_hook(self):
        if not os.path.ismount("/sys/fs/bpf"):
            subprocess.run(["mount", "-t", "bpf", "bpf", "/sys/fs/bpf"], check=False)
        p = subprocess.run([TRANSPARENT, "enable"], capture_output=True, text=True)
        log((p.stdout + p.stderr).strip())
        if p.returncode != 0:
            self.notes.append("the transparent hook did not attach, so hybrid streams have no figures: " +
                              (p.stderr.strip() or p.stdout.strip()))
            return False
        return True

    def busy_read(self, usec):
        """net.core.busy_read for what runs inside: the SO_BUSY_POLL every new socket
        starts with."""
        return self.sysctl("net.core.busy_read", usec)

    @staticmethod
    def mem_total_kib():
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1])
        return 0

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
        scale_only = wanted("scale") and self.only is not None
        if scale_only:
            named = [s for s in ("sdp", "smc", "tcp") if s in self.only]
            wanted = (lambda s: s in named) if named else (lambda s: s in ("sdp", "smc", "tcp"))
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
        hook = ("sdp" in systems or wanted("hybrid")) and self.attach_transparent_hook()
        self.sdp_through_policy = hook
        for system in ([] if scale_only else systems):
            log("%s: bandwidth, latency, connection setup" % system)
            # iperf3 and sockperf reach SDP as an administrator gives it to programs.
            with self.transparent((3, 3) if system == "sdp" and hook else None):
                self.socket_tools(system, bw_sizes, streams, lat_sizes)
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
        if wanted("hybrid") and hook:
            log("transparent SDP: hybrid streams beside explicit SDP and TCP")
            # Each hybrid beside its anchor, in ABBA order over the repeats: this bed
            # drifts within a run, and whichever of two runs goes second is favoured or
            # not by it alike.
            pairs = (("sdp_beside", "hybrid"), ("tcp_beside", "hybrid_tcp"))
            for r in range(self.repeats if q else max(self.repeats, 4)):
                for anchor, hybrid in pairs:
                    for system in ((anchor, hybrid) if r % 2 == 0 else (hybrid, anchor)):
                        modes = TRANSPARENT_SYSTEMS[system][1]
                        with self.section(system, "transparent"), self.transparent(modes):
                            self.iperf3(system, 64 * KIB, 1, r)
                            self.sockperf(system, 64, r)
                            self.connrate(system, r)
        if wanted("zcopy"):
            log("SDP zero-copy: iperf3 with and without the sender's adverts, beside ib_read_bw and ib_write_bw")
            # ABBA over the repeats, each size's anchors just before its pair (the bed
            # drifts within a run).
            for r in range(self.repeats if q else max(self.repeats, 4)):
                with self.section("zcopy", "bandwidth"):
                    for size in ZCOPY_SIZES:
                        for verb in ("write", "read"):
                            self.verbs_bandwidth_once(verb, size, r, test="zcopy-beside")
                        trio = tuple(ZCOPY_SYSTEMS)
                        for system in (trio if r % 2 == 0 else trio[::-1]):
                            with self.zcopy(ZCOPY_SYSTEMS[system]):
                                # The adverts each run made: iperf3 writes on
                                # non-blocking sockets, which copy (only a blocking
                                # send() can wait for the peer's READ); its -Z
                                # (sendfile()) and MSG_ZEROCOPY sends advertise either way.
                                runs = (("bandwidth", lambda: self.iperf3(system, size, 1, r)),
                                        ("bulk", lambda: self.bulk(system, size, r)),
                                        ("bulk-msgzc", lambda: self.bulk(system, size, r, msgzc=True)),
                                        ("sendfile", lambda: self.iperf3(system, size, 1, r, sendfile=True)))
                                for test, run in runs:
                                    if system == "sdp_zc_auto" and test not in ZCOPY_AUTO_TESTS:
                                        continue
                                    before = self.infinisock_counter("a", "zc_adverts_sent")
                                    run()
                                    after = self.infinisock_counter("a", "zc_adverts_sent")
                                    self.record(system, test, "zc_adverts", "count", after - before, size=size,
                                                streams=1, repeat=r)
        if wanted("rsocket"):
            log("rsocket")
            for r in range(self.repeats):
                with self.section("rsocket", "bandwidth"):
                    for size in bw_sizes:
                        self.rsocket_bandwidth(size, r)
                with self.section("rsocket", "latency"):
                    for size in lat_sizes:
                        self.rsocket_latency(size, r)
        # The scale steps weigh what connections cost, not the ring memory limit
        # (net.infinisock.sdp_mem, an eighth of the memory by default, which 1024
        # default connections pass): lifted to all of the VM's memory meanwhile.
        # SDP runs them twice: on receive buffers of each connection's own, and on
        # its devices' shared receive queues (sdp_srq, the default everywhere else).
        # SMC-R last: its link groups outlive its connections by minutes (the kernel
        # keeps them ten for reuse), and at 10,000 connections, torn down meanwhile,
        # they would share rxe with the next system's steps.
        scale_systems = [s for s in systems if s != "smc"] + ([SHARED_QUEUE_SYSTEM] if "sdp" in systems else [])
        scale_systems += [s for s in systems if s == "smc"]
        with self.sysctl("net.infinisock.sdp_mem", self.mem_total_kib()):
            for system in scale_systems:
                # 10,000 (the second N) for the systems whose connections
                # fit the VM: SDP with rings of its own would need 3.6 GB of kernel
                # memory there (367 KiB each at 1,024), the point of the shared queue.
                big = [] if q or system == "sdp" else [BIG_SCALE_N]
                for n in scale_n + big:
                    log("%s: %d connections" % (system, n))
                    with self.section(system, "scale %d" % n), self.shared_queues(system == SHARED_QUEUE_SYSTEM):
                        for r in range(self.repeats):
                            self.scale(system, n, r)
        if hook:
            subprocess.run([TRANSPARENT, "disable"], capture_output=True)

    def socket_tools(self, system, bw_sizes, streams, lat_sizes):
        """iperf3, sockperf and stream_bench's connection setup for one system, in every
        repeat."""
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
