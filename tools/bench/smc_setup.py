#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Makes SMC-R usable over the VM's rxe pair, for the benchmark's comparison (smc-tools
is not packaged in Debian, so this speaks SMC's generic netlink itself).

SMC-R over rxe works only as SMC-Rv2 (rxe has RoCE v2 GIDs only). It needs:
  - a pnet table entry pairing each rxe device with its netdev: the RDMA half is
    accepted only in the initial network namespace, the netdev half only in the
    namespace that owns the netdev;
  - a user EID (UEID), which SMC-Rv2 peers must share;
  - net.smc.smcr_max_links_per_lgr=1 in each host, or SMC adds a second link inside
    one host (both rxe devices are visible in every namespace).

    smc_setup.py                   all of the above for hosts a and b (rxea/va, rxeb/vb)
    smc_setup.py pnet-ib PNETID DEV PORT
    smc_setup.py pnet-eth PNETID NETDEV
    smc_setup.py ueid EID
"""

import os
import socket
import struct
import subprocess
import sys

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLMSG_ERROR = 2

# include/uapi/linux/smc.h
SMC_PNETID_ADD = 2
SMC_PNETID_NAME, SMC_PNETID_ETHNAME, SMC_PNETID_IBNAME, SMC_PNETID_IBPORT = 1, 2, 3, 4
SMC_NETLINK_ADD_UEID = 10
SMC_NLA_EID_TABLE_ENTRY = 1
SMC_MAX_EID_LEN = 32

PNETID = "INFINISOCK"
UEID = "INFINISOCK-BENCH"


def attr(kind, payload):
    a = struct.pack("HH", 4 + len(payload), kind) + payload
    return a + b"\0" * (-len(a) % 4)


def cstr(s):
    return s.encode() + b"\0"


class Genl:
    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        self.sock.bind((0, 0))
        self.seq = 0

    def request(self, family, cmd, attrs, version=1):
        self.seq += 1
        body = struct.pack("BBH", cmd, version, 0) + b"".join(attrs)
        msg = struct.pack("IHHII", 16 + len(body), family, NLM_F_REQUEST | NLM_F_ACK, self.seq, 0) + body
        self.sock.send(msg)
        replies = []
        while True:
            data = self.sock.recv(65536)
            off = 0
            while off < len(data):
                length, kind, _, _, _ = struct.unpack_from("IHHII", data, off)
                payload = data[off + 16:off + length]
                if kind == NLMSG_ERROR:
                    err = struct.unpack_from("i", payload)[0]
                    if err:
                        raise OSError(-err, os.strerror(-err))
                    return replies
                replies.append((kind, payload))
                off += (length + 3) & ~3

    def family(self, name):
        for _, payload in self.request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, [attr(CTRL_ATTR_FAMILY_NAME, cstr(name))]):
            off = 4
            while off < len(payload):
                alen, kind = struct.unpack_from("HH", payload, off)
                if kind == CTRL_ATTR_FAMILY_ID:
                    return struct.unpack_from("H", payload, off + 4)[0]
                off += (alen + 3) & ~3
        raise OSError("generic netlink family %s not found" % name)


def pnet_add(attrs):
    g = Genl()
    g.request(g.family("SMC_PNETID"), SMC_PNETID_ADD, attrs)


def ueid_add(eid):
    padded = eid.upper().ljust(SMC_MAX_EID_LEN)[:SMC_MAX_EID_LEN]
    g = Genl()
    try:
        g.request(g.family("SMC_GEN_NETLINK"), SMC_NETLINK_ADD_UEID, [attr(SMC_NLA_EID_TABLE_ENTRY, cstr(padded))])
    except OSError as e:
        if e.errno != 17:  # EEXIST: set by an earlier run
            raise


def in_netns(ns, *args):
    subprocess.run(["ip", "netns", "exec", ns, sys.executable, os.path.abspath(__file__)] + list(args), check=True)


def setup_all():
    for host in ("a", "b"):
        try:
            pnet_add([attr(SMC_PNETID_NAME, cstr(PNETID)), attr(SMC_PNETID_IBNAME, cstr("rxe" + host)),
                      attr(SMC_PNETID_IBPORT, struct.pack("B", 1))])
        except OSError as e:
            if e.errno != 17:
                raise
        in_netns(host, "pnet-eth", PNETID, "v" + host)
        subprocess.run(["ip", "netns", "exec", host, "sysctl", "-qw", "net.smc.smcr_max_links_per_lgr=1"], check=True)
    ueid_add(UEID)
    print("SMC-R: pnet %s on rxea/va and rxeb/vb, UEID %s, one link per link group" % (PNETID, UEID))


def main(argv):
    if not argv:
        return setup_all()
    if argv[0] == "pnet-ib" and len(argv) == 4:
        return pnet_add([attr(SMC_PNETID_NAME, cstr(argv[1])), attr(SMC_PNETID_IBNAME, cstr(argv[2])),
                         attr(SMC_PNETID_IBPORT, struct.pack("B", int(argv[3])))])
    if argv[0] == "pnet-eth" and len(argv) == 3:
        try:
            return pnet_add([attr(SMC_PNETID_NAME, cstr(argv[1])), attr(SMC_PNETID_ETHNAME, cstr(argv[2]))])
        except OSError as e:
            if e.errno != 17:
                raise
            return None
    if argv[0] == "ueid" and len(argv) == 2:
        return ueid_add(argv[1])
    print(__doc__, file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
