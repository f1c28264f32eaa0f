# SPDX-License-Identifier: GPL-2.0
"""Stream bandwidth through iperf3, for every socket system (SDP and SMC-R through
the preload shim, TCP as it is)."""

import json

from common import SERVER


class Iperf3:
    """Mixed into suite.Suite, whose run/start/stop/record/error/wait_ready it uses."""

    def iperf3(self, system, size, streams, r, sendfile=False):
        """iperf3 with `streams` streams of `size`-byte writes (with `sendfile`, its -Z:
        sendfile() from a file, test "sendfile" instead of "bandwidth")."""
        test = "sendfile" if sendfile else "bandwidth"
        port = self.next_port()
        env = self.preload_env(system)
        srv = self.start("b", ["iperf3", "-s", "-1", "-B", SERVER, "-p", str(port)], env=env)
        self.wait_ready(srv, port, "iperf3 " + system)
        rxe0, segs0 = self.rxe_sent_bytes(), self.tcp_out_segs("a")
        rc, out, err = self.run("a", ["iperf3", "-c", SERVER, "-p", str(port), "-t", str(self.seconds), "-l",
                                      str(size), "-P", str(streams), "-J"] + (["-Z"] if sendfile else []),
                                timeout=60 + 10 * self.seconds, env=env)
        self.stop(srv)
        try:
            j = json.loads(out)
            recv = j["end"]["sum_received"]
            bps, moved = recv["bits_per_second"], recv["bytes"]
            cpu = j["end"].get("cpu_utilization_percent", {})
        except (ValueError, KeyError):
            return self.error(system, test, err or out, size=size, streams=streams, tool="iperf3")
        path = self.path_check(system, moved, rxe0, segs0)
        if path is None:
            return self.error(system, test, "fell back to TCP", size=size, streams=streams, tool="iperf3")
        self.record(system, test, "throughput", "Gbit/s", bps / 1e9, size=size, streams=streams, repeat=r,
                    tool="iperf3", path=path, host_cpu_percent=cpu.get("host_total"))
