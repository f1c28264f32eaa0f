// SPDX-License-Identifier: GPL-2.0
/*
 * Wait queues: waking all of a queue's waiters, and the blocking wait of a socket
 * call: sleep on a wait queue with the endpoint's mutex released unless an event
 * counter moved, optionally after busy-polling it (SO_BUSY_POLL).
 *
 * That wait is logic in C because it is built on DEFINE_WAIT_FUNC(), wait_woken() and
 * busy_loop_current_time(), macros and static inlines that neither the kernel crate
 * nor bindgen gives Rust.
 */
#include <linux/mutex.h>
#include <linux/sched/signal.h>
#include <linux/wait.h>
#include <net/busy_poll.h>

#include "helpers.h"

void infinisock_wake_up_all(struct wait_queue_head *wq)
{
	wake_up_all(wq);
}

/*
 * Spins, with lock released, for up to spin_usec µs while *events is still seen: the
 * SO_BUSY_POLL of a blocked reader. A CQ event bumps *events from the device's
 * completion path, so a spinner sees its message without a scheduler wake-up. It
 * yields the CPU when asked (as napi_busy_loop() does) and stops on a signal.
 * Returns true if *events moved.
 */
static bool infinisock_spin_while(struct mutex *lock, const u32 *events, u32 seen, unsigned int spin_usec)
{
	unsigned long start = busy_loop_current_time();
	bool moved;

	mutex_unlock(lock);
	while (!(moved = READ_ONCE(*events) != seen) && !signal_pending(current) &&
	       busy_loop_current_time() - start < spin_usec) {
		if (need_resched())
			cond_resched();
		else
			cpu_relax();
	}
	mutex_lock(lock);
	return moved;
}

/* What ends a wait besides its wake-up and timeout (enum infinisock_wait_ends). */
static bool infinisock_ends_wait(int ends)
{
	switch (ends) {
	case INFINISOCK_WAIT_ENDS_SIGNAL:
		return signal_pending(current);
	case INFINISOCK_WAIT_ENDS_FATAL:
		return fatal_signal_pending(current);
	default:
		return false;
	}
}

static unsigned int infinisock_wait_state(int ends)
{
	switch (ends) {
	case INFINISOCK_WAIT_ENDS_SIGNAL:
		return TASK_INTERRUPTIBLE;
	case INFINISOCK_WAIT_ENDS_FATAL:
		return TASK_KILLABLE;
	default:
		return TASK_UNINTERRUPTIBLE;
	}
}

/*
 * Sleeps on wq, with lock released, unless *events is no longer seen. The waiter is
 * on the queue before it reads *events (wait_woken()), and a waker bumps *events
 * before it wakes the queue, so no wake-up falls between the caller's last look and
 * its sleep. spin_usec > 0 spins that long first (see above). Returns the jiffies
 * left (at least 1), 0 when the timeout ran out, or -1 when a signal ended it. lock
 * is held again on return. ends: any signal ends the wait, only a fatal one (a wait
 * the caller must see through, bounded by timeo), or none (what a dying task must
 * still see through, bounded by timeo).
 */
long infinisock_wait_unless(struct wait_queue_head *wq, struct mutex *lock, const u32 *events, u32 seen,
			    long timeo, unsigned int spin_usec, int ends)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);

	if (spin_usec && infinisock_spin_while(lock, events, seen, spin_usec))
		return infinisock_ends_wait(ends) ? -1 : timeo;
	add_wait_queue(wq, &wait);
	if (READ_ONCE(*events) == seen && !infinisock_ends_wait(ends)) {
		mutex_unlock(lock);
		timeo = wait_woken(&wait, infinisock_wait_state(ends), timeo);
		mutex_lock(lock);
	}
	remove_wait_queue(wq, &wait);
	if (infinisock_ends_wait(ends))
		return -1;
	return timeo;
}
