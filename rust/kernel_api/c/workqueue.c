// SPDX-License-Identifier: GPL-2.0
/*
 * Workqueues: allocating the module's own (alloc_workqueue() is a macro), cancelling
 * a delayed work and flushing a work item. Plain call-throughs.
 */
#include <linux/workqueue.h>

#include "helpers.h"

struct workqueue_struct *infinisock_alloc_workqueue(const char *name)
{
	return alloc_workqueue("%s", WQ_UNBOUND | WQ_MEM_RECLAIM, 0, name);
}

bool infinisock_cancel_delayed_work(struct work_struct *work)
{
	return cancel_delayed_work(to_delayed_work(work));
}

void infinisock_flush_work(struct work_struct *work)
{
	flush_work(work);
}
