#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""SDP through Python's own socket module: socket(AF_INET[6], SOCK_STREAM, 258).

  sdp_peer.py serve ADDR PORT          echo one connection, then exit
  sdp_peer.py echo ADDR PORT TEXT      send TEXT, print the echo
  sdp_peer.py sink ADDR PORT           read until EOF or error; print what ended it
  sdp_peer.py save ADDR PORT FILE      as sink, writing what it read to FILE
  sdp_peer.py hold ADDR PORT [FILE]    as sink (or save), after reading nothing for 5 s
  sdp_peer.py saveinto ADDR PORT FILE N [alarm|rcvtimeo]
                                       as save, each recv_into() of one reused buffer of
                                       N bytes with MSG_WAITALL ("alarm": SIGALRM every
                                       ms interrupts them; "rcvtimeo": SO_RCVTIMEO of 1
                                       ms ends them); prints "eof after T calls C short S"
                                       (S: calls that returned fewer than N bytes)
  sdp_peer.py partial ADDR PORT        accept one connection, read 1000 bytes, close
  sdp_peer.py shutrd ADDR PORT         as partial, with shutdown(SHUT_RD), then 5 s, first
  sdp_peer.py fetch ADDR PORT FILE     connect, read until EOF or error into FILE
  sdp_peer.py spew ADDR PORT           accept one connection, write until an error; print it
  sdp_peer.py source ADDR PORT         write until an error; print it
  sdp_peer.py send ADDR PORT FILE      connect, send FILE in pieces of many sizes and
                                       offsets from one buffer overwritten after each
                                       send() returns; print "sent N", or the error
  sdp_peer.py sendfile ADDR PORT FILE [nonblock] [chunked] [nodelay]
                                       connect, send FILE with sendfile(2); print "sent N"
                                       ("nonblock": from a non-blocking socket, waiting
                                       for POLLOUT after EAGAIN; " eagain A spurious S"
                                       follows, S: EAGAINs right after a POLLOUT;
                                       "chunked": 64 KiB a call, as iperf3 -Z does;
                                       "nodelay": with TCP_NODELAY)
  sdp_peer.py splice ADDR PORT FILE    connect, send FILE with splice(2) through a pipe
                                       of 1 MiB; print "sent N"
  sdp_peer.py twice ADDR PORT N        connect, send N bytes of "A" and N of "B" from two
                                       threads at once; print "sent 2N", or the error
  sdp_peer.py oobsend ADDR PORT FILE   connect, send one urgent byte (MSG_OOB), then
                                       after 1 s FILE in one send(); print "sent N"
  sdp_peer.py saveback ADDR PORT FILE N
                                       as save, writing N bytes back meanwhile from a
                                       thread; prints "eof after M wrote N"
  sdp_peer.py sendread ADDR PORT FILE N
                                       as send, reading nothing until it is sent; then
                                       shutdown(SHUT_WR) and read N bytes; prints
                                       "sent M read N"
  sdp_peer.py cut ADDR PORT HOW        connect, send 4 MiB once, cut short by HOW: a
                                       0.5 s SO_SNDTIMEO ("timeout") or a signal then
                                       ("signal"); print "sent N" of what send() returned
  sdp_peer.py killed ADDR PORT N       connect; a child sends 4 MiB of "z" once and is
                                       killed (SIGKILL) 0.5 s into that send(); then the
                                       parent sends N bytes of "y" on the same socket;
                                       print "tail sent N", or the error
  sdp_peer.py racy ADDR PORT HOW       connect, send 8 MiB of "z" once from an anonymous
                                       mapping while another thread, 0.3 s in, unmaps
                                       it ("munmap") or forks a child that fills its
                                       copy with "C" ("fork"); print "sent N" of what
                                       send() returned, or the error, then " during"
                                       if the thread acted before send() returned
  sdp_peer.py msgzc ADDR PORT [sdp] SIZE...
                                       connect an IPPROTO_SDP_HYBRID socket (with
                                       "sdp": IPPROTO_SDP) with SO_ZEROCOPY, send()
                                       each SIZE of "q" with MSG_ZEROCOPY and read
                                       its notification; print "transport P" ("sdp"
                                       for IPPROTO_SDP), "ID:z" (not copied), "ID:c"
                                       or the errno's name per send, then "sent N"
  sdp_peer.py msgzcburst ADDR PORT N [close]
                                       connect, with SO_ZEROCOPY send() 1 MiB of letter i
                                       from each of N page-aligned buffers back to back
                                       with MSG_ZEROCOPY, then read every notification,
                                       overwriting each buffer with "!" once its id is
                                       notified; print "returned R outq Q notified
                                       ID-ID:z|c ... sent N" (R sends returned before
                                       any notification, Q: SIOCOUTQ after the last),
                                       and " error E" if the connection failed
                                       meanwhile; "close": close the socket and exit
                                       right after the sends instead, printing
                                       "returned R outq Q sent N closed"
  sdp_peer.py msgzcserve ADDR PORT [sdp]
                                       a hybrid listener (with "sdp": IPPROTO_SDP)
                                       with SO_ZEROCOPY; its accepted stream turns it
                                       off and on, sends 1000 bytes with MSG_ZEROCOPY
                                       and closes, its notification unread; prints
                                       "zerocopy Z off O sent N pending"
  sdp_peer.py echoserver ADDR PORT     echo every connection, for ever
  sdp_peer.py threshsend ADDR PORT FILE SIZE THRESH [hybrid]
                                       connect, set SDP_ZCOPY_THRESH to THRESH (unless
                                       "default") first, send FILE in pieces of SIZE as
                                       send does; print "sent N thresh T" (T:
                                       getsockopt before connect); "hybrid": an IPPROTO_SDP_HYBRID
                                       socket, and " transport P" follows (1: SDP);
                                       "show": then the connection's zero-copy
                                       threshold and adverts as /proc/net/infinisock/sdp
                                       and infinisock-ss (INFINISOCK_SS) show them:
                                       " proc T A diag T FLAGS A" follows
  sdp_peer.py threshserve ADDR PORT FILE SIZE THRESH
                                       as threshsend, but the option is set on the
                                       listener and FILE goes to the one connection
                                       it accepts (which inherits the option; T is
                                       its getsockopt)
"""
import errno
import fcntl
import os
import signal
import socket
import struct
import sys
import threading
import time

IPPROTO_SDP = 258
SDP_ZCOPY_THRESH = 80  # SOL_TCP, OFED SDP's option
IPPROTO_SDP_HYBRID = 259
SOL_INFINISOCK = 0x4942
INFINISOCK_TRANSPORT = 9
SO_ZEROCOPY = 60
MSG_ZEROCOPY = 0x4000000


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
    if mode in ("threshsend", "threshserve"):
        return send_with_thresh(mode == "threshserve", addr, port, *sys.argv[4:8])
    if mode in ("msgzc", "msgzcserve"):
        sdp = sys.argv[4:5] == ["sdp"]
        proto = IPPROTO_SDP if sdp else IPPROTO_SDP_HYBRID
        if mode == "msgzcserve":
            return serve_msg_zerocopy(addr, port, proto)
        return send_msg_zerocopy(addr, port, proto, [int(n) for n in sys.argv[4 + sdp:]])
    if mode == "fetch":
        with socket.socket(family(addr), socket.SOCK_STREAM, IPPROTO_SDP) as s:
            s.connect((addr, port))
            return read_until_end(s, open(sys.argv[4], "wb"))
    if mode in ("serve", "sink", "spew", "save", "hold", "partial", "shutrd", "saveback", "saveinto"):
        with socket.socket(family(addr), socket.SOCK_STREAM, IPPROTO_SDP) as lst:
            lst.bind((addr, port))
            lst.listen(1)
            print("listening", flush=True)
            conn, peer = lst.accept()
            with conn:
                if mode == "saveinto":
                    return save_into(conn, sys.argv[4], int(sys.argv[5]), sys.argv[6] if len(sys.argv) > 6 else "")
                if mode == "saveback":
                    n = int(sys.argv[5])
                    back = threading.Thread(target=conn.sendall, args=(b"Y" * n,))
                    back.start()
                    total = read_until_end(conn, open(sys.argv[4], "wb"), quiet=True)
                    back.join()
                    print(f"eof after {total} wrote {n}", flush=True)
                    return 0
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
        if mode == "send":
            return send_pieces(s, open(sys.argv[4], "rb").read())
        if mode == "sendread":
            n = int(sys.argv[5])
            if send_pieces(s, open(sys.argv[4], "rb").read(), quiet=True) is None:
                return 0
            s.shutdown(socket.SHUT_WR)
            got = len(s.recv(n, socket.MSG_WAITALL))
            print(f"sent {os.path.getsize(sys.argv[4])} read {got}", flush=True)
            return 0
        if mode in ("sendfile", "splice"):
            words = set(sys.argv[5:])
            if "nodelay" in words:
                s.setsockopt(socket.SOL_TCP, socket.TCP_NODELAY, 1)
            return send_file_pages(s, sys.argv[4], mode == "splice", "nonblock" in words, "chunked" in words)
        if mode == "oobsend":
            data = open(sys.argv[4], "rb").read()
            s.send(b"!", socket.MSG_OOB)
            time.sleep(1)
            s.sendall(data)
            print(f"sent {len(data)}", flush=True)
            return 0
        if mode == "twice":
            return send_twice(s, int(sys.argv[4]))
        if mode == "cut":
            return send_cut(s, sys.argv[4])
        if mode == "killed":
            return send_after_killed(s, int(sys.argv[4]))
        if mode == "racy":
            return send_racy(s, sys.argv[4])
        if mode == "msgzcburst":
            return send_msg_zerocopy_burst(s, int(sys.argv[4]), 1 << 20, sys.argv[5] if len(sys.argv) > 5 else "")
        return write_until_error(s)


def save_into(conn, path, n, how):
    """Reads until EOF into one reused buffer of n bytes, MSG_WAITALL, interrupted as
    `how` says; writes what it read to path."""
    buf = bytearray(n)
    total = calls = short = 0
    if how == "alarm":
        # A handler that returns: a recv() it interrupts after some bytes returns them,
        # one that had none is retried (PEP 475).
        signal.signal(signal.SIGALRM, lambda *_: None)
        signal.siginterrupt(signal.SIGALRM, True)
        signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
    if how == "rcvtimeo":
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 1000))
    with open(path, "wb") as saved:
        while True:
            try:
                got = conn.recv_into(buf, n, socket.MSG_WAITALL)
            except BlockingIOError:
                continue
            calls += 1
            if not got:
                break
            short += got < n
            total += got
            saved.write(memoryview(buf)[:got])
    signal.setitimer(signal.ITIMER_REAL, 0)
    print(f"eof after {total} calls {calls} short {short}", flush=True)
    return 0


def read_until_end(conn, saved, quiet=False):
    """Reads until EOF or an error, into `saved` if given; prints what ended it
    (unless `quiet` at EOF, returning the count then)."""
    total = 0
    try:
        while True:
            b = conn.recv(65536)
            if not b:
                if quiet:
                    return total
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


def send_with_thresh(serve, addr, port, path, size, thresh, kind="sdp"):
    """SDP_ZCOPY_THRESH set to `thresh` on the connecting socket, or on the listener
    (`serve`), then the file sent in pieces of `size`; `kind` "hybrid": the
    connecting socket is an IPPROTO_SDP_HYBRID one."""
    def configured(s):
        if thresh != "default":
            s.setsockopt(socket.SOL_TCP, SDP_ZCOPY_THRESH, int(thresh))
        return s

    data = open(path, "rb").read()
    proto = IPPROTO_SDP_HYBRID if kind == "hybrid" else IPPROTO_SDP
    with configured(socket.socket(family(addr), socket.SOCK_STREAM, proto)) as s:
        if serve:
            s.bind((addr, port))
            s.listen(1)
            print("listening", flush=True)
            conn, _ = s.accept()
            # What the connection inherited.
            value = conn.getsockopt(socket.SOL_TCP, SDP_ZCOPY_THRESH)
        else:
            # Before the path is chosen: a hybrid answers from its SDP side.
            value = s.getsockopt(socket.SOL_TCP, SDP_ZCOPY_THRESH)
            s.connect((addr, port))
            conn = s
        with conn:
            if send_pieces(conn, data, quiet=True, sizes=[int(size)]) is None:
                return 0
            path = ""
            if kind == "hybrid":
                path = f" transport {conn.getsockopt(SOL_INFINISOCK, INFINISOCK_TRANSPORT) & 0xff}"
            elif kind == "show":
                path = shown_zero_copy(conn.getsockname()[1])
            print(f"sent {len(data)} thresh {value}{path}", flush=True)
    return 0


def shown_zero_copy(port):
    """The zero-copy threshold and adverts of the established connection from local
    `port`: the /proc/net/infinisock/sdp columns (by the header's names), then
    infinisock-ss -i -j's fields."""
    import json
    import subprocess
    # A row is "busy" while the module holds the connection's lock: look again.
    for _ in range(20):
        with open("/proc/net/infinisock/sdp") as f:
            header = f.readline().split()
            rows = [dict(zip(header, line.split())) for line in f]
        mine = [r for r in rows if r["local"].endswith(f":{port}") and r["state"] == "established"]
        proc = " ".join(f"{r['zc_thresh']} {r['zc_adverts']}" for r in mine) or "none"
        out = subprocess.run([os.environ["INFINISOCK_SS"], "-i", "-j", "--sport", str(port)],
                             check=True, capture_output=True, text=True).stdout
        infos = [r["sdp"] for r in json.loads(out)]
        diag = " ".join(f"{i['zc_thresh']} {','.join(i['flags']) or '-'} {i['zc_adverts_out']}/{i['zc_adverts_in']}"
                        for i in infos) or "none"
        if mine and infos and not any("busy" in i["flags"] for i in infos):
            break
        time.sleep(0.1)
    return f" proc {proc} diag {diag}"


def send_pieces(s, data, quiet=False, sizes=None):
    """Sends `data` in pieces of many sizes (or of `sizes`), each from one scratch
    buffer at some offset, overwriting the piece once send() returned: a blocking
    send() returns only when the program may reuse its buffer, so the peer must get
    `data` whole."""
    sizes = sizes or [65536, 1, 1 << 20, 100000, (3 << 20) + 7, 65535, 196613, 2 << 20, 4 << 20]
    offsets = [0, 1, 4095, 123, 2048]
    scratch = bytearray(max(sizes) + 4096)
    view = memoryview(scratch)
    at = i = 0
    try:
        while at < len(data):
            n = min(sizes[i % len(sizes)], len(data) - at)
            off = offsets[i % len(offsets)]
            scratch[off:off + n] = data[at:at + n]
            s.sendall(view[off:off + n])
            scratch[off:off + n] = bytes([0xAA]) * n
            at += n
            i += 1
    except OSError as e:
        print(f"error {errno.errorcode.get(e.errno, e.errno)} after {at}", flush=True)
        return None if quiet else 0
    if not quiet:
        print(f"sent {at}", flush=True)
    return 0


def send_file_pages(s, path, through_pipe, nonblock=False, chunked=False):
    """Sends the file at `path` from its page cache: with sendfile(2), or with
    splice(2) into a pipe of 1 MiB and from it to the socket. `nonblock`: from a
    non-blocking socket, each EAGAIN waiting for POLLOUT (10 s at most). `chunked`:
    sendfile(2) of 64 KiB a call, each without MSG_MORE."""
    import select
    # spurious: EAGAIN right after POLLOUT said the socket took more.
    sent, eagain, spurious, pollout = 0, 0, 0, False
    s.setblocking(not nonblock)
    # Only a non-blocking sender waits for room.
    room = select.poll()
    if nonblock:
        room.register(s, select.POLLOUT)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        try:
            if through_pipe:
                r, w = os.pipe()
                with open(r, "rb", buffering=0), open(w, "wb", buffering=0):
                    fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 1 << 20)
                    while sent < size:
                        n = os.splice(f.fileno(), w, min(1 << 20, size - sent))
                        while n > 0:
                            m = os.splice(r, s.fileno(), n)
                            n -= m
                            sent += m
            else:
                while sent < size:
                    try:
                        chunk = min(1 << 16, size - sent) if chunked else size - sent
                        sent += os.sendfile(s.fileno(), f.fileno(), sent, chunk)
                        pollout = False
                    except BlockingIOError:
                        eagain += 1
                        spurious += pollout
                        if not room.poll(10000):
                            print(f"no POLLOUT within 10 s after {sent}", flush=True)
                            return 0
                        pollout = True
        except OSError as e:
            print(f"error {errno.errorcode.get(e.errno, e.errno)} after {sent}", flush=True)
            return 0
    print(f"sent {sent}" + (f" eagain {eagain} spurious {spurious}" if nonblock else ""), flush=True)
    return 0


def send_twice(s, n):
    """Two threads send n bytes each on one socket; each send() is 1 MiB."""
    errors = []

    def writer(byte):
        try:
            block = byte * (1 << 20)
            left = n
            while left:
                left -= s.send(block[:left])
        except OSError as e:
            errors.append(errno.errorcode.get(e.errno, e.errno))

    threads = [threading.Thread(target=writer, args=(b,)) for b in (b"A", b"B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"error {errors[0]}" if errors else f"sent {2 * n}", flush=True)
    return 0


def send_cut(s, how):
    """One send() of 4 MiB that a 0.5 s SO_SNDTIMEO or a signal cuts short."""
    import signal
    if how == "timeout":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 0, 500000))
    else:
        signal.signal(signal.SIGALRM, lambda *_: None)
        signal.setitimer(signal.ITIMER_REAL, 0.5)
    began = time.monotonic()
    try:
        n = s.send(b"z" * (4 << 20))
    except OSError as e:
        print(f"error {errno.errorcode.get(e.errno, e.errno)}", flush=True)
        return 0
    print(f"sent {n} in {time.monotonic() - began:.1f} s", flush=True)
    return 0


def send_racy(s, how):
    """One send() of 8 MiB from a mapping another thread unmaps, or forks, 0.3 s in."""
    import ctypes
    import mmap
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    size = 8 << 20
    addr = libc.mmap(None, size, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
    if addr is None or addr == ctypes.c_void_p(-1).value:
        print(f"mmap failed: {os.strerror(ctypes.get_errno())}", flush=True)
        return 1
    ctypes.memset(addr, ord("z"), size)
    sending = threading.Event()
    sending.set()
    acted_during = []

    def meddle():
        time.sleep(0.3)
        acted_during.append(sending.is_set())
        if how == "munmap":
            libc.munmap(addr, size)
            return
        pid = os.fork()
        if pid == 0:
            ctypes.memset(addr, ord("C"), size)
            os._exit(0)
        os.waitpid(pid, 0)

    meddler = threading.Thread(target=meddle)
    meddler.start()
    # send() gets the address; nothing here touches the memory after the thread acts.
    try:
        n = s.send((ctypes.c_char * size).from_address(addr))
        out = f"sent {n}"
    except OSError as e:
        out = f"error {errno.errorcode.get(e.errno, e.errno)}"
    sending.clear()
    meddler.join()
    print(out + (" during" if acted_during[0] else ""), flush=True)
    return 0


def send_msg_zerocopy(addr, port, proto, sizes):
    """MSG_ZEROCOPY as TCP offers it, on an SDP stream of protocol `proto` (a hybrid's
    SDP path, or IPPROTO_SDP; "transport sdp" for the latter): one send()
    of each size from one buffer, each followed by its notification, read at once
    from the error queue; prints "transport P" and, per send, "ID:z" (no byte
    copied), "ID:c" (SO_EE_CODE_ZEROCOPY_COPIED) or the errno's name of a send that
    failed, then "sent N"."""
    import select
    recverr = {(socket.IPPROTO_IP, 11), (socket.IPPROTO_IPV6, 25)}
    s = socket.socket(family(addr), socket.SOCK_STREAM, proto)
    s.setsockopt(socket.SOL_SOCKET, SO_ZEROCOPY, 1)
    s.connect((addr, port))
    hybrid = proto == IPPROTO_SDP_HYBRID
    out = [f"transport {s.getsockopt(SOL_INFINISOCK, INFINISOCK_TRANSPORT) if hybrid else 'sdp'}"]
    buf = bytearray(b"q" * max(sizes))
    total = 0
    for size in sizes:
        try:
            total += s.send(memoryview(buf)[:size], MSG_ZEROCOPY)
        except OSError as e:
            out.append(errno.errorcode.get(e.errno, str(e.errno)))
            continue
        poller = select.poll()
        poller.register(s, select.POLLERR)
        if not poller.poll(10000):
            print("no POLLERR within 10 s", flush=True)
            return 0
        _, anc, flags, _ = s.recvmsg(0, 1024, socket.MSG_ERRQUEUE)
        level, kind, data = anc[0]
        errno_, origin, _type, code, _pad, info, hi = struct.unpack("=IBBBBII", data[:16])
        if (level, kind) not in recverr or origin != 5 or errno_ != 0 or not flags & socket.MSG_ERRQUEUE:
            print(f"bad notification: level {level} type {kind} origin {origin} errno {errno_} flags {flags:#x}", flush=True)
            return 0
        out.append(f"{info}:{'c' if code & 1 else 'z'}" if info == hi else f"{info}-{hi}:?")
    s.close()
    print(" ".join(out + [f"sent {total}"]), flush=True)
    return 0


def send_msg_zerocopy_burst(s, count, size, how):
    """`count` MSG_ZEROCOPY sends of `size` bytes on the connected `s`, back to
    back, each from a page-aligned mapping of its own filled with letter i, none
    waiting for a notification; then every notification, each mapping overwritten
    with "!" as soon as the ids of all its bytes are notified (the peer must never
    see one). Prints "returned R outq Q notified ID-ID:z|c ... sent N": R calls
    returned before any notification had come, Q bytes not yet taken by the peer
    (SIOCOUTQ) after the last send; " error E" follows if the connection failed
    meanwhile (its notifications must come all the same). `how`:
      "close"     the socket is closed and the program ends right after the sends,
                  its notifications unread (the stream must still deliver every
                  byte as it was); prints "returned R outq Q sent N closed"
      "nonblock"  a non-blocking socket: a partial send is taken up where it ended,
                  and an EAGAIN waits for POLLOUT, taking notifications meanwhile, as
                  TCP's msg_zerocopy test does; " calls C eagain A spurious S" follows
                  N (S: EAGAINs right after a POLLOUT, which promised room)"""
    import mmap
    import select
    import termios
    s.setsockopt(socket.SOL_SOCKET, SO_ZEROCOPY, 1)
    s.setblocking(how != "nonblock")
    bufs = []
    for i in range(count):
        m = mmap.mmap(-1, size)
        m.write(bytes([ord("a") + i % 26]) * size)
        bufs.append(m)
    errpoll, outpoll = select.poll(), select.poll()
    errpoll.register(s, select.POLLERR)
    outpoll.register(s, select.POLLOUT | select.POLLERR)
    # calls[id]: the buffer the call of that id sent from; unsent[i]: its bytes not
    # sent yet, or not notified.
    calls, unsent, notified, failed = [], [size] * count, [], ""
    # spurious: EAGAIN right after POLLOUT said the socket took more.
    total, early, eagain, spurious, pollout = 0, 0, 0, 0, False

    def notification(room=False):
        """Takes one notification (or the connection's error), or with `room` sees
        POLLOUT instead; False if neither came within 20 s, or a wrong one."""
        nonlocal failed, pollout
        deadline = time.monotonic() + 20
        while True:
            left = max(0, int((deadline - time.monotonic()) * 1000))
            events = 0
            for _, e in (outpoll if room else errpoll).poll(left):
                events |= e
            pollout = room and bool(events & select.POLLOUT)
            if events & select.POLLERR:
                break
            if pollout:
                return True
            if time.monotonic() >= deadline:
                print(f"returned {early} outq {outq} notified {' '.join(notified)}{failed}: no POLLERR within 20 s", flush=True)
                return False
            if events:
                # POLLHUP alone: the connection is over, and polls return at once;
                # the notifications still come, as its pages are released.
                time.sleep(0.05)
        try:
            _, anc, _, _ = s.recvmsg(0, 1024, socket.MSG_ERRQUEUE)
        except BlockingIOError:
            # POLLERR for the connection's error, not a notification: taken, so
            # that the next poll waits for the error queue.
            e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if not e:
                print("POLLERR with neither a notification nor an error", flush=True)
                return False
            failed = f" error {errno.errorcode.get(e, e)}"
            return True
        _errno, origin, _type, code, _pad, lo, hi = struct.unpack("=IBBBBII", anc[0][2][:16])
        if origin != 5 or hi >= len(calls) or any(calls[i] is None for i in range(lo, hi + 1)):
            print(f"bad notification: origin {origin} ids {lo}-{hi} of {len(calls)}", flush=True)
            return False
        notified.append(f"{lo}-{hi}:{'c' if code & 1 else 'z'}")
        for i in range(lo, hi + 1):
            b, n = calls[i]
            calls[i] = None
            unsent[b] -= n
            if unsent[b] == 0:
                bufs[b].seek(0)
                bufs[b].write(b"!" * size)
        return True

    outq = "?"
    for b, m in enumerate(bufs):
        off = 0
        while off < size and not failed:
            try:
                n = s.send(memoryview(m)[off:], MSG_ZEROCOPY)
            except BlockingIOError:
                eagain += 1
                spurious += pollout
                if not notification(room=True):
                    return 0
                continue
            except OSError as e:
                # The connection failed during the sends: the calls that returned
                # are still notified.
                failed = f" error {errno.errorcode.get(e.errno, e.errno)}"
                break
            pollout = False
            calls.append((b, n))
            off += n
            total += n
            if not errpoll.poll(0):
                early += 1
        unsent[b] -= size - off
    try:
        outq = struct.unpack("i", fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]
    except OSError:
        outq = -1
    if how == "close":
        print(f"returned {early} outq {outq} sent {total} closed", flush=True)
        return 0
    while any(c is not None for c in calls):
        if not notification():
            return 0
    e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if e:
        failed = f" error {errno.errorcode.get(e, e)}"
    more = f" calls {len(calls)} eagain {eagain} spurious {spurious}" if how == "nonblock" else ""
    print(f"returned {early} outq {outq} notified {' '.join(notified)} sent {total}{more}{failed}", flush=True)
    return 0


def serve_msg_zerocopy(addr, port, proto):
    """A listener of protocol `proto` with SO_ZEROCOPY; its one accepted stream
    turns the option off and on again, sends 1000 bytes with MSG_ZEROCOPY and is
    closed with the notification unread; prints "zerocopy Z off O sent N pending" (Z: the accepted
    socket's SO_ZEROCOPY, O: after it was turned off)."""
    import select
    with socket.socket(family(addr), socket.SOCK_STREAM, proto) as l:
        l.setsockopt(socket.SOL_SOCKET, SO_ZEROCOPY, 1)
        l.bind((addr, port))
        l.listen(1)
        print("listening", flush=True)
        c, _ = l.accept()
    zc = c.getsockopt(socket.SOL_SOCKET, SO_ZEROCOPY)
    c.setsockopt(socket.SOL_SOCKET, SO_ZEROCOPY, 0)
    off = c.getsockopt(socket.SOL_SOCKET, SO_ZEROCOPY)
    c.setsockopt(socket.SOL_SOCKET, SO_ZEROCOPY, 1)
    n = c.send(b"q" * 1000, MSG_ZEROCOPY)
    poller = select.poll()
    poller.register(c, select.POLLERR)
    pending = "pending" if poller.poll(10000) else "none"
    c.close()
    print(f"zerocopy {zc} off {off} sent {n} {pending}", flush=True)
    return 0


def send_after_killed(s, n):
    """A child killed in the middle of its send() of 4 MiB; then the parent, which
    shares the connection, sends n bytes of "y" on it."""
    import signal
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        os.write(ready_w, b"!")
        s.send(b"z" * (4 << 20))
        os._exit(0)
    os.close(ready_w)
    os.read(ready_r, 1)
    time.sleep(0.5)
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if not os.WIFSIGNALED(status):
        print(f"the child was not killed: its send() ended first (status {status})", flush=True)
        return 0
    try:
        s.sendall(b"y" * n)
    except OSError as e:
        print(f"error {errno.errorcode.get(e.errno, e.errno)}", flush=True)
        return 0
    print(f"tail sent {n}", flush=True)
    return 0


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
