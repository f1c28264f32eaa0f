/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * InfiniSock: sockets over InfiniBand/RDMA.
 *
 * Userspace-visible constants of the infinisock module: the protocol number that
 * selects SDP under AF_INET/AF_INET6, and the AF_IB family the module registers.
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

#endif /* _UAPI_LINUX_INFINISOCK_H */
