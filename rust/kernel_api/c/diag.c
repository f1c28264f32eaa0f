// SPDX-License-Identifier: GPL-2.0
/*
 * Socket diagnostics over NETLINK_SOCK_DIAG: SDP sockets through one inet_diag handler
 * per protocol number (IPPROTO_SDP, IPPROTO_SDP_HYBRID), as MPTCP registers 262, and
 * AF_IB sockets through sock_diag's handler for the family, with their own request
 * and message (uapi infinisock.h), as SMC has AF_SMC's. The netlink side is C
 * (inet_diag's tables, nlmsg_* and nla_* are C); the sockets come from Rust, which
 * walks its list and calls infinisock_diag_match() and infinisock_diag_fill() for each.
 *
 * inet_sk_diag_fill() cannot serve: it expects a full inet_connection_sock for its
 * timers and calls idiag_get_info() without the endpoint's state. The row is built
 * here from inet_diag's exported parts instead (common_fill, attrs_fill, bytecode).
 */
#include <linux/inet_diag.h>
#include <linux/random.h>
#include <linux/sock_diag.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "helpers.h"
#include "../include/uapi/linux/infinisock.h"

/* One dump batch, or one exact lookup, as Rust walks it. */
struct infinisock_diag_ctx {
	struct sk_buff *skb;
	/* The request: its skb (the requester's netlink socket) and message. */
	struct sk_buff *in_skb;
	const struct nlmsghdr *nlh;
	/* inet_diag's request and its parsed attributes (bytecode); NULL for AF_IB. */
	const struct inet_diag_req_v2 *req;
	const struct inet_diag_dump_data *dump_data;
	/* AF_IB's request; NULL for inet_diag. */
	const struct infinisock_diag_req *ib_req;
	struct net *net;
	bool net_admin;
	/* An exact lookup: the first match is the answer, or the error filling it. */
	bool one;
	bool found;
	int err;
};

static infinisock_diag_walk_fn infinisock_diag_walk;

/*
 * The Rust walk's cursor, kept between batches in the callback's scratch space, with
 * the registration it belongs to: an inet_diag dump outlives the module between two
 * reads, and after a reload the numbers start again, so a cursor of an earlier load
 * starts the walk again (none of that load's sockets is left).
 */
struct infinisock_diag_cursor {
	u64 next;
	u64 generation;
};

static u64 infinisock_diag_generation;

static u64 *infinisock_diag_cursor(struct netlink_callback *cb)
{
	struct infinisock_diag_cursor *c = (struct infinisock_diag_cursor *)cb->ctx;

	BUILD_BUG_ON(sizeof(cb->ctx) < sizeof(*c));
	if (c->generation != infinisock_diag_generation) {
		c->next = 0;
		c->generation = infinisock_diag_generation;
	}
	return &c->next;
}

static u64 infinisock_diag_cookie(struct sock *sk)
{
	u32 c[2];

	sock_diag_save_cookie(sk, c);
	return (u64)c[1] << 32 | c[0];
}

/*
 * Whether @sk's cookie is @want. A socket nobody asked the cookie of has none yet (0):
 * it is not the one asked for, and no socket is cookie 0.
 */
static bool infinisock_diag_cookie_is(struct sock *sk, u64 want)
{
	return want && atomic64_read(&sk->sk_cookie) == want;
}

static bool infinisock_diag_ib_match(const struct infinisock_diag_ctx *ctx, struct sock *sk)
{
	const struct infinisock_diag_req *req = ctx->ib_req;

	if (READ_ONCE(sk->sk_family) != AF_IB)
		return false;
	if (ctx->one)
		return infinisock_diag_cookie_is(sk, req->idiag_cookie);
	if (req->idiag_types && !(req->idiag_types & (1 << sk->sk_type)))
		return false;
	return req->idiag_states & (1 << READ_ONCE(sk->sk_state));
}

#if IS_ENABLED(CONFIG_INET_DIAG)
static bool infinisock_diag_inet_match(const struct infinisock_diag_ctx *ctx, struct sock *sk)
{
	const struct inet_diag_req_v2 *req = ctx->req;
	const struct inet_sock *inet = inet_sk(sk);
	int family = READ_ONCE(sk->sk_family);

	/* AF_IB sockets carry protocol 258 too; they are not inet sockets. */
	if (family != AF_INET && family != AF_INET6)
		return false;
	if (req->sdiag_family != AF_UNSPEC && family != req->sdiag_family)
		return false;
	if (ctx->one) {
		if (req->id.idiag_cookie[0] != INET_DIAG_NOCOOKIE ||
		    req->id.idiag_cookie[1] != INET_DIAG_NOCOOKIE) {
			return infinisock_diag_cookie_is(sk, (u64)req->id.idiag_cookie[1] << 32 | req->id.idiag_cookie[0]);
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
	return inet_diag_bc_sk(ctx->dump_data, sk);
}
#endif

bool infinisock_diag_match(const struct infinisock_diag_ctx *ctx, struct sock *sk)
{
	if (!net_eq(sock_net(sk), ctx->net))
		return false;
	if (ctx->ib_req)
		return infinisock_diag_ib_match(ctx, sk);
#if IS_ENABLED(CONFIG_INET_DIAG)
	return infinisock_diag_inet_match(ctx, sk);
#else
	return false;
#endif
}

bool infinisock_diag_wants_info(const struct infinisock_diag_ctx *ctx)
{
	if (ctx->ib_req)
		return ctx->ib_req->idiag_ext & (1 << (INFINISOCK_DIAG_INFO - 1));
	return ctx->req->idiag_ext & (1 << (INET_DIAG_INFO - 1));
}

bool infinisock_diag_for_af_ib(const struct infinisock_diag_ctx *ctx)
{
	return ctx->ib_req;
}

static struct nlmsghdr *infinisock_diag_put(struct infinisock_diag_ctx *ctx, int len)
{
	return nlmsg_put(ctx->skb, NETLINK_CB(ctx->in_skb).portid, ctx->nlh->nlmsg_seq, ctx->nlh->nlmsg_type, len,
			 ctx->one ? 0 : NLM_F_MULTI);
}

static int infinisock_diag_put_info(struct sk_buff *skb, int type, int pad, const struct infinisock_sdp_info *info)
{
	struct nlattr *attr = nla_reserve_64bit(skb, type, sizeof(*info), pad);

	if (!attr)
		return -EMSGSIZE;
	memcpy(nla_data(attr), info, sizeof(*info));
	return 0;
}

static int infinisock_diag_ib_fill(struct infinisock_diag_ctx *ctx, struct sock *sk, u32 rqueue, u32 wqueue,
				   const struct infinisock_sdp_info *info, const void *local, const void *peer)
{
	struct infinisock_diag_msg *r;
	struct nlmsghdr *nlh;

	nlh = infinisock_diag_put(ctx, sizeof(*r));
	if (!nlh)
		return -EMSGSIZE;
	r = nlmsg_data(nlh);
	memset(r, 0, sizeof(*r));
	r->idiag_family = AF_IB;
	r->idiag_state = READ_ONCE(sk->sk_state);
	r->idiag_type = sk->sk_type;
	r->idiag_shutdown = READ_ONCE(sk->sk_shutdown);
	r->idiag_uid = from_kuid_munged(sk_user_ns(NETLINK_CB(ctx->in_skb).sk), sk_uid(sk));
	r->idiag_rqueue = rqueue;
	r->idiag_wqueue = wqueue;
	r->idiag_inode = sock_i_ino(sk);
	r->idiag_cookie = infinisock_diag_cookie(sk);
	memcpy(&r->idiag_local, local, sizeof(r->idiag_local));
	memcpy(&r->idiag_peer, peer, sizeof(r->idiag_peer));
	if ((ctx->ib_req->idiag_ext & (1 << (INFINISOCK_DIAG_INFO - 1))) &&
	    infinisock_diag_put_info(ctx->skb, INFINISOCK_DIAG_INFO, INFINISOCK_DIAG_PAD, info)) {
		nlmsg_cancel(ctx->skb, nlh);
		return -EMSGSIZE;
	}
	nlmsg_end(ctx->skb, nlh);
	return 0;
}

#if IS_ENABLED(CONFIG_INET_DIAG)
static int infinisock_diag_inet_fill(struct infinisock_diag_ctx *ctx, struct sock *sk, u32 rqueue, u32 wqueue,
				     const struct infinisock_sdp_info *info)
{
	int ext = ctx->req->idiag_ext;
	struct inet_diag_msg *r;
	struct nlmsghdr *nlh;

	nlh = infinisock_diag_put(ctx, sizeof(*r));
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
	if (inet_diag_msg_attrs_fill(sk, ctx->skb, r, ext, sk_user_ns(NETLINK_CB(ctx->in_skb).sk), ctx->net_admin))
		goto too_big;
	if ((ext & (1 << (INET_DIAG_SKMEMINFO - 1))) && sock_diag_put_meminfo(sk, ctx->skb, INET_DIAG_SKMEMINFO))
		goto too_big;
	if ((ext & (1 << (INET_DIAG_INFO - 1))) && infinisock_diag_put_info(ctx->skb, INET_DIAG_INFO, INET_DIAG_PAD, info))
		goto too_big;
	nlmsg_end(ctx->skb, nlh);
	return 0;

too_big:
	nlmsg_cancel(ctx->skb, nlh);
	return -EMSGSIZE;
}
#endif

int infinisock_diag_fill(struct infinisock_diag_ctx *ctx, struct sock *sk, u32 rqueue, u32 wqueue,
			 const struct infinisock_sdp_info *info, const void *local, const void *peer)
{
	int err = -EMSGSIZE;

	if (ctx->ib_req)
		err = infinisock_diag_ib_fill(ctx, sk, rqueue, wqueue, info, local, peer);
#if IS_ENABLED(CONFIG_INET_DIAG)
	else
		err = infinisock_diag_inet_fill(ctx, sk, rqueue, wqueue, info);
#endif
	if (err) {
		ctx->err = err;
		return err;
	}
	if (ctx->one) {
		ctx->found = true;
		return 1;
	}
	return 0;
}

/* An exact lookup's answer, unicast to the requester; ENOENT without one. */
static int infinisock_diag_answer_one(struct infinisock_diag_ctx *ctx, u16 protocol, size_t size)
{
	ctx->one = true;
	/* Allocated before the walk, which holds the module's socket list. */
	ctx->skb = nlmsg_new(size + nla_total_size_64bit(sizeof(struct infinisock_sdp_info)) + 64, GFP_KERNEL);
	if (!ctx->skb)
		return -ENOMEM;
	infinisock_diag_walk(ctx, protocol, 0);
	if (!ctx->found) {
		kfree_skb(ctx->skb);
		return ctx->err ?: -ENOENT;
	}
	return nlmsg_unicast(ctx->net->diag_nlsk, ctx->skb, NETLINK_CB(ctx->in_skb).portid);
}

#if IS_ENABLED(CONFIG_INET_DIAG)
static void infinisock_inet_dump(struct sk_buff *skb, struct netlink_callback *cb, const struct inet_diag_req_v2 *req,
				 u16 protocol)
{
	struct infinisock_diag_ctx ctx = {
		.skb = skb,
		.in_skb = cb->skb,
		.nlh = cb->nlh,
		.req = req,
		.dump_data = cb->data,
		.net = sock_net(skb->sk),
		.net_admin = netlink_net_capable(cb->skb, CAP_NET_ADMIN),
	};
	u64 *cursor = infinisock_diag_cursor(cb);

	*cursor = infinisock_diag_walk(&ctx, protocol, *cursor);
}

static int infinisock_inet_dump_one(struct netlink_callback *cb, const struct inet_diag_req_v2 *req, u16 protocol)
{
	struct infinisock_diag_ctx ctx = {
		.in_skb = cb->skb,
		.nlh = cb->nlh,
		.req = req,
		.net = sock_net(cb->skb->sk),
		.net_admin = netlink_net_capable(cb->skb, CAP_NET_ADMIN),
	};

	return infinisock_diag_answer_one(&ctx, protocol,
					  nla_total_size(sizeof(struct inet_diag_msg)) + inet_diag_msg_attrs_size() +
						  nla_total_size(SK_MEMINFO_VARS * sizeof(u32)));
}

static void infinisock_sdp_dump(struct sk_buff *skb, struct netlink_callback *cb, const struct inet_diag_req_v2 *req)
{
	infinisock_inet_dump(skb, cb, req, IPPROTO_SDP);
}

static int infinisock_sdp_dump_one(struct netlink_callback *cb, const struct inet_diag_req_v2 *req)
{
	return infinisock_inet_dump_one(cb, req, IPPROTO_SDP);
}

static void infinisock_hybrid_dump(struct sk_buff *skb, struct netlink_callback *cb,
				   const struct inet_diag_req_v2 *req)
{
	infinisock_inet_dump(skb, cb, req, IPPROTO_SDP_HYBRID);
}

static int infinisock_hybrid_dump_one(struct netlink_callback *cb, const struct inet_diag_req_v2 *req)
{
	return infinisock_inet_dump_one(cb, req, IPPROTO_SDP_HYBRID);
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
#endif

/* A batch of an AF_IB dump. netlink_dump_start() made the dump hold this module. */
static int infinisock_ib_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct infinisock_diag_ctx ctx = {
		.skb = skb,
		.in_skb = cb->skb,
		.nlh = cb->nlh,
		.ib_req = nlmsg_data(cb->nlh),
		.net = sock_net(skb->sk),
	};
	u64 *cursor = infinisock_diag_cursor(cb);

	*cursor = infinisock_diag_walk(&ctx, 0, *cursor);
	return skb->len;
}

static int infinisock_ib_diag(struct sk_buff *skb, struct nlmsghdr *nlh)
{
	struct infinisock_diag_ctx ctx = {
		.in_skb = skb,
		.nlh = nlh,
		.ib_req = nlmsg_data(nlh),
		.net = sock_net(skb->sk),
	};

	if (nlmsg_len(nlh) < sizeof(struct infinisock_diag_req))
		return -EINVAL;
	if (nlh->nlmsg_flags & NLM_F_DUMP) {
		struct netlink_dump_control c = { .dump = infinisock_ib_dump };

		return netlink_dump_start(ctx.net->diag_nlsk, skb, nlh, &c);
	}
	return infinisock_diag_answer_one(&ctx, 0, nla_total_size(sizeof(struct infinisock_diag_msg)));
}

static const struct sock_diag_handler infinisock_ib_diag_handler = {
	.owner = THIS_MODULE,
	.family = AF_IB,
	.dump = infinisock_ib_diag,
};

int infinisock_diag_register(infinisock_diag_walk_fn walk)
{
	int err;

	infinisock_diag_walk = walk;
	/* Never 0, the generation of a fresh callback's zeroed scratch space. */
	infinisock_diag_generation = get_random_u64() | 1;
	err = sock_diag_register(&infinisock_ib_diag_handler);
	if (err)
		return err;
#if IS_ENABLED(CONFIG_INET_DIAG)
	err = inet_diag_register(&infinisock_sdp_diag_handler);
	if (err)
		goto no_sdp;
	err = inet_diag_register(&infinisock_hybrid_diag_handler);
	if (err)
		goto no_hybrid;
#endif
	return 0;

#if IS_ENABLED(CONFIG_INET_DIAG)
no_hybrid:
	inet_diag_unregister(&infinisock_sdp_diag_handler);
no_sdp:
	sock_diag_unregister(&infinisock_ib_diag_handler);
	return err;
#endif
}

void infinisock_diag_unregister(void)
{
#if IS_ENABLED(CONFIG_INET_DIAG)
	inet_diag_unregister(&infinisock_hybrid_diag_handler);
	inet_diag_unregister(&infinisock_sdp_diag_handler);
#endif
	sock_diag_unregister(&infinisock_ib_diag_handler);
}
