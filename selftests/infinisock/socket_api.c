// SPDX-License-Identifier: GPL-2.0
/*
 * socket() for AF_IB and for SDP under AF_INET/AF_INET6, with the module loaded:
 * which calls create sockets, the errno of each bad call and what the socket reports
 * about itself (the data paths are tested in sdp_stream.c, af_ib_stream.c and af_ib_seqpacket.c).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/infinisock.h>

#include "kselftest_harness.h"
#include "sockutil.h"


/* socket() that returns -errno on failure, closing on success. */
static int try_socket(int family, int type, int protocol)
{
	int fd = socket(family, type, protocol);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

struct kind {
	int family, type, protocol, reported_protocol;
};

static const struct kind kinds[] = {
	{ AF_IB, SOCK_STREAM, 0, IPPROTO_SDP },
	{ AF_IB, SOCK_STREAM, IPPROTO_SDP, IPPROTO_SDP },
	{ AF_IB, SOCK_SEQPACKET, 0, 0 },
	{ AF_INET, SOCK_STREAM, IPPROTO_SDP, IPPROTO_SDP },
	{ AF_INET6, SOCK_STREAM, IPPROTO_SDP, IPPROTO_SDP },
};

TEST(create_reports_domain_type_protocol)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const struct kind *k = &kinds[i];
		int fd = socket(k->family, k->type | SOCK_CLOEXEC | SOCK_NONBLOCK, k->protocol);

		ASSERT_LE(0, fd) TH_LOG("socket(%d, %d, %d): %s", k->family, k->type,
					 k->protocol, strerror(errno));
		EXPECT_EQ(k->family, sockopt_int(fd, SOL_SOCKET, SO_DOMAIN));
		EXPECT_EQ(k->type, sockopt_int(fd, SOL_SOCKET, SO_TYPE));
		EXPECT_EQ(k->reported_protocol, sockopt_int(fd, SOL_SOCKET, SO_PROTOCOL));
		EXPECT_EQ(0, sockopt_int(fd, SOL_SOCKET, SO_ERROR));
		EXPECT_EQ(0, close(fd));
	}
}

TEST(af_ib_bad_type_or_protocol)
{
	/* Types AF_IB does not offer: ESOCKTNOSUPPORT, as inet_create() answers. */
	EXPECT_EQ(-ESOCKTNOSUPPORT, try_socket(AF_IB, SOCK_DGRAM, 0));
	EXPECT_EQ(-ESOCKTNOSUPPORT, try_socket(AF_IB, SOCK_RAW, 0));
	EXPECT_EQ(-ESOCKTNOSUPPORT, try_socket(AF_IB, SOCK_RDM, 0));
	/* A protocol the type does not offer: EPROTONOSUPPORT. */
	EXPECT_EQ(-EPROTONOSUPPORT, try_socket(AF_IB, SOCK_STREAM, IPPROTO_TCP));
	EXPECT_EQ(-EPROTONOSUPPORT, try_socket(AF_IB, SOCK_SEQPACKET, IPPROTO_SDP));
	EXPECT_EQ(-EPROTONOSUPPORT, try_socket(AF_IB, SOCK_STREAM, -1));
	/* Out-of-range type: the socket core answers EINVAL before any family. */
	EXPECT_EQ(-EINVAL, try_socket(AF_IB, 99, 0));
}

TEST(sdp_inet_bad_type)
{
	/* inet_create() answers for the types SDP does not offer. */
	EXPECT_EQ(-EPROTONOSUPPORT, try_socket(AF_INET, SOCK_DGRAM, IPPROTO_SDP));
	EXPECT_EQ(-EPROTONOSUPPORT, try_socket(AF_INET6, SOCK_DGRAM, IPPROTO_SDP));
	EXPECT_EQ(-ESOCKTNOSUPPORT, try_socket(AF_INET, SOCK_SEQPACKET, IPPROTO_SDP));
	/* Protocol numbers at or past IPPROTO_MAX: EINVAL. */
	EXPECT_EQ(-EINVAL, try_socket(AF_INET, SOCK_STREAM, IPPROTO_MAX));
}

TEST(bad_user_pointers_efault)
{
	int fd = socket(AF_IB, SOCK_SEQPACKET, 0);
	socklen_t len = sizeof(int);

	ASSERT_LE(0, fd);
	errno = 0;
	EXPECT_EQ(-1, getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, (void *)8, &len));
	EXPECT_EQ(EFAULT, errno);
	errno = 0;
	EXPECT_EQ(-1, getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, (void *)8, (socklen_t *)16));
	EXPECT_EQ(EFAULT, errno);
	close(fd);
}

/* Unprivileged users may create both kinds. */
TEST(unprivileged_create)
{
	pid_t pid = fork();
	int status;

	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(10);
		for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			if (try_socket(kinds[i].family, kinds[i].type, kinds[i].protocol))
				_exit(20 + i);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* Many sockets at once, all closed again: nothing may leak (kmemleak checks later). */
TEST(many_sockets)
{
	enum { N = 512 };
	static int fds[N];

	for (int i = 0; i < N; i++) {
		const struct kind *k = &kinds[i % (sizeof(kinds) / sizeof(kinds[0]))];

		fds[i] = socket(k->family, k->type, k->protocol);
		ASSERT_LE(0, fds[i]) TH_LOG("socket #%d: %s", i, strerror(errno));
	}
	for (int i = 0; i < N; i++)
		EXPECT_EQ(0, close(fds[i]));
}

TEST_HARNESS_MAIN
