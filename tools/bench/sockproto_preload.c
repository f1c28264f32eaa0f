// SPDX-License-Identifier: GPL-2.0
/*
 * sockproto_preload.so: lets unmodified TCP programs (iperf3, sockperf) run over
 * another stream protocol, as OFED's libsdp and smc-tools' smc_run do.
 *
 *   SOCKPROTO=258 LD_PRELOAD=.../sockproto_preload.so iperf3 ...   (SDP)
 *   SOCKPROTO=256 LD_PRELOAD=.../sockproto_preload.so iperf3 ...   (SMC)
 *
 * Every socket(AF_INET or AF_INET6, SOCK_STREAM, 0 or IPPROTO_TCP) the program opens
 * is created with protocol SOCKPROTO instead; everything else is left alone. A socket
 * the protocol refuses fails as it would: no silent fallback to TCP, so a figure is
 * never TCP's under another name.
 */
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

int socket(int domain, int type, int protocol)
{
	static int (*real_socket)(int, int, int);
	const char *p = getenv("SOCKPROTO");

	if (!real_socket)
		real_socket = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
	if (p && *p && (domain == AF_INET || domain == AF_INET6) &&
	    (type & 0xf) == SOCK_STREAM && (protocol == 0 || protocol == IPPROTO_TCP))
		protocol = atoi(p);
	return real_socket(domain, type, protocol);
}
