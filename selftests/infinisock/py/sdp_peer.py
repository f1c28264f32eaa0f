#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""SDP through Python's own socket module: socket(AF_INET[6], SOCK_STREAM, 258).

  sdp_peer.py serve ADDR PORT          echo one connection, then exit
  sdp_peer.py echo ADDR PORT TEXT      send TEXT, print the echo
  sdp_peer.py sink ADDR PORT           read until EOF or error; print what ended it
  sdp_peer.py save ADDR PORT FILE      as sink, writing what it read to FILE
  sdp_peer.py hold ADDR PORT [FILE]    as sink (or save), after reading nothing for 5 s
  sdp_peer.py partial ADDR PORT        accept one connection, read 1000 bytes, close
  sdp_peer.py shutrd ADDR PORT         as partial, with shutdown(SHUT_RD), then 5 s, first
  sdp_peer.py fetch ADDR PORT FILE     connect, read until EOF or error into FILE
  sdp_peer.py spew ADDR PORT           accept one connection, write until an error; print it
  sdp_peer.py source ADDR PORT         write until an error; print it
  sdp_peer.py echoserver ADDR PORT     echo every connection, for ever
"""
import errno
import socket
import sys
import threading
import time

IPPROTO_SDP = 258


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def echo_until_eof(conn):
    with conn:
        try:
            while b := conn.recv(65536):
                conn.sendall(b)
        except OSError:
            pass


def main():
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "echoserver":
        with socket.socket(family(addr), socket.SOCK_STREAM, IPPROTO_SDP) as lst:
            lst.bind((addr, port))
            lst.listen(64)
            print("listening", flush=True)
            while True:
                conn, _ = lst.accept()
                threading.Thread(target=echo_until_eof, args=(conn,), daemon=True).start()
    if mode == "fetch":
        with socket.socket(family(addr), socket.SOCK_STREAM, IPPROTO_SDP) as s:
            s.connect((addr, port))
            return read_until_end(s, open(sys.argv[4], "wb"))
    if mode in ("serve", "sink", "spew", "save", "hold", "partial", "shutrd"):
        with socket.socket(family(addr), socket.SOCK_STREAM, IPPROTO_SDP) as lst:
            lst.bind((addr, port))
            lst.listen(1)
            print("listening", flush=True)
            conn, peer = lst.accept()
            with conn:
                if mode == "serve":
                    data = conn.recv(4096)
                    conn.sendall(data)
                    return 0
                if mode == "spew":
                    return write_until_error(conn)
                if mode in ("partial", "shutrd"):
                    got = conn.recv(1000, socket.MSG_WAITALL)
                    if mode == "shutrd":
                        conn.shutdown(socket.SHUT_RD)
                        time.sleep(5)
                    print(f"closed after {len(got)}", flush=True)
                    return 0
                if mode == "hold":
                    time.sleep(5)
                return read_until_end(conn, open(sys.argv[4], "wb") if len(sys.argv) > 4 else None)
    with socket.socket(family(addr), socket.SOCK_STREAM, IPPROTO_SDP) as s:
        s.connect((addr, port))
        if mode == "echo":
            s.sendall(sys.argv[4].encode())
            print(s.recv(4096).decode(), flush=True)
            return 0
        return write_until_error(s)


def read_until_end(conn, saved):
    """Reads until EOF or an error, into `saved` if given; prints what ended it."""
    total = 0
    try:
        while True:
            b = conn.recv(65536)
            if not b:
                print(f"eof after {total}", flush=True)
                return 0
            total += len(b)
            if saved:
                saved.write(b)
    except OSError as e:
        print(f"error {errno.errorcode.get(e.errno, e.errno)} after {total}", flush=True)
        return 0
    finally:
        if saved:
            saved.close()


def write_until_error(s):
    buf = b"x" * 65536
    total = 0
    try:
        while True:
            total += s.send(buf)
    except OSError as e:
        print(f"error {errno.errorcode.get(e.errno, e.errno)} after {total}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
