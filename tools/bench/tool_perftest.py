# SPDX-License-Identifier: GPL-2.0
"""Raw verbs through perftest (ib_{write,read,send}_bw, ib_{send,write}_lat) on the
rxe pair: the device's own limit, the anchor of every ratio (systems verbs_*)."""

from common import MIB, RXE_BYTES_PER_S, RXE_SMALL_ONE_WAY_S, SERVER, finite


class Perftest:
    """Mixed into suite.Suite, whose run/start/stop/record/error/wait_ready it uses."""

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
