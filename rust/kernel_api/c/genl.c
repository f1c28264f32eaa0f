// SPDX-License-Identifier: GPL-2.0
/*
 * The module's generic netlink family (INFINISOCK_GENL_NAME, uapi infinisock.h): the
 * counters of the requester's network namespace. The family, its ops and the message
 * building are C (genl's tables and nla_* are macros and inlines); the values come
 * from Rust through the callback given at registration.
 */
#include <net/genetlink.h>

#include "helpers.h"
#include "../include/uapi/linux/infinisock.h"

static infinisock_stats_fn infinisock_stats;

static int infinisock_nl_get_stats(struct sk_buff *skb, struct genl_info *info);

static const struct genl_small_ops infinisock_genl_ops[] = {
	{
		.cmd = INFINISOCK_CMD_GET_STATS,
		.doit = infinisock_nl_get_stats,
	},
};

static struct genl_family infinisock_genl_family __ro_after_init = {
	.name = INFINISOCK_GENL_NAME,
	.version = INFINISOCK_GENL_VERSION,
	.maxattr = INFINISOCK_ATTR_MAX,
	/* Each namespace reads its own counters, as /proc/net shows them. */
	.netnsok = true,
	.module = THIS_MODULE,
	.small_ops = infinisock_genl_ops,
	.n_small_ops = ARRAY_SIZE(infinisock_genl_ops),
	.resv_start_op = INFINISOCK_CMD_GET_STATS + 1,
};

static int infinisock_nl_get_stats(struct sk_buff *skb, struct genl_info *info)
{
	u64 values[INFINISOCK_STAT_MAX];
	struct nlattr *nest;
	struct sk_buff *msg;
	unsigned int n, i;
	void *hdr;

	n = infinisock_stats(genl_info_net(info), values, ARRAY_SIZE(values));
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &infinisock_genl_family, 0, INFINISOCK_CMD_GET_STATS);
	if (!hdr)
		goto too_big;
	nest = nla_nest_start(msg, INFINISOCK_ATTR_STATS);
	if (!nest)
		goto too_big;
	/* values[i] is the counter INFINISOCK_STAT_ACTIVE_OPENS + i. */
	for (i = 0; i < n; i++)
		if (nla_put_u64_64bit(msg, INFINISOCK_STAT_ACTIVE_OPENS + i, values[i], INFINISOCK_STAT_PAD))
			goto too_big;
	nla_nest_end(msg, nest);
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

too_big:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

int infinisock_genl_register(infinisock_stats_fn stats)
{
	infinisock_stats = stats;
	return genl_register_family(&infinisock_genl_family);
}

void infinisock_genl_unregister(void)
{
	genl_unregister_family(&infinisock_genl_family);
}
