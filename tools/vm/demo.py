#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The module at work, for a newcomer: run by `make demo` inside the test VM, whose two
hosts (network namespaces a and b) are joined by a veth pair carrying one Soft-RoCE
device each (rxea, rxeb). It moves data over the fabric and shows what carried it:

  1. an SDP stream (socket(AF_INET, SOCK_STREAM, IPPROTO_SDP)) moves a checksummed
     payload from a to b, beside TCP on the same veth and raw verbs (ib_write_bw) on
     the same rxe pair, with the device and TCP counters that prove the path;
  2. unmodified programs (curl from Python's http.server, iperf3) over SDP by the
     transparent policy, the connection table while one runs, and the fallback to TCP
     when the server's host has no SDP;
  3. AF_IB: messages and RDMA through the socket API (tools/examples/af_ib_example.c).

Prints plainly; exits non-zero if a step failed (a checksum mismatch, a tool's error).
Helper modes, run inside a host: `sink PROTO PORT` and `source PROTO ADDR PORT BYTES`.
"""
import hashlib
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.environ.get("INFINISOCK_TOP", os.path.dirname(os.path.dirname(HERE)))
HOOK = os.path.join(TOP, "tools/transparent/build/infinisock-transparent")
EXAMPLE = os.path.join(TOP, "tools/examples/build/af_ib_example")
A, B = "10.77.0.1", "10.77.0.2"
IPPROTO_SDP = 258
MIB = 1 << 20
PAYLOAD = 32 * MIB
failures = []
figures = {}


# Helper modes: one end of a checksummed transfer. CRC-32 (zlib) rather than a
# cryptographic hash: it catches any lost, doubled or corrupted byte and keeps up with
# the transport on the emulated CPU, so the figure is the socket's, not the hash's.

def block(seed):
    return random.Random(seed).randbytes(MIB)


def sink(proto, port):
    """Accepts one connection, reads it to EOF; prints bytes, seconds, CRC-32."""
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto) as ls:
        ls.bind((B, port))
        ls.listen(1)
        print("listening", flush=True)
        conn, _ = ls.accept()
        with conn:
            crc, n, t0 = 0, 0, None
            while True:
                got = conn.recv_into(view)
                if not got:
                    break
                if t0 is None:
                    t0 = time.monotonic()
                crc = zlib.crc32(view[:got], crc)
                n += got
    print(n, time.monotonic() - (t0 or time.monotonic()), "%08x" % crc)


def source(proto, addr, port, total):
    """Connects and sends `total` bytes of a seeded pattern; prints their CRC-32,
    computed before the clock starts."""
    blk, crc = block(port), 0
    for _ in range(total // MIB):
        crc = zlib.crc32(blk, crc)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto) as s:
        s.connect((addr, port))
        for _ in range(total // MIB):
            s.sendall(blk)
    print("%08x" % crc)


# The demo.

def say(text=""):
    print(text, flush=True)


def step(title):
    say()
    say("== " + title)


def run(ns, argv, timeout=120, check=True):
    p = subprocess.run(["ip", "netns", "exec", ns] + argv, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError("%s in host %s: exit %d: %s" % (argv[0], ns, p.returncode, (p.stderr or p.stdout)[-400:]))
    return p.stdout


def start(ns, argv):
    return subprocess.Popen(["ip", "netns", "exec", ns] + argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def wait_line(proc, word, timeout=20):
    """Reads a started server's output until a line with `word` (its listener is up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if word in line:
            return
    raise RuntimeError("server did not say %r" % word)


def wait_port(ns, port, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (":%d " % port) in run(ns, ["ss", "-Hltn"]) or (":%d " % port) in read(ns, "/proc/net/infinisock/sdp"):
            return
        time.sleep(0.2)
    raise RuntimeError("nothing listens on port %d in host %s" % (port, ns))


def read(ns, path):
    return run(ns, ["cat", path], check=False)


def rxe_pkts():
    """RoCE packets host a's device sent and received."""
    total = 0
    for name in ("sent_pkts", "rcvd_pkts"):
        with open("/sys/class/infiniband/rxea/ports/1/hw_counters/" + name) as f:
            total += int(f.read())
    return total


def tcp_segs(ns="a"):
    lines = [l.split() for l in read(ns, "/proc/net/snmp").splitlines() if l.startswith("Tcp:")]
    return int(lines[1][lines[0].index("OutSegs")])


class Counters:
    """Packets through host a's rxe device, and TCP segments it sent, while a block of
    the demo ran."""

    def __enter__(self):
        self.rxe0, self.tcp0 = rxe_pkts(), tcp_segs()
        return self

    def __exit__(self, *exc):
        self.rxe, self.tcp = rxe_pkts() - self.rxe0, tcp_segs() - self.tcp0

    def __str__(self):
        return "%d RoCE packets through rxea, %d TCP segments sent by host a" % (self.rxe, self.tcp)


def mib_s(nbytes, seconds):
    return nbytes / MIB / max(seconds, 1e-9)


def transfer(proto, port):
    """PAYLOAD bytes from a to b over `proto`: (MiB/s at the receiver, counters, whether
    every byte arrived, the receiver's CRC-32)."""
    srv = start("b", [sys.executable, __file__, "sink", str(proto), str(port)])
    wait_line(srv, "listening")
    with Counters() as c:
        sent_crc = run("a", [sys.executable, __file__, "source", str(proto), B, str(port), str(PAYLOAD)]).strip()
        out, _ = srv.communicate(timeout=120)
    n, secs, got_crc = out.split()[-3:]
    ok = int(n) == PAYLOAD and got_crc == sent_crc
    if not ok:
        failures.append("transfer over protocol %d: %s bytes, CRC-32 %s, sent %s" % (proto, n, got_crc, sent_crc))
    return mib_s(int(n), float(secs)), c, ok, got_crc


def ib_write_bw(port):
    """Raw RDMA WRITE bandwidth of the same rxe pair, 64 KiB messages, MiB/s."""
    argv = ["ib_write_bw", "-F", "-s", "65536", "-n", "400", "-p", str(port)]
    for _ in range(3):  # under TCG perftest's calibration now and then fails: retry
        srv = start("b", argv + ["-d", "rxeb"])
        wait_port("b", port)
        out = run("a", argv + ["-d", "rxea", B], check=False)
        srv.wait(timeout=60)
        for line in out.splitlines():
            f = line.split()
            if f and f[0] == "65536" and len(f) >= 4 and float(f[3]) > 0:
                return float(f[3])
        port += 1
    raise RuntimeError("ib_write_bw gave no figure")


def demo_sdp_stream():
    step("1. An SDP stream: %d MiB from host a to host b, checksummed" % (PAYLOAD // MIB))
    say("   socket(AF_INET, SOCK_STREAM, IPPROTO_SDP) on both ends; the same transfer over TCP")
    say("   (protocol 0) on the same veth, and raw RDMA WRITEs (ib_write_bw) on the same rxe pair.")
    sdp, c_sdp, ok, crc = transfer(IPPROTO_SDP, 7001)
    say("   SDP : %7.1f MiB/s  CRC-32 %s  %s" % (sdp, crc, "matches" if ok else "MISMATCH"))
    say("         %s" % c_sdp)
    tcp, c_tcp, ok, crc = transfer(0, 7002)
    say("   TCP : %7.1f MiB/s  CRC-32 %s  %s" % (tcp, crc, "matches" if ok else "MISMATCH"))
    say("         %s" % c_tcp)
    verbs = figures["verbs"] = ib_write_bw(7003)
    say("   verbs: %6.1f MiB/s  (ib_write_bw, 64 KiB messages)" % verbs)
    say("   SDP / TCP = %.2f, SDP / raw verbs = %.2f" % (sdp / tcp, sdp / verbs))
    say("   (a Python program at each end. Soft-RoCE computes every packet's ICRC on an emulated")
    say("   CPU, where TCP over veth computes no checksum at all: raw verbs are the ceiling here)")
    if c_sdp.rxe < PAYLOAD // 4096 or c_sdp.tcp > 64 or c_tcp.tcp < PAYLOAD // 65536:
        failures.append("a transfer did not take its path: SDP %s; TCP %s" % (c_sdp, c_tcp))


def demo_transparent():
    step("2. Unmodified programs over SDP: the transparent policy")
    say("   %s enable   # attach the hook (BPF, update_socket_protocol)" % os.path.basename(HOOK))
    say("   sysctl -w net.infinisock.sdp_transparent=3   # in host a and host b")
    os.makedirs("/sys/fs/bpf", exist_ok=True)
    subprocess.run(["sh", "-c", "mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf"], check=True)
    subprocess.run([HOOK, "enable"], check=True, capture_output=True)
    for ns in ("a", "b"):
        run(ns, ["sysctl", "-qw", "net.infinisock.sdp_transparent=3"])
    web = tempfile.mkdtemp()
    with open(os.path.join(web, "payload.bin"), "wb") as f:
        f.write(os.urandom(8 * MIB))
    with open(os.path.join(web, "payload.bin"), "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    srv = start("b", [sys.executable, "-m", "http.server", "8080", "--bind", B, "--directory", web])
    try:
        wait_port("b", 8080)
        say("   host b: python3 -m http.server 8080        host a: curl http://%s:8080/payload.bin" % B)
        with Counters() as c:
            out = run("a", ["curl", "-sS", "-o", "/tmp/demo-payload", "-w", "%{size_download} %{speed_download}",
                            "http://%s:8080/payload.bin" % B])
        size, speed = out.split()
        got = hashlib.sha256(open("/tmp/demo-payload", "rb").read()).hexdigest()
        say("   curl: %s bytes at %.1f MiB/s, sha256 %s %s" % (size, float(speed) / MIB, got[:16],
                                                                 "matches" if got == want else "MISMATCH"))
        say("         %s" % c)
        if got != want:
            failures.append("curl over transparent SDP: checksum mismatch")
        if c.rxe < 8 * MIB // 4096 or c.tcp > 64:
            failures.append("curl did not go over SDP: " + str(c))
    finally:
        srv.terminate()
        srv.wait()

    say()
    say("   iperf3 -c %s -t 4, unmodified, over SDP by the policy; then with sdp_transparent=0 (TCP)" % B)
    over_sdp, table = iperf3(7010, show_table=True)
    say("   the connection table while it ran (host a, /proc/net/infinisock/sdp):")
    for line in table.splitlines():
        say("     " + line)
    for ns in ("a", "b"):
        run(ns, ["sysctl", "-qw", "net.infinisock.sdp_transparent=0"])
    over_tcp, _ = iperf3(7011)
    say("   iperf3 over SDP %.1f MiB/s = %.2f x raw verbs (ib_write_bw above); over TCP %.1f MiB/s" % (
        over_sdp, over_sdp / figures.get("verbs", float("nan")), over_tcp))

    say()
    say("   The server's host turns SDP off (b: sdp_transparent=0, a: 1): the client falls back")
    run("a", ["sysctl", "-qw", "net.infinisock.sdp_transparent=1"])
    srv = start("b", [sys.executable, "-m", "http.server", "8081", "--bind", B, "--directory", web])
    try:
        wait_port("b", 8081)
        with Counters() as c:
            run("a", ["curl", "-sS", "-o", "/tmp/demo-payload", "http://%s:8081/payload.bin" % B])
        got = hashlib.sha256(open("/tmp/demo-payload", "rb").read()).hexdigest()
        say("   curl: sha256 %s %s; %s" % (got[:16], "matches" if got == want else "MISMATCH", c))
        if got != want:
            failures.append("curl after fallback: checksum mismatch")
    finally:
        srv.terminate()
        srv.wait()
    say("   host a's hybrid connections by path (/proc/net/infinisock/hybrid):")
    for line in read("a", "/proc/net/infinisock/hybrid").splitlines():
        say("     " + line)
    run("a", ["sysctl", "-qw", "net.infinisock.sdp_transparent=0"])
    subprocess.run([HOOK, "disable"], capture_output=True)


def iperf3(port, show_table=False):
    """iperf3 from a to b for 4 s: (MiB/s received, host a's SDP table mid-run)."""
    srv = start("b", ["iperf3", "-s", "-1", "-B", B, "-p", str(port)])
    wait_port("b", port)
    cli = start("a", ["iperf3", "-c", B, "-p", str(port), "-t", "4", "-J"])
    table = ""
    if show_table:
        time.sleep(2.5)
        table = read("a", "/proc/net/infinisock/sdp")
    out, _ = cli.communicate(timeout=120)
    srv.wait(timeout=30)
    try:
        bps = json.loads(out)["end"]["sum_received"]["bits_per_second"]
    except (ValueError, KeyError):
        raise RuntimeError("iperf3: " + out[-400:])
    return bps / 8 / MIB, table


def demo_af_ib():
    step("3. AF_IB: messages and RDMA through the socket API (tools/examples/af_ib_example.c)")
    srv = start("b", ["timeout", "60", EXAMPLE, "server", B, "7100"])
    wait_line(srv, "listening")
    client = run("a", ["timeout", "60", EXAMPLE, "client", B, "7100"])
    server, _ = srv.communicate(timeout=60)
    for line in client.splitlines():
        say("   client: " + line)
    for line in server.splitlines():
        say("   server: " + line)
    if "hello over RDMA" not in server or srv.returncode != 0:
        failures.append("af_ib_example")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "sink":
        return sink(int(sys.argv[2]), int(sys.argv[3]))
    if len(sys.argv) > 1 and sys.argv[1] == "source":
        return source(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    say("== InfiniSock demo: Linux %s, host a (%s) and host b (%s) on a veth pair," % (os.uname().release, A, B))
    say("   one Soft-RoCE device each (rxea, rxeb), the module loaded")
    say()
    for ns, dev in (("a", "rxea"), ("b", "rxeb")):
        say("   host %s, RDMA devices the module sees (/proc/net/infinisock/devices):" % ns)
        for line in read(ns, "/proc/net/infinisock/devices").splitlines():
            say("     " + line)
    for part in (demo_sdp_stream, demo_transparent, demo_af_ib):
        try:
            part()
        except Exception as e:  # one broken step does not hide the others
            failures.append("%s: %s" % (part.__name__, e))
            say("   failed: %s" % e)
    step("SDP memory of host a (/proc/net/infinisock/memory)")
    for line in read("a", "/proc/net/infinisock/memory").splitlines():
        say("   " + line)
    say()
    if failures:
        say("== demo FAILED: " + "; ".join(failures))
        return 1
    say("== demo done: every payload arrived intact, over the path shown")
    return 0


if __name__ == "__main__":
    sys.exit(main())
