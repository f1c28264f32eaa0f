# SPDX-License-Identifier: GPL-2.0
"""Ping-pong latency through sockperf, blocking, polling or busy-polling, for every
socket system."""

import re

from common import BUSY_POLL_US, SERVER, read_busy_poll


class Sockperf:
    """Mixed into suite.Suite, whose run/start/stop/record/error/wait_ready it uses."""

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
