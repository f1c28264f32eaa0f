// SPDX-License-Identifier: GPL-2.0
/*
 * Network namespaces: a namespace's net_generic() slot and owning user namespace,
 * /proc/net directories and a /proc/net seq_file's namespace; and the RAM size the
 * sysctl defaults scale with. Plain call-throughs to static inlines and macros.
 */
#include <linux/mm.h>
#include <linux/timekeeping.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/seq_file_net.h>
#include <linux/slab.h>
#include <linux/sysctl.h>
#include <linux/user_namespace.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

#include "helpers.h"

void *infinisock_net_generic(const struct net *net, unsigned int id)
{
	return net_generic(net, id);
}

struct proc_dir_entry *infinisock_proc_net_mkdir(struct net *net, const char *name)
{
	return proc_net_mkdir(net, name, net->proc_net);
}

struct net *infinisock_seq_file_net(struct seq_file *m)
{
	return seq_file_single_net(m);
}

bool infinisock_net_owned_by_init_user_ns(const struct net *net)
{
	return net->user_ns == &init_user_ns;
}

size_t infinisock_total_ram_kib(void)
{
	return totalram_pages() << (PAGE_SHIFT - 10);
}

u64 infinisock_boottime_ms(void)
{
	return ktime_get_boottime_ns() / NSEC_PER_MSEC;
}

/*
 * A text sysctl whose value lives in Rust: reads print it into a buffer, writes hand
 * the whole text over, which Rust parses and stores or refuses (-EINVAL, value
 * unchanged). A write must come in one piece (offset 0).
 */
int infinisock_text_sysctl(const struct ctl_table *table, int write, void *buffer, size_t *lenp,
			   loff_t *ppos)
{
	const struct infinisock_text_ctx *ctx = table->extra1;
	struct ctl_table tmp = *table;
	char *buf;
	int err;

	if (write && *ppos)
		return -EINVAL;
	buf = kzalloc(INFINISOCK_TEXT_MAX, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	tmp.data = buf;
	tmp.maxlen = INFINISOCK_TEXT_MAX;
	if (!write) {
		err = ctx->show(ctx->data, ctx->which, buf, INFINISOCK_TEXT_MAX - 1);
		if (err >= 0)
			err = proc_dostring(&tmp, 0, buffer, lenp, ppos);
	} else {
		err = proc_dostring(&tmp, 1, buffer, lenp, ppos);
		if (!err)
			err = ctx->store(ctx->data, ctx->which, buf);
	}
	kfree(buf);
	return err;
}
