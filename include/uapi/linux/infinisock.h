/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * InfiniSock: sockets over InfiniBand/RDMA.
 *
 * Userspace-visible constants of the infinisock module: the protocol number that
 * selects SDP under AF_INET/AF_INET6, the AF_IB family the module registers, and
 * its socket address.
 */
#ifndef _UAPI_LINUX_INFINISOCK_H
#define _UAPI_LINUX_INFINISOCK_H

/*
 * Sockets Direct Protocol under AF_INET/AF_INET6:
 *	socket(AF_INET, SOCK_STREAM, IPPROTO_SDP)
 * Protocol numbers at or above IPPROTO_MAX - 7 are reserved for protocols that are
 * not IP protocols; 256 is SMC, 262 MPTCP. 258 is unused upstream.
 */
#define IPPROTO_SDP	258

/*
 * A hybrid stream: SDP where the namespace's transparent policy
 * (net.infinisock.sdp_transparent) and the peer allow it, TCP otherwise, with the same
 * socket calls. Transparent mode turns programs' TCP sockets into these; a program
 * may also ask for one. getsockopt(SOL_INFINISOCK, INFINISOCK_TRANSPORT) tells which
 * path a connected socket took.
 */
#define IPPROTO_SDP_HYBRID	259

/* AF_IB is defined by <linux/socket.h>; repeated for userspace that lacks it. */
#ifndef AF_IB
#define AF_IB		27
#endif
#ifndef PF_IB
#define PF_IB		AF_IB
#endif

#include <linux/ioctl.h>
#include <linux/types.h>

/*
 * AF_IB socket addresses, layout-compatible with rdma-core's <infiniband/ib.h> (which
 * defines the same structures: include it first if you use both).
 *
 *	sib_family	AF_IB
 *	sib_pkey	partition key: 0 or 0xffff (the default partition, RoCE's only one)
 *	sib_flowinfo	IPv6 flow information (IPv6 GIDs only)
 *	sib_addr	the GID. On RoCE a GID is an IP address: ::ffff:a.b.c.d is the IPv4
 *			address a.b.c.d, any other GID the IPv6 address it spells; :: is
 *			the wildcard (bind)
 *	sib_sid		service ID: INFINISOCK_SID_PS_TCP + port (big-endian), as rdma_cm
 *			numbers its RDMA_PS_TCP port space; 0 for port 0 (bind: any port)
 *	sib_sid_mask	0 or all ones
 *	sib_scope_id	the interface of a link-local IPv6 GID, else 0
 *
 * Anything else is EINVAL. AF_IB sockets also take sockaddr_in and sockaddr_in6.
 *
 * Streams (SOCK_STREAM) and message sockets (SOCK_SEQPACKET) have separate port
 * spaces, rdma_cm's RDMA_PS_TCP and RDMA_PS_IB, as TCP and UDP do: a service ID of the
 * other one is EINVAL.
 */
#define INFINISOCK_SID_PS_TCP	0x0000000001060000ULL	/* SOCK_STREAM */
#define INFINISOCK_SID_PS_IB	0x00000000013f0000ULL	/* SOCK_SEQPACKET */

/*
 * Socket options: getsockopt/setsockopt(fd, SOL_INFINISOCK, name, ...). AF_IB sockets
 * answer INFINISOCK_MAX_MSG_SIZE and the verbs options below, hybrid streams
 * (IPPROTO_SDP_HYBRID) INFINISOCK_TRANSPORT. Only INFINISOCK_MAX_MSG_SIZE can be
 * set, and only on an AF_IB SOCK_SEQPACKET socket; every other setsockopt() at this
 * level is ENOPROTOOPT. An IPPROTO_SDP socket under AF_INET/AF_INET6 answers
 * ENOPROTOOPT to every SOL_INFINISOCK option, as any socket does to one it lacks.
 */
#define SOL_INFINISOCK		0x4942

/*
 * int, AF_IB SOCK_SEQPACKET: the largest message, 1 to 1048560 bytes (default: the
 * net.infinisock.sdp_buffer_size sysctl minus 16; EINVAL outside that or for a value
 * shorter than an int). Settable until connect() (then EISCONN); an accepted socket
 * has its listener's at the time it arrived. A connected socket reports the
 * connection's: the smaller of the two ends'. A larger sendmsg() fails with EMSGSIZE.
 */
#define INFINISOCK_MAX_MSG_SIZE	1

/*
 * Read-only, AF_IB sockets of either type: the verbs objects behind the socket. The
 * device and port are known once the socket is bound to a specific address or
 * connected, the QP once connected; before that ENOTCONN. (SOCK_STREAM answers
 * INFINISOCK_MAX_MSG_SIZE too: the largest SDP message payload, read-only.)
 */
#define INFINISOCK_DEVICE	2	/* char[64]: the RDMA device's name */
#define INFINISOCK_PORT		3	/* int: its port number */
#define INFINISOCK_GID		4	/* 16 bytes: the local GID */
#define INFINISOCK_QP_NUM	5	/* int: the local queue pair number */
#define INFINISOCK_PEER_QP_NUM	6	/* int: the peer's queue pair number */
#define INFINISOCK_PATH_MTU	7	/* int: the path MTU, bytes */
#define INFINISOCK_MAX_INLINE	8	/* int: inline data a send request takes, bytes */
/*
 * Read-only, hybrid streams (IPPROTO_SDP_HYBRID) only, whichever path they took: the
 * int is one of INFINISOCK_TRANSPORT_* in its low byte and, for TCP, why the socket
 * left SDP (INFINISOCK_FALLBACK_*) in the next byte. A TCP connection a hybrid
 * listener's accept() hands out is a plain TCP socket and answers ENOPROTOOPT.
 */
#define INFINISOCK_TRANSPORT	9
#define INFINISOCK_TRANSPORT_UNDECIDED	0	/* neither connected nor listening yet */
#define INFINISOCK_TRANSPORT_SDP	1
#define INFINISOCK_TRANSPORT_TCP	2
#define INFINISOCK_FALLBACK_POLICY	1	/* the policy does not cover the peer or port */
#define INFINISOCK_FALLBACK_NO_DEVICE	2	/* no RDMA device reaches the peer */
#define INFINISOCK_FALLBACK_REFUSED	3	/* the peer has no SDP listener */
#define INFINISOCK_FALLBACK_TIMEOUT	4	/* the RDMA attempt did not finish in time */
#define INFINISOCK_FALLBACK_RESOURCES	5	/* RDMA resources or SDP memory ran out */
#define INFINISOCK_FALLBACK_OTHER	6	/* any other failure of the RDMA attempt */

/*
 * SOL_TCP option of SDP streams, OFED SDP's (<rdma/sdp_socket.h>), int: the smallest
 * piece of a blocking write a zero-copy source (net.infinisock.sdp_zcopy 2) advertises
 * instead of copying. 0: none; -1, the default: the connection chooses, from
 * net.infinisock.sdp_zcopy_thresh (below it, none) to sdp_zcopy_thresh_max (from it,
 * all), as the calls of each size have fared; 4096 to 1048576: that many bytes.
 * Anything else is EINVAL. Accepted connections take their listener's.
 */
#define SDP_ZCOPY_THRESH	80

/*
 * One-sided RDMA on a connected AF_IB socket (either type).
 *
 * Memory registration: ioctl(fd, INFINISOCK_MR_REG, &reg) pins [addr, addr + len) of
 * the caller's memory, accounted against RLIMIT_MEMLOCK as mlock() is (ENOMEM over
 * it, EPERM with a limit of 0, unless CAP_IPC_LOCK; EFAULT for memory that is not
 * mapped with the rights the access needs), and registers it with the connection's
 * adapter. The peer may then read and/or write exactly that range, exactly as
 * `access` says, by naming it with `rkey` and addresses within [addr, addr + len).
 * Other errors: EINVAL for an empty or wrapping range or no or unknown access bits,
 * ENOTCONN on a socket that is not connected, EPIPE after shutdown() (the regions
 * were revoked), ENOBUFS with 1024 regions registered. The memory checks come first:
 * an unconnected socket may answer EPERM, ENOMEM or EFAULT before ENOTCONN.
 *
 * ioctl(fd, INFINISOCK_MR_DEREG, &handle) unregisters and unpins it: EINVAL for a
 * handle the socket does not have, which is any handle once the socket has no
 * connection (never connected, or the connection is gone: EINVAL, not ENOTCONN as
 * for INFINISOCK_MR_REG); EBUSY while an operation uses the region
 * (INFINISOCK_RDMA_REGION). shutdown() and close() unregister all of them first, so
 * the peer cannot reach memory the program may reuse.
 *
 * A peer access outside a region, or with rights it was not given, fails at the
 * peer (INFINISOCK_CMSG_RDMA_STATUS with EACCES) and, as RC transport errors do,
 * ends the connection on both sides.
 */
struct infinisock_mr_reg {
	__u64	addr;		/* in: start of the buffer */
	__u64	len;		/* in: its length in bytes, > 0 */
	__u32	access;		/* in: INFINISOCK_ACCESS_*, at least one */
	__u32	rkey;		/* out: the key the peer names the region with */
	__u64	handle;		/* out: names the region for INFINISOCK_MR_DEREG */
};

#define INFINISOCK_ACCESS_REMOTE_READ	0x1
#define INFINISOCK_ACCESS_REMOTE_WRITE	0x2	/* implies INFINISOCK_ACCESS_LOCAL_WRITE */
/* The program's own RDMA READs may land in it (INFINISOCK_RDMA_REGION). */
#define INFINISOCK_ACCESS_LOCAL_WRITE	0x4

/* In the protocol-private ioctl range (SIOCPROTOPRIVATE, 0x89e0). */
#define INFINISOCK_MR_REG	_IOWR(0x89, 0xe0, struct infinisock_mr_reg)
#define INFINISOCK_MR_DEREG	_IOW(0x89, 0xe1, __u64)

/*
 * RDMA WRITE and READ: sendmsg() with one control message of level SOL_INFINISOCK and
 * type INFINISOCK_CMSG_RDMA whose data is a struct infinisock_rdma. The local side is
 * the message's iovec (the data written, or where read data lands), used in place:
 * its pages are pinned until the operation completes, so the program must leave the
 * buffer alone until then; at most 4 MiB per operation (EMSGSIZE). sendmsg() returns
 * the iovec's length once the operation is posted; a sender out of send-queue room
 * waits (EAGAIN if non-blocking). A READ is EOPNOTSUPP on a connection whose peer
 * offered no RDMA READ responder resources when it was established.
 *
 * With INFINISOCK_RDMA_REGION in `flags`, the iovec must instead be one segment lying
 * inside a region registered on this socket (with INFINISOCK_ACCESS_LOCAL_WRITE for a
 * READ; EINVAL otherwise): the region's registration is used as it is, nothing is
 * pinned per operation, and the operation is one work request with one SGE, as a
 * verbs program would post it. INFINISOCK_MR_DEREG of that region is EBUSY until the
 * operation completes.
 *
 * INFINISOCK_RDMA_WRITE_IMM (SOCK_SEQPACKET only) also delivers `imm` to the peer: its
 * next recvmsg() returns 0 bytes with an INFINISOCK_CMSG_IMM control message, in order
 * with the messages around it; it takes one of the peer's receive buffers like a
 * message (flow control as for messages).
 *
 * Completion: every operation ends with one struct infinisock_rdma_status (its
 * `token`, 0 or a positive errno, the byte count) on the socket's error queue:
 * recvmsg(fd, &msg, MSG_ERRQUEUE) returns 0 bytes and as many INFINISOCK_CMSG_RDMA_STATUS
 * control messages as fit (MSG_CTRUNC if more wait); EAGAIN when none does. poll()
 * reports POLLERR while any waits. Errors: EACCES (the peer's key refused the access),
 * ETIMEDOUT (the peer's adapter stopped answering), ECANCELED (the connection ended
 * first), EIO (anything else).
 */
struct infinisock_rdma {
	__u64	remote_addr;	/* the peer's address, inside its registered region */
	__u32	rkey;		/* the peer's key for the region */
	__u32	op;		/* INFINISOCK_RDMA_READ, _WRITE or _WRITE_IMM */
	__u64	token;		/* the program's own, returned in the completion */
	__u32	imm;		/* INFINISOCK_RDMA_WRITE_IMM: the immediate data */
	__u32	flags;		/* 0 or INFINISOCK_RDMA_REGION */
};

#define INFINISOCK_RDMA_REGION		0x1

#define INFINISOCK_RDMA_WRITE		1
#define INFINISOCK_RDMA_READ		2
#define INFINISOCK_RDMA_WRITE_IMM	3

struct infinisock_rdma_status {
	__u64	token;
	__u32	status;		/* 0, or a positive errno */
	__u32	len;		/* bytes written or read */
};

struct infinisock_imm {
	__u32	imm;		/* the peer's immediate data */
	__u32	len;		/* bytes its RDMA WRITE placed */
};

#define INFINISOCK_CMSG_RDMA		1	/* sendmsg: struct infinisock_rdma */
#define INFINISOCK_CMSG_RDMA_STATUS	2	/* error queue: struct infinisock_rdma_status */
#define INFINISOCK_CMSG_IMM		3	/* recvmsg: struct infinisock_imm */

/*
 * Generic netlink family INFINISOCK_GENL_NAME: the counters of the requester's network
 * namespace (/proc/net/infinisock/stats shows the same). INFINISOCK_CMD_GET_STATS
 * answers one message with an INFINISOCK_ATTR_STATS nest holding one u64 attribute
 * per counter, numbered INFINISOCK_STAT_*; a reader skips numbers it does not know,
 * so counters may be added.
 */
#define INFINISOCK_GENL_NAME	"infinisock"
#define INFINISOCK_GENL_VERSION	1

enum {
	INFINISOCK_CMD_UNSPEC,
	INFINISOCK_CMD_GET_STATS,
	__INFINISOCK_CMD_MAX,
};

enum {
	INFINISOCK_ATTR_UNSPEC,
	INFINISOCK_ATTR_STATS,		/* nested: INFINISOCK_STAT_* */
	INFINISOCK_ATTR_PAD,
	__INFINISOCK_ATTR_MAX,
};
#define INFINISOCK_ATTR_MAX	(__INFINISOCK_ATTR_MAX - 1)

/* The counters, as /proc/net/infinisock/stats names them (Documentation/usage.rst). */
enum {
	INFINISOCK_STAT_UNSPEC,
	INFINISOCK_STAT_PAD,
	INFINISOCK_STAT_ACTIVE_OPENS,
	INFINISOCK_STAT_PASSIVE_OPENS,
	INFINISOCK_STAT_CONNECT_REFUSED,
	INFINISOCK_STAT_CONNECT_UNREACHABLE,
	INFINISOCK_STAT_CONNECT_TIMEOUT,
	INFINISOCK_STAT_CONNECT_NO_RESOURCES,
	INFINISOCK_STAT_CONNECT_OTHER,
	INFINISOCK_STAT_REQUESTS_DROPPED,
	INFINISOCK_STAT_RESETS,
	INFINISOCK_STAT_PROTOCOL_VIOLATIONS,
	INFINISOCK_STAT_CREDIT_STALLS,
	INFINISOCK_STAT_TRANSPORT_TIMEOUTS,
	INFINISOCK_STAT_RNR_RETRIES_EXCEEDED,
	INFINISOCK_STAT_BYTES_SENT,
	INFINISOCK_STAT_BYTES_RECEIVED,
	/* Hybrid streams by the path they took (/proc/net/infinisock/hybrid). */
	INFINISOCK_STAT_HYBRID_SDP,
	INFINISOCK_STAT_HYBRID_TCP_POLICY,
	INFINISOCK_STAT_HYBRID_TCP_NO_DEVICE,
	INFINISOCK_STAT_HYBRID_TCP_REFUSED,
	INFINISOCK_STAT_HYBRID_TCP_TIMEOUT,
	INFINISOCK_STAT_HYBRID_TCP_RESOURCES,
	INFINISOCK_STAT_HYBRID_TCP_OTHER,
	/* Zero-copy (Documentation/wire.rst): the peer's adverts taken, bytes READ, cancels. */
	INFINISOCK_STAT_ZC_ADVERTS_TAKEN,
	INFINISOCK_STAT_ZC_BYTES_READ,
	INFINISOCK_STAT_ZC_CANCELS,
	/* Our own adverts: sent, bytes the peer READ, our cancels, the peer's declines. */
	INFINISOCK_STAT_ZC_ADVERTS_SENT,
	INFINISOCK_STAT_ZC_BYTES_READ_BY_PEER,
	INFINISOCK_STAT_ZC_CANCELS_SENT,
	INFINISOCK_STAT_ZC_DECLINES,
	/* The peer's adverts we declined (SendSm). */
	INFINISOCK_STAT_ZC_DECLINES_SENT,
	/* Bytes of the peer's adverts READ straight into a reader's pages. */
	INFINISOCK_STAT_ZC_BYTES_TO_USER,
	__INFINISOCK_STAT_MAX,
};
#define INFINISOCK_STAT_MAX	(__INFINISOCK_STAT_MAX - 1)

/*
 * Socket diagnostics (NETLINK_SOCK_DIAG, inet_diag): SDP sockets are dumped with
 * sdiag_family AF_INET or AF_INET6 and INET_DIAG_REQ_PROTOCOL IPPROTO_SDP (explicit SDP
 * streams) or IPPROTO_SDP_HYBRID (transparent ones), as struct inet_diag_msg with the
 * usual attributes. idiag_rqueue and idiag_wqueue are the bytes not read and not yet
 * acknowledged (a listener: connections waiting to be accepted, and its backlog).
 * INET_DIAG_INFO, when asked for, is a struct infinisock_sdp_info. It only grows at its
 * end: a reader takes what the attribute's length holds and zeroes the rest.
 */
#define INFINISOCK_PHASE_OPEN		0	/* new or bound */
#define INFINISOCK_PHASE_LISTENING	1
#define INFINISOCK_PHASE_CONNECTING	2
#define INFINISOCK_PHASE_ACCEPTING	3	/* passive open, waiting for the RTU */
#define INFINISOCK_PHASE_CONNECTED	4
#define INFINISOCK_PHASE_CLOSED		5

/*
 * Its owner was inside a socket call at the dump: only the state, the transport, the
 * byte counts and (inet_diag's rows) the addresses are given, the rest is zero.
 */
#define INFINISOCK_DIAG_F_BUSY		0x01
#define INFINISOCK_DIAG_F_ORPHAN	0x02	/* closed by its program, still draining */
#define INFINISOCK_DIAG_F_FIN_PENDING	0x04	/* a DisConn is owed to the peer */
#define INFINISOCK_DIAG_F_FIN_SENT	0x08
#define INFINISOCK_DIAG_F_FIN_RCVD	0x10	/* the peer sends nothing more */
#define INFINISOCK_DIAG_F_PEER_GONE	0x20	/* the peer disconnected */
#define INFINISOCK_DIAG_F_ZC_ADAPTIVE	0x40	/* isi_zc_thresh is the connection's own choice */

struct infinisock_sdp_info {
	__u32	isi_flags;		/* INFINISOCK_DIAG_F_* */
	__u32	isi_phase;		/* INFINISOCK_PHASE_* */
	__u32	isi_transport;		/* as getsockopt(INFINISOCK_TRANSPORT); 0 if not hybrid */
	__u32	isi_credits;		/* messages we may send now */
	__u32	isi_peer_bufs;		/* receive buffers the peer last said it posted */
	__u32	isi_posted;		/* our receive buffers posted */
	__u32	isi_recv_bufs;		/* receive ring, buffers */
	__u32	isi_send_bufs;		/* send ring, buffers */
	__u32	isi_buf_size;		/* bytes per buffer */
	__u32	isi_port;		/* the RDMA device's port (isi_device) */
	__u32	isi_qp_num;
	__u32	isi_peer_qp_num;
	__u32	isi_path_mtu;		/* bytes */
	__u32	isi_max_inline;		/* bytes a send request carries inline */
	__u64	isi_bytes_sent;		/* stream payload, both directions */
	__u64	isi_bytes_received;
	__u64	isi_tcp_cookie;		/* a hybrid on TCP: its TCP socket's SO_COOKIE */
	__u8	isi_gid[16];		/* the local GID */
	char	isi_device[64];		/* the RDMA device's name, NUL-terminated */
	__u64	isi_send_buf_bytes;	/* send buffers held now: messages in flight */
	__u32	isi_zc_thresh;		/* blocking writes this large go as adverts; 0: none */
	__u32	isi_zc_adverts_out;	/* our zero-copy adverts open */
	__u32	isi_zc_adverts_in;	/* the peer's zero-copy adverts open here */
	__u32	isi_pad;
};

#ifndef _RDMA_IB_H
struct ib_addr {
	union {
		__u8		uib_addr8[16];
		__be16		uib_addr16[8];
		__be32		uib_addr32[4];
		__be64		uib_addr64[2];
	} ib_u;
#define sib_addr8		ib_u.uib_addr8
#define sib_addr16		ib_u.uib_addr16
#define sib_addr32		ib_u.uib_addr32
#define sib_addr64		ib_u.uib_addr64
#define sib_raw			ib_u.uib_addr8
#define sib_subnet_prefix	ib_u.uib_addr64[0]
#define sib_interface_id	ib_u.uib_addr64[1]
};

struct sockaddr_ib {
	unsigned short int	sib_family;	/* AF_IB */
	__be16			sib_pkey;
	__be32			sib_flowinfo;
	struct ib_addr		sib_addr;
	__be64			sib_sid;
	__be64			sib_sid_mask;
	__u64			sib_scope_id;
};
#endif

/*
 * AF_IB sockets over sock_diag (NETLINK_SOCK_DIAG): a SOCK_DIAG_BY_FAMILY request whose
 * body is a struct infinisock_diag_req (sdiag_family AF_IB) dumps the requester's
 * namespace's AF_IB sockets (NLM_F_DUMP), or answers the one with idiag_cookie, as one
 * struct infinisock_diag_msg each, followed by the attributes idiag_ext asks for.
 * Addresses are given as getsockname() and getpeername() give them.
 */
struct infinisock_diag_req {
	__u8	sdiag_family;		/* AF_IB */
	__u8	sdiag_protocol;		/* 0 */
	__u8	idiag_ext;		/* 1 << (INFINISOCK_DIAG_INFO - 1): with the info */
	__u8	idiag_types;		/* 1 << SOCK_STREAM | 1 << SOCK_SEQPACKET; 0: both */
	__u32	idiag_states;		/* 1 << TCP_ESTABLISHED | ..., as inet_diag's */
	__u64	idiag_cookie;		/* without NLM_F_DUMP: the socket with this cookie */
};

struct infinisock_diag_msg {
	__u8	idiag_family;		/* AF_IB */
	__u8	idiag_state;		/* TCP_*, as inet_diag_msg's */
	__u8	idiag_type;		/* SOCK_STREAM or SOCK_SEQPACKET */
	__u8	idiag_shutdown;		/* RCV_SHUTDOWN 1 | SEND_SHUTDOWN 2 */
	__u32	idiag_uid;
	__u32	idiag_rqueue;		/* as inet_diag_msg's */
	__u32	idiag_wqueue;
	__u64	idiag_inode;
	__u64	idiag_cookie;		/* SO_COOKIE */
	struct sockaddr_ib idiag_local;
	struct sockaddr_ib idiag_peer;
};

enum {
	INFINISOCK_DIAG_NONE,
	INFINISOCK_DIAG_INFO,		/* struct infinisock_sdp_info */
	INFINISOCK_DIAG_PAD,
	__INFINISOCK_DIAG_MAX,
};
#define INFINISOCK_DIAG_MAX	(__INFINISOCK_DIAG_MAX - 1)

#endif /* _UAPI_LINUX_INFINISOCK_H */
