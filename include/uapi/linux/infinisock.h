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

/* AF_IB is defined by <linux/socket.h>; repeated for userspace that lacks it. */
#ifndef AF_IB
#define AF_IB		27
#endif
#ifndef PF_IB
#define PF_IB		AF_IB
#endif

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

/* Socket options of AF_IB sockets: setsockopt(fd, SOL_INFINISOCK, name, ...). */
#define SOL_INFINISOCK		0x4942

/*
 * int, SOCK_SEQPACKET: the largest message, 1 to 1048560 bytes (default: the
 * net.infinisock.sdp_buffer_size sysctl minus 16). Settable until connect() (then
 * EISCONN); an accepted socket has its listener's at the time it arrived. A connected
 * socket reports the connection's: the smaller of the two ends'. A larger sendmsg()
 * fails with EMSGSIZE.
 */
#define INFINISOCK_MAX_MSG_SIZE	1

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

#endif /* _UAPI_LINUX_INFINISOCK_H */
