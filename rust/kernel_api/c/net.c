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
