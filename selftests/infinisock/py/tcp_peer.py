#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A program written for TCP: socket(AF_INET[6], SOCK_STREAM) and nothing else. What
transparent SDP makes of its sockets is read back with getsockopt, which the program
would not need to do.

  tcp_peer.py proto ADDR                 print SO_PROTOCOL of a new stream socket
  tcp_peer.py echoserver ADDR PORT N     echo N connections (one at a time), printing
                                         each accepted socket's SO_PROTOCOL/path
  tcp_peer.py echo ADDR PORT TEXT        blocking connect; print "PATH ECHO"
  tcp_peer.py echo-nb ADDR PORT TEXT     non-blocking connect (EINPROGRESS, poll for
                                         POLLOUT, SO_ERROR), then as echo
  tcp_peer.py refused ADDR PORT          blocking connect that must fail; print errno
  tcp_peer.py refused-nb ADDR PORT       non-blocking connect that must fail; print
                                         SO_ERROR after POLLOUT
PATH is the socket's SO_PROTOCOL, then INFINISOCK_TRANSPORT: "sdp", "tcp/REASON",
"undecided", or "plain" for a TCP socket.
"""
import errno
import select
import socket
import sys

SOL_INFINISOCK = 0x4942
INFINISOCK_TRANSPORT = 9
REASONS = {1: "policy", 2: "no_device", 3: "refused", 4: "timeout", 5: "resources", 6: "other"}


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def path(s):
    proto = s.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL)
    if proto == socket.IPPROTO_TCP:
        return "6/plain"
    v = s.getsockopt(SOL_INFINISOCK, INFINISOCK_TRANSPORT)
    kind = {0: "undecided", 1: "sdp", 2: "tcp"}[v & 0xff]
    if kind == "tcp":
        kind += "/" + REASONS[v >> 8]
    return f"{proto}/{kind}"


def echo(s, text):
    s.sendall(text.encode())
    s.shutdown(socket.SHUT_WR)
    got = b""
    while b := s.recv(65536):
        got += b
    return got.decode()


def main():
    mode, addr = sys.argv[1], sys.argv[2]
    if mode == "proto":
        with socket.socket(family(addr), socket.SOCK_STREAM) as s:
            print(s.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL))
        return
    port = int(sys.argv[3])
    if mode == "echoserver":
        with socket.socket(family(addr), socket.SOCK_STREAM) as lst:
            lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            lst.bind((addr, port))
            lst.listen(8)
            print("listening", path(lst), flush=True)
            for _ in range(int(sys.argv[4])):
                conn, _ = lst.accept()
                with conn:
                    print("accepted", path(conn), flush=True)
                    while b := conn.recv(65536):
                        conn.sendall(b)
        return
    if mode in ("refused", "refused-nb"):
        with socket.socket(family(addr), socket.SOCK_STREAM) as s:
            if mode == "refused":
                try:
                    s.connect((addr, port))
                    print("connected")
                except OSError as e:
                    print(errno.errorcode.get(e.errno, e.errno))
                return
            s.setblocking(False)
            err = s.connect_ex((addr, port))
            if err == errno.EINPROGRESS:
                p = select.poll()
                p.register(s, select.POLLOUT)
                if not p.poll(60000):
                    print("no POLLOUT in 60 s")
                    return
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            print(errno.errorcode.get(err, err) if err else "connected")
        return
    text = sys.argv[4]
    with socket.socket(family(addr), socket.SOCK_STREAM) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if mode == "echo-nb":
            s.setblocking(False)
            err = s.connect_ex((addr, port))
            if err != errno.EINPROGRESS:
                print(f"connect_ex: {errno.errorcode.get(err, err)}")
                sys.exit(1)
            p = select.poll()
            p.register(s, select.POLLOUT)
            if not p.poll(60000):
                print("no POLLOUT in 60 s")
                sys.exit(1)
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                print(f"SO_ERROR: {errno.errorcode.get(err, err)}")
                sys.exit(1)
            s.setblocking(True)
        else:
            s.connect((addr, port))
        print(path(s), echo(s, text))


if __name__ == "__main__":
    main()
