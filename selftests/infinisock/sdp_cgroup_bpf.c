// SPDX-License-Identifier: GPL-2.0
/*
 * Container policy applies to SDP as to TCP: the cgroup BPF programs attached to a
 * cgroup's bind4/bind6/connect4/connect6 hooks run for SDP sockets under AF_INET and
 * AF_INET6. A deny-all program (two instructions, loaded with bpf(2) directly) makes
 * bind() and connect() fail with EPERM for TCP and for SDP alike; without it both
 * work.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/infinisock.h>

#include "kselftest_harness.h"
#include "hosts.h"

#define CGROOT "/sys/fs/cgroup"
#define CGDIR CGROOT "/infinisock_policy"

static int bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

/* A cgroup/sock_addr program for `hook` that denies every call: r0 = 0; exit. */
static int load_deny_all(enum bpf_attach_type hook)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr attr = {
		.prog_type = BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
		.expected_attach_type = hook,
		.insns = (unsigned long)insns,
		.insn_cnt = 2,
		.license = (unsigned long)"GPL",
	};

	return bpf(BPF_PROG_LOAD, &attr);
}

static int attach(int cgroup, int prog, enum bpf_attach_type hook, int detach)
{
	union bpf_attr attr = { .target_fd = cgroup, .attach_bpf_fd = prog, .attach_type = hook };

	return bpf(detach ? BPF_PROG_DETACH : BPF_PROG_ATTACH, &attr);
}

/* A listener on host b of `protocol` at an ephemeral port; its port in *port. */
static int listener(int family, int protocol, const char *host, int *port)
{
	struct sockaddr_storage ss;
	socklen_t len = ip_addr(&ss, family, host, 0);
	int fd;

	enter_netns("b");
	fd = socket(family, SOCK_STREAM, protocol);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 8) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len))
		return -errno;
	*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/*
 * In a child that joins the policy cgroup: connect() to host b's listener of
 * `protocol`, and bind() another socket to host a's address. Exits with
 * 10 * (connect's errno class) + (bind's): 0 ok, 1 EPERM, 2 anything else.
 */
static int calls_in_cgroup(int family, int protocol, const char *a, const char *b, int port)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct sockaddr_storage ss;
		socklen_t len;
		char self[16];
		int fd, c, k, procs = open(CGDIR "/cgroup.procs", O_WRONLY);

		snprintf(self, sizeof(self), "%d", getpid());
		if (procs < 0 || write(procs, self, strlen(self)) < 0)
			_exit(99);
		close(procs);
		enter_netns("a");
		fd = socket(family, SOCK_STREAM, protocol);
		len = ip_addr(&ss, family, b, port);
		c = connect(fd, (struct sockaddr *)&ss, len) ? (errno == EPERM ? 1 : 2) : 0;
		close(fd);
		fd = socket(family, SOCK_STREAM, protocol);
		len = ip_addr(&ss, family, a, 0);
		k = bind(fd, (struct sockaddr *)&ss, len) ? (errno == EPERM ? 1 : 2) : 0;
		close(fd);
		_exit(10 * c + k);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

FIXTURE(policy)
{
	int cgroup;
	int progs[2];
	enum bpf_attach_type hooks[2];
};

FIXTURE_VARIANT(policy)
{
	int family;
	const char *a, *b;
	enum bpf_attach_type connect_hook, bind_hook;
};

FIXTURE_VARIANT_ADD(policy, ipv4)
{
	.family = AF_INET, .a = HOST_A4, .b = HOST_B4,
	.connect_hook = BPF_CGROUP_INET4_CONNECT, .bind_hook = BPF_CGROUP_INET4_BIND,
};

FIXTURE_VARIANT_ADD(policy, ipv6)
{
	.family = AF_INET6, .a = HOST_A6, .b = HOST_B6,
	.connect_hook = BPF_CGROUP_INET6_CONNECT, .bind_hook = BPF_CGROUP_INET6_BIND,
};

FIXTURE_SETUP(policy)
{
	if (access(CGROOT "/cgroup.procs", F_OK))
		ASSERT_EQ(0, mount("none", CGROOT, "cgroup2", 0, NULL)) TH_LOG("cgroup2: %s", strerror(errno));
	rmdir(CGDIR);
	ASSERT_EQ(0, mkdir(CGDIR, 0755)) TH_LOG("%s: %s", CGDIR, strerror(errno));
	self->cgroup = open(CGDIR, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, self->cgroup);
	self->hooks[0] = variant->connect_hook;
	self->hooks[1] = variant->bind_hook;
	for (int i = 0; i < 2; i++) {
		self->progs[i] = load_deny_all(self->hooks[i]);
		ASSERT_LE(0, self->progs[i]) TH_LOG("BPF_PROG_LOAD: %s", strerror(errno));
	}
}

FIXTURE_TEARDOWN(policy)
{
	for (int i = 0; i < 2; i++) {
		attach(self->cgroup, self->progs[i], self->hooks[i], 1);
		close(self->progs[i]);
	}
	close(self->cgroup);
	rmdir(CGDIR);
}

TEST_F(policy, deny_all_applies_to_sdp_as_to_tcp)
{
	int tcp_port, sdp_port;
	int tcp_l = listener(variant->family, IPPROTO_TCP, variant->b, &tcp_port);
	int sdp_l = listener(variant->family, IPPROTO_SDP, variant->b, &sdp_port);

	ASSERT_LE(0, tcp_l);
	ASSERT_LE(0, sdp_l) TH_LOG("SDP listener: %s", strerror(-sdp_l));
	/* No program yet: both protocols connect and bind. */
	EXPECT_EQ(0, calls_in_cgroup(variant->family, IPPROTO_TCP, variant->a, variant->b, tcp_port));
	EXPECT_EQ(0, calls_in_cgroup(variant->family, IPPROTO_SDP, variant->a, variant->b, sdp_port));
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(0, attach(self->cgroup, self->progs[i], self->hooks[i], 0))
			TH_LOG("BPF_PROG_ATTACH: %s", strerror(errno));
	/* Denied: EPERM from connect() and from bind(), for TCP and for SDP. */
	EXPECT_EQ(11, calls_in_cgroup(variant->family, IPPROTO_TCP, variant->a, variant->b, tcp_port));
	EXPECT_EQ(11, calls_in_cgroup(variant->family, IPPROTO_SDP, variant->a, variant->b, sdp_port))
		TH_LOG("10 x connect + bind, each 0 allowed, 1 EPERM, 2 another error");
	close(tcp_l);
	close(sdp_l);
}

TEST_HARNESS_MAIN
