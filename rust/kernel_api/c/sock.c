// SPDX-License-Identifier: GPL-2.0
/*
 * struct socket and struct sock: the fields Rust reads and writes (bindgen gets struct
 * sock's layout wrong, so Rust touches it only through these accessors), the sizes of
 * struct infinisock_sock, references and the sock lock, wake-ups and SIGIO, errors,
 * timeouts and socket options, setting up an incoming connection's sock, memory cgroup
 * charging, and the cgroup BPF hooks of bind() and connect().
 *
 * Mostly call-throughs. The logic (waking with the caller's event mask, initialising a
 * child sock as inet_create() would, choosing which BPF_CGROUP_RUN_PROG_*() to run) is
 * in C because it is made of struct sock fields and of macros and static inlines
 * (sk_wake_async_rcu(), skwq_has_sleeper(), sock_valbool_flag(), the
 * BPF_CGROUP_RUN_PROG_*() macros) that neither the kernel crate nor bindgen gives Rust.
 */
#include <linux/bpf-cgroup.h>
#include <linux/errqueue.h>
#include <linux/memcontrol.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/skbuff.h>
#include <linux/sockptr.h>
#include <net/inet_common.h>
#include <net/sock.h>

#include "helpers.h"
#include "../include/uapi/linux/infinisock.h"

int infinisock_socket_type(const struct socket *sock)
{
	return sock->type;
}

struct sock *infinisock_socket_take_sk(struct socket *sock)
{
	struct sock *sk = sock->sk;

	sock->sk = NULL;
	return sk;
}

void infinisock_socket_set_ops(struct socket *sock, const struct proto_ops *ops)
{
	sock->ops = ops;
}

struct sock *infinisock_socket_sk(const struct socket *sock)
{
	return sock->sk;
}

u16 infinisock_sk_protocol(const struct sock *sk)
{
	return sk->sk_protocol;
}

struct proto *infinisock_sk_prot(const struct sock *sk)
{
	return sk->sk_prot;
}

u16 infinisock_sk_family(const struct sock *sk)
{
	return sk->sk_family;
}

/* IPV6_V6ONLY: an AF_INET6 socket takes IPv6 peers only (sk_ipv6only). */
bool infinisock_sk_ipv6only(const struct sock *sk)
{
	return sk->sk_ipv6only;
}

/* Under the sock's lock: the bit shares a byte with sk_reuse and sk_reuseport. */
void infinisock_sk_set_ipv6only(struct sock *sk, bool only)
{
	lock_sock(sk);
	sk->sk_ipv6only = only;
	release_sock(sk);
}

int infinisock_sk_type(const struct sock *sk)
{
	return sk->sk_type;
}

void infinisock_sk_set_protocol(struct sock *sk, u16 protocol)
{
	sk->sk_protocol = protocol;
}

size_t infinisock_sock_size(void)
{
	return sizeof(struct infinisock_sock);
}

size_t infinisock6_sock_size(void)
{
	return sizeof(struct infinisock6_sock);
}

size_t infinisock6_pinfo_offset(void)
{
	return offsetof(struct infinisock6_sock, inet6);
}

void infinisock_sock_hold(struct sock *sk)
{
	sock_hold(sk);
}

void infinisock_sock_put(struct sock *sk)
{
	sock_put(sk);
}

void infinisock_sock_orphan(struct sock *sk)
{
	sock_orphan(sk);
}

void infinisock_lock_sock(struct sock *sk)
{
	lock_sock(sk);
}

struct net *infinisock_sock_net(const struct sock *sk)
{
	return sock_net(sk);
}

void **infinisock_sk_state(struct sock *sk)
{
	return &((struct infinisock_sock *)sk)->state;
}

/* SIGIO for mask's events to an O_ASYNC owner; under rcu_read_lock(). */
static void infinisock_sk_sigio_rcu(struct sock *sk, __poll_t mask)
{
	if (mask & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
		sk_wake_async_rcu(sk, SOCK_WAKE_WAITD, POLL_IN);
	if (mask & EPOLLOUT)
		sk_wake_async_rcu(sk, SOCK_WAKE_SPACE, POLL_OUT);
}

static void infinisock_sk_wake_mask(struct sock *sk, __poll_t mask, bool sigio)
{
	struct socket_wq *wq;

	rcu_read_lock();
	wq = rcu_dereference(sk->sk_wq);
	if (skwq_has_sleeper(wq))
		wake_up_interruptible_poll(&wq->wait, mask);
	if (sigio)
		infinisock_sk_sigio_rcu(sk, mask);
	rcu_read_unlock();
}

void infinisock_sk_sigio(struct sock *sk, __poll_t mask)
{
	rcu_read_lock();
	infinisock_sk_sigio_rcu(sk, mask);
	rcu_read_unlock();
}

/* What sock_def_readable() and friends do, with the caller's event mask. */
void infinisock_sk_wake(struct sock *sk, __poll_t mask)
{
	infinisock_sk_wake_mask(sk, mask, true);
}

/* Wakes poll()/epoll waiters only: no SIGIO (any atomic context). */
void infinisock_sk_wake_pollers(struct sock *sk, __poll_t mask)
{
	infinisock_sk_wake_mask(sk, mask, false);
}

void infinisock_sk_set_err(struct sock *sk, int err)
{
	WRITE_ONCE(sk->sk_err, err);
}

int infinisock_sk_take_err(struct sock *sk)
{
	return sock_error(sk);
}

int infinisock_sk_peek_err(const struct sock *sk)
{
	return READ_ONCE(sk->sk_err);
}

/* SO_ZEROCOPY is set: MSG_ZEROCOPY asks for notifications. */
bool infinisock_sk_zerocopy(const struct sock *sk)
{
	return sock_flag(sk, SOCK_ZEROCOPY);
}

/* Something waits on the sock's error queue (POLLERR, as TCP's poll says). */
bool infinisock_sk_errqueue_pending(const struct sock *sk)
{
	return !skb_queue_empty_lockless(&sk->sk_error_queue);
}

/*
 * MSG_ZEROCOPY's notification of one sendmsg() of len bytes, with TCP's machinery:
 * the call's id, the optmem and RLIMIT_MEMLOCK charges, the merging of adjacent ids
 * on the error queue. NULL when a charge fails (TCP's ENOBUFS).
 */
struct ubuf_info *infinisock_zc_notify_begin(struct sock *sk, size_t len)
{
	return msg_zerocopy_realloc(sk, len, NULL, false);
}

/*
 * Ends the call's notification (the caller says whether to mark it
 * SO_EE_CODE_ZEROCOPY_COPIED). A call that sent nothing gives its id back and
 * queues nothing, as TCP's does, if no other call took an id since: TCP gives it
 * back under the sock's lock (msg_zerocopy_put_abort() decrements the counter),
 * while concurrent sends of ours are not serialized from id to end, and a decrement
 * after another call's id would hand that id out twice. Otherwise the id is
 * notified, as copied.
 */
void infinisock_zc_notify_end(struct ubuf_info *uarg, size_t sent, bool copied)
{
	struct ubuf_info_msgzc *zc = uarg_to_msgzc(uarg);
	struct sock *sk = container_of((void *)zc, struct sk_buff, cb)->sk;

	if (!sent && atomic_cmpxchg(&sk->sk_zckey, zc->id + 1, zc->id) == zc->id + 1)
		zc->len = 0;
	/*
	 * Pins still holding uarg (adverts that outlive the call) are released under
	 * the endpoint's lock, which the caller holds; only the teardown releases them
	 * without it, whose msg_zerocopy_complete() rewrites this bit too: the COPIED
	 * mark of a call whose connection is being reset may be lost, which the mark's
	 * readers take as a hint only (TCP's skbs race the same way).
	 */
	if (copied || !sent)
		zc->zerocopy = 0;
	net_zcopy_put(uarg);
}

/*
 * Takes the oldest notification off the sock's error queue: its sock_extended_err
 * into ee (ee_len bytes, the structure's size). -EAGAIN when none waits.
 */
int infinisock_zc_notify_take(struct sock *sk, u8 *ee, unsigned int ee_len)
{
	struct sk_buff *skb;

	if (ee_len != sizeof(struct sock_extended_err))
		return -EINVAL;
	skb = sock_dequeue_err_skb(sk);
	if (!skb)
		return -EAGAIN;
	memcpy(ee, &SKB_EXT_ERR(skb)->ee, ee_len);
	consume_skb(skb);
	return 0;
}

long infinisock_sk_rcvtimeo(const struct sock *sk, bool nonblock)
{
	return sock_rcvtimeo(sk, nonblock);
}

unsigned int infinisock_sk_busy_poll_usec(const struct sock *sk)
{
#ifdef CONFIG_NET_RX_BUSY_POLL
	return READ_ONCE(sk->sk_ll_usec);
#else
	return 0;
#endif
}

long infinisock_sk_sndtimeo(const struct sock *sk, bool nonblock)
{
	return sock_sndtimeo(sk, nonblock);
}

int infinisock_sk_rcvlowat(const struct sock *sk, int waitall, int len)
{
	return sock_rcvlowat(sk, waitall, len);
}

void infinisock_sk_set_state(struct sock *sk, int state)
{
	inet_sk_set_state(sk, state);
}

/*
 * local and peer are 16-byte IPv6 addresses, IPv4 ones mapped (::ffff:a.b.c.d), ports in
 * host order. Written where TCP keeps them, so that inet_diag's row and its bytecode
 * filters read them without the endpoint's lock.
 */
void infinisock_sk_publish(struct sock *sk, const u8 *local, u16 lport, const u8 *peer, u16 pport, u8 shutdown)
{
	struct inet_sock *inet = inet_sk(sk);
	struct in6_addr l, p;

	/* Byte arrays from Rust: copied, since an in6_addr is read in words. */
	memcpy(&l, local, sizeof(l));
	memcpy(&p, peer, sizeof(p));
#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6) {
		sk->sk_v6_rcv_saddr = l;
		sk->sk_v6_daddr = p;
	}
#endif
	WRITE_ONCE(sk->sk_rcv_saddr, ipv6_addr_v4mapped(&l) ? l.s6_addr32[3] : 0);
	WRITE_ONCE(sk->sk_daddr, ipv6_addr_v4mapped(&p) ? p.s6_addr32[3] : 0);
	WRITE_ONCE(inet->inet_num, lport);
	WRITE_ONCE(inet->inet_sport, htons(lport));
	WRITE_ONCE(sk->sk_dport, htons(pport));
	WRITE_ONCE(sk->sk_shutdown, shutdown);
}

bool infinisock_sk_keepalive(const struct sock *sk)
{
	return sock_flag(sk, SOCK_KEEPOPEN);
}

bool infinisock_sk_urginline(const struct sock *sk)
{
	return sock_flag(sk, SOCK_URGINLINE);
}

/* SIGURG to the socket's owner (F_SETOWN), and a POLLPRI wake-up for O_ASYNC. */
void infinisock_sk_send_sigurg(struct sock *sk)
{
	sk_send_sigurg(sk);
}

bool infinisock_sk_linger(const struct sock *sk, long *lingertime)
{
	*lingertime = READ_ONCE(sk->sk_lingertime);
	return sock_flag(sk, SOCK_LINGER);
}

int infinisock_intr_errno(long timeo)
{
	return sock_intr_errno(timeo);
}

/*
 * A SOL_SOCKET option on one of our SDP streams (SOCK_CUSTOM_SOCKOPT sends it here,
 * see infinisock_sk_own_sol_socket()). SO_ZEROCOPY, which sock_setsockopt() grants
 * TCP, UDP and RDS only, is the stream's: it sends MSG_ZEROCOPY's notifications as
 * TCP's does. The rest is the socket layer's (and, on a hybrid socket, its inner
 * TCP socket's too: kernel_api::inner forwards them).
 */
int infinisock_own_sol_socket(struct socket *sock, int name, sockptr_t optval, unsigned int optlen)
{
	int val;

	if (name != SO_ZEROCOPY || sock->type != SOCK_STREAM)
		return sock_setsockopt(sock, SOL_SOCKET, name, optval, optlen);
	if (optlen < sizeof(int))
		return -EINVAL;
	if (copy_from_sockptr(&val, optval, sizeof(val)))
		return -EFAULT;
	if (val < 0 || val > 1)
		return -EINVAL;
	lock_sock(sock->sk);
	sock_valbool_flag(sock->sk, SOCK_ZEROCOPY, val);
	release_sock(sock->sk);
	return 0;
}

/*
 * An SDP stream under AF_INET or AF_INET6 (IPPROTO_SDP, or IPPROTO_SDP_HYBRID, whose
 * options reach its inner TCP socket this way too) takes SOL_SOCKET options in its
 * protocol's setsockopt (infinisock_own_sol_socket()); from its creation, or, for an
 * accepted one, from its graft.
 */
void infinisock_sk_own_sol_socket(struct sock *sk)
{
	bool inet = sk->sk_family == AF_INET || sk->sk_family == AF_INET6;
	bool sdp = sk->sk_protocol == IPPROTO_SDP || sk->sk_protocol == IPPROTO_SDP_HYBRID;

	if (sk->sk_socket && inet && sdp && sk->sk_type == SOCK_STREAM)
		set_bit(SOCK_CUSTOM_SOCKOPT, &sk->sk_socket->flags);
}

void infinisock_sock_graft(struct sock *sk, struct socket *parent)
{
	sock_graft(sk, parent);
	/* SO_ZEROCOPY, which an accepted stream inherits, stays its own to change. */
	infinisock_sk_own_sol_socket(sk);
}

void infinisock_socket_set_state(struct socket *sock, int state)
{
	sock->state = state;
}

void infinisock_poll_wait(struct file *file, struct socket *sock, struct poll_table_struct *wait)
{
	sock_poll_wait(file, sock, wait);
}

void infinisock_send_sigpipe(void)
{
	send_sig(SIGPIPE, current, 0);
}

int infinisock_accept_flags(const struct proto_accept_arg *arg)
{
	return arg->flags;
}

/*
 * An accepted sock's destructor: drops the MSG_ZEROCOPY notifications nobody read,
 * as inet_sock_destruct() does for the socks inet_create() made (sock_init_data()'s
 * sock_def_destruct() does nothing). Not at close: a notification waits for the
 * call's pins (infinisock_pin_iter()), which may outlive the last close, and holds
 * the sock until it is queued or dropped.
 */
static void infinisock_child_destruct(struct sock *sk)
{
	skb_queue_purge(&sk->sk_error_queue);
}

/*
 * A sock created for an incoming connection, before accept() grafts it onto a socket:
 * what inet_create() would have set up for it.
 */
void infinisock_sk_init_child(struct sock *child, const struct sock *parent)
{
	sock_init_data(NULL, child);
	child->sk_destruct = infinisock_child_destruct;
	child->sk_type = parent->sk_type;
	child->sk_protocol = parent->sk_protocol;
	child->sk_rcvtimeo = parent->sk_rcvtimeo;
	child->sk_sndtimeo = parent->sk_sndtimeo;
	child->sk_rcvbuf = parent->sk_rcvbuf;
	child->sk_sndbuf = parent->sk_sndbuf;
#ifdef CONFIG_NET_RX_BUSY_POLL
	/* As TCP's children: the listener's SO_BUSY_POLL. */
	WRITE_ONCE(child->sk_ll_usec, READ_ONCE(parent->sk_ll_usec));
#endif
	/* As TCP's children (sk_clone copies the flags): keepalive, linger, OOB inline, SO_ZEROCOPY. */
	sock_valbool_flag(child, SOCK_KEEPOPEN, sock_flag(parent, SOCK_KEEPOPEN));
	sock_valbool_flag(child, SOCK_ZEROCOPY, sock_flag(parent, SOCK_ZEROCOPY));
	sock_valbool_flag(child, SOCK_URGINLINE, sock_flag(parent, SOCK_URGINLINE));
	sock_valbool_flag(child, SOCK_LINGER, sock_flag(parent, SOCK_LINGER));
	child->sk_lingertime = READ_ONCE(parent->sk_lingertime);
	/* As TCP's: an accepted socket reports its listener's IPV6_V6ONLY. */
	child->sk_ipv6only = parent->sk_ipv6only;
	infinisock_sk_init_memory(child);
#ifdef CONFIG_MEMCG
	/*
	 * Socket memory is charged to the listener's memory cgroup, as the connection's
	 * other kernel memory is (TCP charges the one of the task that accepts; ours are
	 * set up, and hold buffers, before accept()). sk_free() drops the reference.
	 */
	if (child->sk_memcg != parent->sk_memcg) {
		if (child->sk_memcg)
			css_put(&child->sk_memcg->css);
		if (parent->sk_memcg)
			css_get(&parent->sk_memcg->css);
		child->sk_memcg = parent->sk_memcg;
	}
#endif
#if IS_ENABLED(CONFIG_IPV6)
	if (child->sk_family == AF_INET6)
		inet_sk(child)->pinet6 = &((struct infinisock6_sock *)child)->inet6;
#endif
}

int infinisock_sockptr_read_int(sockptr_t optval, unsigned int optlen, int *val)
{
	return copy_safe_from_sockptr(val, sizeof(*val), optval, optlen);
}

bool infinisock_sk_reuse(const struct sock *sk)
{
	return sk->sk_reuse != SK_NO_REUSE;
}

void infinisock_sk_user_bufs(const struct sock *sk, int *rcvbuf, int *sndbuf)
{
	/* The socket layer stores twice what the program asked for. */
	*rcvbuf = sk->sk_userlocks & SOCK_RCVBUF_LOCK ? READ_ONCE(sk->sk_rcvbuf) / 2 : 0;
	*sndbuf = sk->sk_userlocks & SOCK_SNDBUF_LOCK ? READ_ONCE(sk->sk_sndbuf) / 2 : 0;
}

/*
 * Container policy: the cgroup BPF programs of bind() and connect() run for SDP
 * sockets under AF_INET/AF_INET6 as inet_bind() and tcp_v4_pre_connect() run them for
 * TCP, before the address is acted on. A program may rewrite the address (and its
 * length) in place; a program that denies gives -EPERM. An address too short for its
 * family is left to the caller's parser, which refuses it (EINVAL), as TCP checks the
 * length before running the programs. AF_IB socks are not inet socks: no program
 * runs for them.
 */
int infinisock_bpf_bind(struct sock *sk, struct sockaddr_unsized *uaddr, int *len)
{
	u32 flags = 0;

	if (sk->sk_family == AF_INET && *len >= (int)sizeof(struct sockaddr_in))
		return BPF_CGROUP_RUN_PROG_INET_BIND_LOCK(sk, uaddr, len, CGROUP_INET4_BIND, &flags);
	if (sk->sk_family == AF_INET6 && *len >= SIN6_LEN_RFC2133)
		return BPF_CGROUP_RUN_PROG_INET_BIND_LOCK(sk, uaddr, len, CGROUP_INET6_BIND, &flags);
	return 0;
}

int infinisock_bpf_connect(struct sock *sk, struct sockaddr_unsized *uaddr, int *len)
{
	const struct sockaddr *sa = (const struct sockaddr *)uaddr;

	/* AF_UNSPEC dissolves an association: inet_stream_connect runs no program. */
	if (*len < (int)sizeof(sa->sa_family) || sa->sa_family == AF_UNSPEC)
		return 0;
	if (sk->sk_family == AF_INET && *len >= (int)sizeof(struct sockaddr_in))
		return BPF_CGROUP_RUN_PROG_INET4_CONNECT_LOCK(sk, uaddr, len);
	if (sk->sk_family == AF_INET6 && *len >= SIN6_LEN_RFC2133)
		return BPF_CGROUP_RUN_PROG_INET6_CONNECT_LOCK(sk, uaddr, len);
	return 0;
}

/*
 * struct proto's get_port: SDP ports live in rdma_cm's port space, not in inet's
 * tables. A BPF program's bpf_bind() reaches __inet_bind(), which calls get_port; it
 * gets an error instead of a NULL call.
 */
int infinisock_get_port_refused(struct sock *sk, unsigned short snum)
{
	return -EOPNOTSUPP;
}

/*
 * Makes the current task's __GFP_ACCOUNT allocations charge sk's memory cgroup (the
 * one of the task that created it) until infinisock_memcg_leave(): connections are
 * set up in rdma_cm's worker, whose own cgroup is not the program's. Returns what
 * to restore.
 */
struct mem_cgroup *infinisock_memcg_enter(const struct sock *sk)
{
	return set_active_memcg(mem_cgroup_from_sk(sk));
}

void infinisock_memcg_leave(struct mem_cgroup *old)
{
	set_active_memcg(old);
}

/*
 * Our socks count their buffers against the module's own limit (net.infinisock.sdp_mem),
 * not a protocol-wide one: socket memory accounting charges their memory cgroup only
 * (as net.core.bypass_prot_mem does for TCP). Set before anyone else sees the sock.
 */
void infinisock_sk_init_memory(struct sock *sk)
{
	sk->sk_bypass_prot_mem = 1;
}

/*
 * The limits sock_exceed_buf_limit's tracepoint reads when a charge fails; with
 * sk_bypass_prot_mem nothing else reads them. Zero: no protocol-wide limit.
 */
static long infinisock_prot_mem[3];
static int infinisock_prot_rwmem[3];

void infinisock_proto_init_memory(struct proto *prot)
{
	prot->sysctl_mem = infinisock_prot_mem;
	prot->sysctl_rmem = infinisock_prot_rwmem;
	prot->sysctl_wmem = infinisock_prot_rwmem;
}

/*
 * Charges sk's memory cgroup for `pages` pages of received data, as TCP charges its
 * receive queue (memory.stat "sock"): 0, or -ENOENT if the sock has no cgroup to
 * charge (nothing was charged). As TCP's receive path does in softirq, without
 * reclaim and past the cgroup's limit if need be, since the data has arrived
 * (GFP_ATOMIC's __GFP_HIGH forces the charge): the caller holds a mutex, under which
 * a GFP_KERNEL charge could reclaim or invoke the cgroup's OOM killer. The caller
 * serializes the charges of a sock: sk_forward_alloc is back where it was after each.
 */
int infinisock_sk_charge_rmem(struct sock *sk, int pages)
{
	int size, charged;

	/* Without the bypass the charge would count against our proto's (absent) limit. */
	if (!mem_cgroup_sk_enabled(sk) || !sk->sk_bypass_prot_mem)
		return -ENOENT;
	if (pages < 0 || pages > (INT_MAX >> PAGE_SHIFT))
		return -EINVAL;
	size = pages << PAGE_SHIFT;
	local_bh_disable();
	charged = __sk_mem_schedule(sk, size, SK_MEM_RECV);
	local_bh_enable();
	if (!charged)
		return -ENOBUFS;
	sk_forward_alloc_add(sk, -size);
	return 0;
}

/* Whether sk's memory cgroup is under socket memory pressure (its reclaim struggles). */
bool infinisock_sk_rmem_pressure(const struct sock *sk)
{
	return mem_cgroup_sk_enabled(sk) && mem_cgroup_sk_under_memory_pressure(sk);
}

/* Gives back `pages` pages charged by infinisock_sk_charge_rmem(). */
void infinisock_sk_uncharge_rmem(struct sock *sk, int pages)
{
	int size;

	if (pages <= 0 || pages > (INT_MAX >> PAGE_SHIFT))
		return;
	size = pages << PAGE_SHIFT;

	sk_forward_alloc_add(sk, size);
	__sk_mem_reclaim(sk, size);
}
