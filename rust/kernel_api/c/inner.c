// SPDX-License-Identifier: GPL-2.0
/*
 * A hybrid stream's inner socket: a kernel TCP socket created with the outer socket,
 * as SMC carries its clcsock. While the outer socket has not chosen a path, socket
 * options go to both; once it falls back to TCP, every operation is forwarded to the
 * inner socket, through its own proto_ops, without swapping files or inodes.
 *
 * Events reach the outer file because the inner sock's sk_wq is the outer socket's
 * wait queue: poll and epoll waiters, and SIGIO (the inner sock always asks for it;
 * the outer file's fasync list decides), see the inner socket's wake-ups. Its errors
 * are copied to the outer sock, whose SO_ERROR the socket layer reads. Once the socket
 * is on TCP, the inner socket's file is the outer one (as SMC gives its clcsock the
 * SMC socket's file at fall back): TCP sends SIGURG to the owner of sk_socket->file.
 * Children of an inner listener get none of this (sk_clone_lock clears sk_wq, and the
 * sk_user_data link is not copied); accept() hands them out as plain TCP sockets.
 */
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/sock_diag.h>
#include <linux/sockptr.h>
#include <linux/wait.h>
#include <net/inet_connection_sock.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "helpers.h"

static struct infinisock_sock *isk(const struct sock *sk)
{
	return (struct infinisock_sock *)sk;
}

/* TCP's own error report (sock_def_error_report), saved from the first inner sock. */
static void (*tcp_error_report)(struct sock *sk);

static void infinisock_inner_error_report(struct sock *sk)
{
	struct sock *outer;

	/* The callback lock keeps the outer sock: release takes it to unlink. */
	read_lock_bh(&sk->sk_callback_lock);
	rcu_read_lock();
	outer = __rcu_dereference_sk_user_data_with_flags(sk, SK_USER_DATA_NOCOPY);
	if (outer)
		WRITE_ONCE(outer->sk_err, READ_ONCE(sk->sk_err));
	rcu_read_unlock();
	read_unlock_bh(&sk->sk_callback_lock);
	tcp_error_report(sk);
}

/*
 * Creates the inner TCP socket of @sk, a new hybrid sock that inet_create() has just
 * attached to its socket (sk->sk_socket).
 */
int infinisock_inner_create(struct sock *sk)
{
	struct socket *outer = sk->sk_socket;
	struct socket *inner;
	struct sock *isk_inner;
	int err;

	if (!outer)
		return -EINVAL;
	err = sock_create_kern(sock_net(sk), sk->sk_family, SOCK_STREAM, IPPROTO_TCP, &inner);
	if (err)
		return err;
	isk_inner = inner->sk;
	/* It lives as long as the program's socket: it holds the namespace like one. */
	sk_net_refcnt_upgrade(isk_inner);
	write_lock_bh(&isk_inner->sk_callback_lock);
	if (!READ_ONCE(tcp_error_report))
		WRITE_ONCE(tcp_error_report, isk_inner->sk_error_report);
	__rcu_assign_sk_user_data_with_flags(isk_inner, sk, SK_USER_DATA_NOCOPY);
	isk_inner->sk_error_report = infinisock_inner_error_report;
	rcu_assign_pointer(isk_inner->sk_wq, &outer->wq);
	sock_set_flag(isk_inner, SOCK_FASYNC);
	write_unlock_bh(&isk_inner->sk_callback_lock);
	isk(sk)->inner = inner;
	isk(sk)->inner_flags = 0;
	return 0;
}

/*
 * Releases @sk's inner socket, if any: when the outer socket is released. Under the
 * outer sock's lock, which infinisock_inner_connect_async() holds while it uses it.
 */
void infinisock_inner_release(struct sock *sk)
{
	struct socket *inner;
	struct sock *s;

	lock_sock(sk);
	inner = xchg(&isk(sk)->inner, NULL);
	release_sock(sk);
	if (!inner)
		return;
	s = inner->sk;
	/*
	 * The outer file is going: TCP must not signal its owner any more. Under the
	 * inner sock's lock no receive is being processed (a softirq queues to the
	 * backlog, processed with the file gone); sock_release() then sees a socket
	 * without a file and gives its inode back.
	 */
	lock_sock(s);
	WRITE_ONCE(inner->file, NULL);
	release_sock(s);
	write_lock_bh(&s->sk_callback_lock);
	rcu_assign_sk_user_data(s, NULL);
	s->sk_error_report = tcp_error_report;
	rcu_assign_pointer(s->sk_wq, &inner->wq);
	sock_reset_flag(s, SOCK_FASYNC);
	write_unlock_bh(&s->sk_callback_lock);
	sock_release(inner);
}

/* The inner TCP socket's cookie (SO_COOKIE), 0 once it is gone. Process context. */
u64 infinisock_inner_cookie(struct sock *sk)
{
	struct socket *inner;
	u32 cookie[2] = {};

	lock_sock(sk);
	inner = isk(sk)->inner;
	/* sock_gen_cookie() is inline around a symbol modules cannot reach. */
	if (inner && inner->sk)
		sock_diag_save_cookie(inner->sk, cookie);
	release_sock(sk);
	return (u64)cookie[1] << 32 | cookie[0];
}

/*
 * Whether @sock runs on this module's operations. A socket accept() handed a TCP
 * connection has TCP's, though do_accept() still calls the listener's getname on it.
 */
bool infinisock_socket_ours(const struct socket *sock)
{
	return READ_ONCE(sock->ops)->owner == THIS_MODULE;
}

struct socket *infinisock_inner(const struct sock *sk)
{
	return READ_ONCE(isk(sk)->inner);
}

/* -1: no inner socket; else the INFINISOCK_INNER_* bits. */
int infinisock_inner_mode(const struct sock *sk)
{
	if (!READ_ONCE(isk(sk)->inner))
		return -1;
	/* Pairs with the release in infinisock_inner_set_mode(). */
	return smp_load_acquire(&isk(sk)->inner_flags);
}

void infinisock_inner_set_mode(struct sock *sk, int bit)
{
	struct socket *inner = isk(sk)->inner;

	/*
	 * The outer socket's file outlives the inner socket's use of it:
	 * infinisock_inner_release() takes it back before the file goes.
	 */
	if (bit == INFINISOCK_INNER_ACTIVE && inner && sk->sk_socket)
		WRITE_ONCE(inner->file, sk->sk_socket->file);
	smp_store_release(&isk(sk)->inner_flags, isk(sk)->inner_flags | BIT(bit));
}

int infinisock_inner_bind(struct socket *inner, const void *addr, int len)
{
	struct sockaddr_storage a;

	if (len < 0 || len > sizeof(a))
		return -EINVAL;
	memcpy(&a, addr, len);
	return kernel_bind(inner, (struct sockaddr_unsized *)&a, len);
}

int infinisock_inner_connect(struct socket *inner, const void *addr, int len, int flags)
{
	struct sockaddr_storage a;

	if (len < 0 || len > sizeof(a))
		return -EINVAL;
	memcpy(&a, addr, len);
	return READ_ONCE(inner->ops)->connect(inner, (struct sockaddr_unsized *)&a, len, flags);
}

/*
 * Outside any socket call (the RDMA attempt failed in the background): moves @sk to
 * its inner socket and starts a non-blocking connect to @addr there. -ENOTCONN if the
 * socket has been released meanwhile; else the connect's result (-EINPROGRESS).
 */
int infinisock_inner_connect_async(struct sock *sk, const void *addr, int len)
{
	struct socket *inner;
	int err = -ENOTCONN;

	lock_sock(sk);
	inner = isk(sk)->inner;
	if (inner) {
		infinisock_inner_set_mode(sk, INFINISOCK_INNER_ACTIVE);
		err = infinisock_inner_connect(inner, addr, len, O_NONBLOCK);
	}
	release_sock(sk);
	return err;
}

int infinisock_inner_listen(struct socket *inner, int backlog)
{
	return READ_ONCE(inner->ops)->listen(inner, backlog);
}

/*
 * Accepts a connection of the inner listener onto @newsock, which becomes a plain TCP
 * socket: TCP's proto_ops, and the module reference do_accept() took for ours given
 * back. @newsock has no file descriptor yet, so nothing else sees the change.
 */
int infinisock_inner_accept(struct socket *inner, struct socket *newsock, int flags)
{
	struct proto_accept_arg arg = { .flags = flags };
	const struct proto_ops *ours = newsock->ops;
	int err;

	err = READ_ONCE(inner->ops)->accept(inner, newsock, &arg);
	if (err)
		return err;
	newsock->ops = inner->ops;
	module_put(ours->owner);
	return 0;
}

int infinisock_inner_getname(struct socket *inner, void *addr, int peer)
{
	return READ_ONCE(inner->ops)->getname(inner, addr, peer);
}

/* Whether the inner listener has a connection for accept(). */
/* The TCP socket's IPV6_V6ONLY, which the program set through the hybrid. */
bool infinisock_inner_ipv6only(struct socket *inner)
{
	return inner->sk->sk_ipv6only;
}

bool infinisock_inner_acceptable(struct socket *inner)
{
	return !reqsk_queue_empty(&inet_csk(inner->sk)->icsk_accept_queue);
}

/* The inner socket's poll mask; the caller has registered on the outer wait queue. */
__poll_t infinisock_fwd_poll(struct file *file, struct socket *inner)
{
	return READ_ONCE(inner->ops)->poll(file, inner, NULL);
}

int infinisock_fwd_ioctl(struct socket *inner, unsigned int cmd, unsigned long arg)
{
	return READ_ONCE(inner->ops)->ioctl(inner, cmd, arg);
}

int infinisock_fwd_shutdown(struct socket *inner, int how)
{
	return READ_ONCE(inner->ops)->shutdown(inner, how);
}

int infinisock_fwd_sendmsg(struct socket *inner, struct msghdr *msg, size_t len)
{
	return READ_ONCE(inner->ops)->sendmsg(inner, msg, len);
}

int infinisock_fwd_recvmsg(struct socket *inner, struct msghdr *msg, size_t len, int flags)
{
	return READ_ONCE(inner->ops)->recvmsg(inner, msg, len, flags);
}

/* setsockopt on the inner socket, SOL_SOCKET included. */
int infinisock_fwd_setsockopt(struct socket *inner, int level, int name, sockptr_t optval,
			      unsigned int optlen)
{
	if (level == SOL_SOCKET)
		return sock_setsockopt(inner, level, name, optval, optlen);
	return READ_ONCE(inner->ops)->setsockopt(inner, level, name, optval, optlen);
}

int infinisock_fwd_getsockopt(struct socket *inner, int level, int name, char __user *optval,
			      int __user *optlen)
{
	return READ_ONCE(inner->ops)->getsockopt(inner, level, name, optval, optlen);
}

/*
 * Waits on @sk's wait queue until @ready(@ctx), a signal or @timeo jiffies: returns
 * the time left, with *err 0, -EAGAIN (timed out) or the signal's errno.
 */
long infinisock_sk_wait_ready(struct sock *sk, long timeo, infinisock_ready_fn ready, void *ctx, int *err)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);

	*err = 0;
	add_wait_queue(sk_sleep(sk), &wait);
	while (!ready(ctx)) {
		if (!timeo) {
			*err = -EAGAIN;
			break;
		}
		if (signal_pending(current)) {
			*err = sock_intr_errno(timeo);
			break;
		}
		timeo = wait_woken(&wait, TASK_INTERRUPTIBLE, timeo);
	}
	remove_wait_queue(sk_sleep(sk), &wait);
	return timeo;
}
