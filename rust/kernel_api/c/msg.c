// SPDX-License-Identifier: GPL-2.0
/*
 * struct msghdr and its iov_iter: the data iterator and flags, copies in and out with
 * page faults disabled, faulting in what a copy found missing, and control messages
 * (appending one to a recvmsg(), walking a sendmsg()'s).
 *
 * Logic in C because the copies must run between pagefault_disable() and
 * pagefault_enable(), and the fault-in calls, user_backed_iter() and the CMSG_*()
 * macros are static inlines and macros that neither the kernel crate nor bindgen
 * gives Rust.
 */
#include <linux/pagemap.h>
#include <linux/sched/signal.h>
#include <linux/socket.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <net/sock.h>

#include "helpers.h"

struct iov_iter *infinisock_msg_iter(struct msghdr *msg)
{
	return &msg->msg_iter;
}

int infinisock_msg_flags(const struct msghdr *msg)
{
	return msg->msg_flags;
}

void infinisock_msg_add_flags(struct msghdr *msg, int flags)
{
	msg->msg_flags |= flags;
}

/*
 * The copies between a socket call's user memory and the module run with page faults
 * disabled: they happen with the endpoint's lock held, and a fault userspace controls
 * (userfaultfd, FUSE) would hold that lock, and with it the connection's rdma_cm
 * events and completions, for as long as userspace likes. A copy that meets a missing
 * page comes back short; the caller drops the lock, calls infinisock_msg_fault_in()
 * and tries again.
 */

/* Appends a control message; -EFAULT if the control buffer's page is missing. */
int infinisock_put_cmsg(struct msghdr *msg, int level, int type, int len, const void *data)
{
	int ret;

	pagefault_disable();
	ret = put_cmsg(msg, level, type, len, (void *)data);
	pagefault_enable();
	return ret;
}

/* Copies from the message's data; all: all of len or nothing (the iterator unmoved). */
size_t infinisock_msg_copy_in(struct msghdr *msg, void *buf, size_t len, bool all)
{
	size_t n;

	pagefault_disable();
	if (all)
		n = copy_from_iter_full(buf, len, &msg->msg_iter) ? len : 0;
	else
		n = copy_from_iter(buf, len, &msg->msg_iter);
	pagefault_enable();
	return n;
}

/* Copies into the message's data; all: all of len or nothing (the iterator unmoved). */
size_t infinisock_msg_copy_out(struct msghdr *msg, const void *buf, size_t len, bool all)
{
	size_t n;

	pagefault_disable();
	n = copy_to_iter(buf, len, &msg->msg_iter);
	pagefault_enable();
	if (all && n != len) {
		iov_iter_revert(&msg->msg_iter, n);
		n = 0;
	}
	return n;
}

/* What one round of faulting in covers at most: a copy needs the next pages only. */
#define INFINISOCK_FAULT_IN_MAX (256 * 1024)

/*
 * Faults in the message's next len bytes, for writing them (a recvmsg(), an RDMA
 * READ into them) or reading them, sleeping as long as the faults take. all: every
 * one of them (for an all-or-nothing copy; a message is at most a buffer), else the
 * first ones, at most INFINISOCK_FAULT_IN_MAX (a partial copy goes on from the first
 * missing page). -EFAULT if they cannot be there, -EINTR on a fatal signal.
 */
int infinisock_msg_fault_in(struct msghdr *msg, size_t len, bool writeable, bool all)
{
	struct iov_iter *it = &msg->msg_iter;
	size_t want = min(len, iov_iter_count(it)), left;

	if (fatal_signal_pending(current))
		return -EINTR;
	if (!all)
		want = min_t(size_t, want, INFINISOCK_FAULT_IN_MAX);
	if (!want || !user_backed_iter(it))
		return 0;
	left = writeable ? fault_in_iov_iter_writeable(it, want) : fault_in_iov_iter_readable(it, want);
	return (all ? left : left == want) ? -EFAULT : 0;
}

/* Faults in room for a control message of len data bytes in a recvmsg()'s control buffer. */
int infinisock_msg_fault_in_control(struct msghdr *msg, size_t len)
{
	size_t room = min_t(size_t, msg->msg_controllen, CMSG_SPACE(len));

	if (fatal_signal_pending(current))
		return -EINTR;
	if (!msg->msg_control_is_user || !room)
		return 0;
	return fault_in_writeable(msg->msg_control_user, room) ? -EFAULT : 0;
}

/* Control-message space left in a recvmsg()'s buffer. */
size_t infinisock_msg_control_room(const struct msghdr *msg)
{
	return msg->msg_controllen;
}

/*
 * The next control message of a sendmsg() (its control data is in the kernel):
 * *cursor is NULL for the first. Returns 1 with its level, type and data, 0 after
 * the last, -EINVAL for a malformed one.
 */
int infinisock_msg_next_cmsg(struct msghdr *msg, void **cursor, int *level, int *type, const void **data,
			     size_t *len)
{
	struct cmsghdr *c;

	if (msg->msg_control_is_user)
		return -EINVAL;
	c = *cursor ? CMSG_NXTHDR(msg, (struct cmsghdr *)*cursor) : CMSG_FIRSTHDR(msg);
	if (!c)
		return 0;
	if (!CMSG_OK(msg, c))
		return -EINVAL;
	*cursor = c;
	*level = c->cmsg_level;
	*type = c->cmsg_type;
	*data = CMSG_DATA(c);
	*len = c->cmsg_len - CMSG_LEN(0);
	return 1;
}

/*
 * Whether the len bytes of a splice()d bvec at start (from bv_page) may go to the
 * device as they are: pages TCP would take as they are too (sendpage_ok(): no slab
 * page, a reference held).
 */
static bool infinisock_bvec_lendable(const struct bio_vec *bv, size_t start, size_t len)
{
	size_t first = start >> PAGE_SHIFT, last = (start + len - 1) >> PAGE_SHIFT, i;

	for (i = first; i <= last; i++)
		if (!sendpage_ok(bv->bv_page + i))
			return false;
	return true;
}

/*
 * What one advert of zero-copy SDP may cover from the message's position, and in
 * *offset where its first byte sits in its page. A sendmsg()'s user iovec: the rest
 * of its current segment, contiguous in the program's memory. The pages of a
 * sendfile() or splice() (MSG_SPLICE_PAGES, a bvec of page-cache or pipe pages): the
 * run of them that makes one region (each meeting the next at a page boundary) and
 * that sendpage_ok() lends. 0 for anything else.
 */
size_t infinisock_msg_zc_segment(const struct msghdr *msg, size_t *offset)
{
	const struct iov_iter *it = &msg->msg_iter;
	size_t left = iov_iter_count(it), skip = it->iov_offset, run = 0;
	const struct bio_vec *bv;

	if (!left)
		return 0;
	if (user_backed_iter(it)) {
		*offset = offset_in_page(iter_iov_addr(it));
		return min(iter_iov_len(it), left);
	}
	if (!iov_iter_is_bvec(it) || !(msg->msg_flags & MSG_SPLICE_PAGES))
		return 0;
	for (bv = it->bvec; left && bv < it->bvec + it->nr_segs; bv++, skip = 0) {
		size_t start = bv->bv_offset + skip, len = min_t(size_t, bv->bv_len - skip, left);

		if (!len)
			continue;
		if ((run && offset_in_page(start)) || !infinisock_bvec_lendable(bv, start, len))
			break;
		if (!run)
			*offset = offset_in_page(start);
		run += len;
		left -= len;
		if (offset_in_page(start + len))
			break;
	}
	return run;
}

/* Steps over len bytes of the message's data that went another way than a copy. */
void infinisock_msg_advance(struct msghdr *msg, size_t len)
{
	iov_iter_advance(&msg->msg_iter, len);
}

/* Steps back over the last len bytes the iterator went over. */
void infinisock_msg_revert(struct msghdr *msg, size_t len)
{
	iov_iter_revert(&msg->msg_iter, len);
}
