// SPDX-License-Identifier: GPL-2.0
/*
 * Socket diagnostics of SDP sockets over NETLINK_SOCK_DIAG: one inet_diag handler per
 * protocol number (IPPROTO_SDP, IPPROTO_SDP_HYBRID), as MPTCP registers 262. The
 * netlink side is C (inet_diag's tables, nlmsg_* and nla_* are C); the sockets come
 * from Rust, which walks its list and calls infinisock_diag_match() and
 * infinisock_diag_fill() for each socket of the protocol.
 *
 * inet_sk_diag_fill() cannot serve: it expects a full inet_connection_sock for its
 * timers and calls idiag_get_info() without the endpoint's state. The row is built
 * here from inet_diag's exported parts instead (common_fill, attrs_fill, bytecode).
 */
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "helpers.h"
#include "../include/uapi/linux/infinisock.h"

/* One dump batch, or one exact lookup, as Rust walks it. */
struct infinisock_diag_ctx {
	struct sk_buff *skb;
	struct netlink_callback *cb;
	const struct inet_diag_req_v2 *req;
	struct net *net;
	bool net_admin;
	/* An exact lookup (dump_one): the first match is the answer. */
	bool one;
	bool found;
};

static infinisock_diag_walk_fn infinisock_diag_walk;

/* The Rust walk's cursor, kept between batches in the callback's scratch space. */
static u64 *infinisock_diag_cursor(struct netlink_callback *cb)
{
	BUILD_BUG_ON(sizeof(cb->ctx) < sizeof(u64));
	return (u64 *)cb->ctx;
}

bool infinisock_diag_match(const struct infinisock_diag_ctx *ctx, struct sock *sk)
{
	const struct inet_diag_req_v2 *req = ctx->req;
	const struct inet_sock *inet = inet_sk(sk);
	int family = READ_ONCE(sk->sk_family);

	if (!net_eq(sock_net(sk), ctx->net))
		return false;
	/* AF_IB sockets carry protocol 258 too; they are not inet sockets. */
	if (family != AF_INET && family != AF_INET6)
		return false;
	if (req->sdiag_family != AF_UNSPEC && family != req->sdiag_family)
		return false;
	if (ctx->one) {
		if (req->id.idiag_cookie[0] != INET_DIAG_NOCOOKIE ||
		    req->id.idiag_cookie[1] != INET_DIAG_NOCOOKIE) {
			/* A socket nobody asked the cookie of has none yet: it is not this one. */
			u64 want = (u64)req->id.idiag_cookie[1] << 32 | req->id.idiag_cookie[0];

			return atomic64_read(&sk->sk_cookie) == want;
		}
		/* Without a cookie, by the four-tuple (ports in network order). */
		if (req->id.idiag_sport != READ_ONCE(inet->inet_sport) ||
		    req->id.idiag_dport != READ_ONCE(sk->sk_dport))
			return false;
#if IS_ENABLED(CONFIG_IPV6)
		if (family == AF_INET6)
			return !memcmp(req->id.idiag_src, &sk->sk_v6_rcv_saddr, 16) &&
			       !memcmp(req->id.idiag_dst, &sk->sk_v6_daddr, 16);
#endif
		return req->id.idiag_src[0] == READ_ONCE(sk->sk_rcv_saddr) &&
		       req->id.idiag_dst[0] == READ_ONCE(sk->sk_daddr);
	}
	if (!(req->idiag_states & (1 << READ_ONCE(sk->sk_state))))
		return false;
	if (req->id.idiag_sport && req->id.idiag_sport != READ_ONCE(inet->inet_sport))
		return false;
	if (req->id.idiag_dport && req->id.idiag_dport != READ_ONCE(sk->sk_dport))
		return false;
	return inet_diag_bc_sk(ctx->cb->data, sk);
}

int infinisock_diag_fill(struct infinisock_diag_ctx *ctx, struct sock *sk, u32 rqueue, u32 wqueue,
			 const struct infinisock_sdp_info *info)
{
	const struct inet_diag_req_v2 *req = ctx->req;
	struct netlink_callback *cb = ctx->cb;
	struct sk_buff *skb = ctx->skb;
	int ext = req->idiag_ext;
	struct inet_diag_msg *r;
	struct nlmsghdr *nlh;
	struct nlattr *attr;

	nlh = nlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq, cb->nlh->nlmsg_type, sizeof(*r),
			ctx->one ? 0 : NLM_F_MULTI);
	if (!nlh)
		return -EMSGSIZE;
	r = nlmsg_data(nlh);
	inet_diag_msg_common_fill(r, sk);
	r->idiag_state = READ_ONCE(sk->sk_state);
	r->idiag_timer = 0;
	r->idiag_retrans = 0;
	r->idiag_expires = 0;
	r->idiag_rqueue = rqueue;
	r->idiag_wqueue = wqueue;
	if (inet_diag_msg_attrs_fill(sk, skb, r, ext, sk_user_ns(NETLINK_CB(cb->skb).sk), ctx->net_admin))
		goto too_big;
	if ((ext & (1 << (INET_DIAG_SKMEMINFO - 1))) && sock_diag_put_meminfo(sk, skb, INET_DIAG_SKMEMINFO))
		goto too_big;
	if (ext & (1 << (INET_DIAG_INFO - 1))) {
		attr = nla_reserve_64bit(skb, INET_DIAG_INFO, sizeof(*info), INET_DIAG_PAD);
		if (!attr)
			goto too_big;
		memcpy(nla_data(attr), info, sizeof(*info));
	}
	nlmsg_end(skb, nlh);
	if (ctx->one) {
		ctx->found = true;
		return 1;
	}
	return 0;

too_big:
	nlmsg_cancel(skb, nlh);
	return -EMSGSIZE;
}

bool infinisock_diag_wants_info(const struct infinisock_diag_ctx *ctx)
{
	return ctx->req->idiag_ext & (1 << (INET_DIAG_INFO - 1));
}

static void infinisock_diag_dump(struct sk_buff *skb, struct netlink_callback *cb, const struct inet_diag_req_v2 *req,
				 u16 protocol)
{
	struct infinisock_diag_ctx ctx = {
		.skb = skb,
		.cb = cb,
		.req = req,
		.net = sock_net(skb->sk),
		.net_admin = netlink_net_capable(cb->skb, CAP_NET_ADMIN),
	};
	u64 *cursor = infinisock_diag_cursor(cb);

	*cursor = infinisock_diag_walk(&ctx, protocol, *cursor);
}

static int infinisock_diag_dump_one(struct netlink_callback *cb, const struct inet_diag_req_v2 *req, u16 protocol)
{
	struct sk_buff *in_skb = cb->skb;
	struct infinisock_diag_ctx ctx = {
		.cb = cb,
		.req = req,
		.net = sock_net(in_skb->sk),
		.net_admin = netlink_net_capable(in_skb, CAP_NET_ADMIN),
		.one = true,
	};
	struct sk_buff *rep;

	/* Allocated before the walk, which holds the module's socket list. */
	rep = nlmsg_new(nla_total_size(sizeof(struct inet_diag_msg)) + inet_diag_msg_attrs_size() +
				nla_total_size_64bit(sizeof(struct infinisock_sdp_info)) +
				nla_total_size(SK_MEMINFO_VARS * sizeof(u32)) + 64,
			GFP_KERNEL);
	if (!rep)
		return -ENOMEM;
	ctx.skb = rep;
	infinisock_diag_walk(&ctx, protocol, 0);
	if (!ctx.found) {
		kfree_skb(rep);
		return -ENOENT;
	}
	return nlmsg_unicast(ctx.net->diag_nlsk, rep, NETLINK_CB(in_skb).portid);
}

static void infinisock_sdp_dump(struct sk_buff *skb, struct netlink_callback *cb, const struct inet_diag_req_v2 *req)
{
	infinisock_diag_dump(skb, cb, req, IPPROTO_SDP);
}

static int infinisock_sdp_dump_one(struct netlink_callback *cb, const struct inet_diag_req_v2 *req)
{
	return infinisock_diag_dump_one(cb, req, IPPROTO_SDP);
}

static void infinisock_hybrid_dump(struct sk_buff *skb, struct netlink_callback *cb,
				   const struct inet_diag_req_v2 *req)
{
	infinisock_diag_dump(skb, cb, req, IPPROTO_SDP_HYBRID);
}

static int infinisock_hybrid_dump_one(struct netlink_callback *cb, const struct inet_diag_req_v2 *req)
{
	return infinisock_diag_dump_one(cb, req, IPPROTO_SDP_HYBRID);
}

/*
 * inet_diag calls this only from inet_sk_diag_fill(), which our handlers never use, and
 * from the destroy broadcast of TCP and UDP sockets; it must exist all the same.
 */
static void infinisock_diag_get_info(struct sock *sk, struct inet_diag_msg *r, void *info)
{
	if (info)
		memset(info, 0, sizeof(struct infinisock_sdp_info));
}

static const struct inet_diag_handler infinisock_sdp_diag_handler = {
	.owner = THIS_MODULE,
	.dump = infinisock_sdp_dump,
	.dump_one = infinisock_sdp_dump_one,
	.idiag_get_info = infinisock_diag_get_info,
	.idiag_type = IPPROTO_SDP,
	.idiag_info_size = sizeof(struct infinisock_sdp_info),
};

static const struct inet_diag_handler infinisock_hybrid_diag_handler = {
	.owner = THIS_MODULE,
	.dump = infinisock_hybrid_dump,
	.dump_one = infinisock_hybrid_dump_one,
	.idiag_get_info = infinisock_diag_get_info,
	.idiag_type = IPPROTO_SDP_HYBRID,
	.idiag_info_size = sizeof(struct infinisock_sdp_info),
};

int infinisock_diag_register(infinisock_diag_walk_fn walk)
{
	int err;

	infinisock_diag_walk = walk;
	err = inet_diag_register(&infinisock_sdp_diag_handler);
	if (err)
		return err;
	err = inet_diag_register(&infinisock_hybrid_diag_handler);
	if (err)
		inet_diag_unregister(&infinisock_sdp_diag_handler);
	return err;
}

void infinisock_diag_unregister(void)
{
	inet_diag_unregister(&infinisock_hybrid_diag_handler);
	inet_diag_unregister(&infinisock_sdp_diag_handler);
}
