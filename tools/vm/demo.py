#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""What an application sees of the module today: the sockets it can open, in hosts a
and b of the test VM. Run by `make demo` inside the VM."""
import errno
import os
import socket
import subprocess
import sys

AF_IB = 27
IPPROTO_SDP = 258
KINDS = [
    ("AF_IB SOCK_STREAM", AF_IB, socket.SOCK_STREAM, 0),
    ("AF_IB SOCK_SEQPACKET", AF_IB, socket.SOCK_SEQPACKET, 0),
    ("AF_INET SOCK_STREAM IPPROTO_SDP", socket.AF_INET, socket.SOCK_STREAM, IPPROTO_SDP),
    ("AF_INET6 SOCK_STREAM IPPROTO_SDP", socket.AF_INET6, socket.SOCK_STREAM, IPPROTO_SDP),
]


def describe(name, family, type_, proto):
    try:
        s = socket.socket(family, type_, proto)
    except OSError as e:
        return f"{name:34} socket() failed: {errno.errorcode[e.errno]}"
    with s:
        dom = s.getsockopt(socket.SOL_SOCKET, socket.SO_DOMAIN)
        pro = s.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL)
        try:
            s.listen(1)
            listen = "listen ok"
        except OSError as e:
            listen = f"listen: {errno.errorcode.get(e.errno, e)} (data path not there yet)"
        return f"{name:34} fd ok, SO_DOMAIN={dom} SO_PROTOCOL={pro}; {listen}"


if len(sys.argv) > 1:
    for k in KINDS:
        print("   ", describe(*k))
    sys.exit(0)
for ns in ("a", "b"):
    print(f"host {ns}:")
    subprocess.run(["ip", "netns", "exec", ns, sys.executable, os.path.abspath(__file__), "in-netns"], check=True)
