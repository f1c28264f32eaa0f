# SPDX-License-Identifier: GPL-2.0
"""What the benchmark suite's runner (suite.py) and its tool modules (tool_*.py) share:
where things are, the server's address, the bed's rough speed, and small helpers."""

import math
import os

TOP = os.environ.get("INFINISOCK_TOP", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.path.join(TOP, "tools/bench/build")
PRELOAD = os.path.join(BUILD, "sockproto_preload.so")
STREAM_BENCH = os.path.join(BUILD, "stream_bench")
SERVER = os.environ.get("HOST_B4", "10.77.0.2")
PROTO = {"sdp": 258, "smc": 256, "tcp": 0}
TRANSPARENT = os.path.join(TOP, "tools/transparent/build/infinisock-transparent")
# Transparent SDP's systems (hybrid streams made by the hook from TCP sockets) and the
# anchors measured beside them: each is run as its base system; the suite sets each
# namespace's net.infinisock.sdp_transparent (client a, server b) for it.
TRANSPARENT_SYSTEMS = {
    "sdp_beside": ("sdp", None),
    "hybrid": ("tcp", (3, 3)),           # both ends transparent: over SDP
    "tcp_beside": ("tcp", None),
    "hybrid_tcp": ("tcp", (1, 0)),       # the server's namespace has it off: TCP
}


# SDP's zero-copy section: explicit SDP streams with net.infinisock.sdp_zcopy and
# sdp_zcopy_thresh_max at these values on both hosts (0: every byte copied into send
# buffers; 2: a large send() may be advertised and the peer RDMA READs it from the
# program's pages). sdp_zc pins the connection's choice to its floor, 64 KiB (every
# send() of 64 KiB or more advertised: the source itself); sdp_zc_auto leaves the
# choice to the connection, between the default 64 KiB and 1 MiB (what a program
# gets by default), and runs only the blocking send()s that choice governs.
ZCOPY_SYSTEMS = {
    "sdp_copy": (0, 1 << 20),
    "sdp_zc": (2, 64 << 10),
    "sdp_zc_auto": (2, 1 << 20),
}
# The zero-copy section's programs that sdp_zc_auto runs.
ZCOPY_AUTO_TESTS = ("bulk",)
# The sizes of send() the zero-copy section runs (the figures: 256 KiB and 1 MiB for
# every program, 64 KiB for MSG_ZEROCOPY).
ZCOPY_SIZES = (64 * 1024, 256 * 1024, 1024 * 1024)


# SDP streams on their devices' shared receive queues (net.infinisock.sdp_srq on both
# hosts): the scale steps' row beside per-connection receive buffers.
SHARED_QUEUE_SYSTEM = "sdp_srq"

# The scale steps' largest N (issue 20's second figure), run by the systems whose
# connections fit the benchmark VM.
BIG_SCALE_N = 10_000


def base_system(system):
    """The system a transparent-section system runs as ("hybrid" runs TCP programs);
    SDP on shared receive queues and the zero-copy section's systems run as SDP."""
    if system == SHARED_QUEUE_SYSTEM or system in ZCOPY_SYSTEMS:
        return "sdp"
    return TRANSPARENT_SYSTEMS.get(system, (system, None))[0]
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
