# SPDX-License-Identifier: GPL-2.0
"""rsocket through rdmacm-utils' rstream (blocking calls)."""

from common import SERVER


class Rstream:
    """Mixed into suite.Suite, whose run/start/stop/record/error/wait_ready it uses."""

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
