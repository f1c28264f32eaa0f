// SPDX-License-Identifier: GPL-2.0
/*
 * One-sided RDMA (rust/af_ib/rdma.rs): user memory registered as a memory region
 * (ib_reg_user_mr()) and faulted in beforehand; the pages of a sendmsg()'s iov_iter
 * pinned, charged to RLIMIT_MEMLOCK and DMA-mapped (struct infinisock_pinned, opaque
 * to Rust); fast registration of page runs through regions each QP keeps for its
 * next operations; posting RDMA WRITE, READ and WRITE with immediate.
 *
 * Logic in C because the kernel crate has no RDMA bindings nor a wrapper for pinning
 * an iov_iter's pages: it is made of iov_iter_extract_pages(),
 * mm_account_pinned_pages(), ib_map_mr_sg(), ib_mr_pool_*() and static inlines such as
 * ib_dma_map_page(), ib_update_fast_reg_key() and ib_post_send(), over work request
 * structures the module's bindgen allowlist leaves out.
 */
#include <linux/capability.h>
#include <linux/mm.h>
#include <linux/net.h>
#include <linux/sched/signal.h>
#include <linux/pagemap.h>
#include <linux/scatterlist.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <rdma/ib_verbs.h>
#include <rdma/mr_pool.h>

#include "helpers.h"

/*
 * Registers [addr, addr + len) of the current process for the peer and, local_write,
 * as the landing place of the program's own RDMA READs: ib_reg_user_mr() pins it
 * through ib_umem_get(), which accounts it against RLIMIT_MEMLOCK (ENOMEM over it,
 * EPERM with a limit of 0, both unless CAP_IPC_LOCK) and fails unmapped memory with
 * EFAULT. The I/O virtual address is the user address, so an SGE names the region's
 * bytes by their user addresses.
 */
struct ib_mr *infinisock_reg_user_mr(struct ib_pd *pd, u64 addr, u64 len, bool remote_read, bool remote_write,
				     bool local_write, int *err)
{
	int access = 0;

	if (!pd->device->ops.reg_user_mr) {
		*err = -EOPNOTSUPP;
		return NULL;
	}
	/* The verbs require local write wherever the peer may write. */
	if (remote_write || local_write)
		access |= IB_ACCESS_LOCAL_WRITE;
	if (remote_write)
		access |= IB_ACCESS_REMOTE_WRITE;
	if (remote_read)
		access |= IB_ACCESS_REMOTE_READ;
	return infinisock_unerr(ib_reg_user_mr(pd, addr, len, addr, access), err);
}

/*
 * Faults in [addr, addr + len) of the current process, for writing when writeable,
 * as long as that takes: before a registration pins it with the endpoint's lock held
 * (see infinisock_msg_fault_in()). -EFAULT if some of it cannot be there.
 */
int infinisock_user_fault_in(u64 addr, u64 len, bool writeable)
{
	char __user *p = u64_to_user_ptr(addr);
	u64 pages = DIV_ROUND_UP((addr & ~PAGE_MASK) + len, PAGE_SIZE);

	if (addr + len < addr)
		return -EINVAL;
	/* What the registration would refuse anyway (ib_umem_get()), before touching it all. */
	if (!can_do_mlock())
		return -EPERM;
	if (pages > rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT && !capable(CAP_IPC_LOCK))
		return -ENOMEM;
	return (writeable ? fault_in_safe_writeable(p, len) : fault_in_readable(p, len)) ? -EFAULT : 0;
}

/*
 * Pins the len bytes under the message's iterator once, with faults allowed, and
 * unpins them: what infinisock_pin_iter() (faults disabled) then finds in place, as
 * the fault-in of a copy does. A pin also breaks the sharing of pages a fork() left,
 * which faulting in does not. Only without the endpoint's lock. -EFAULT if the pages
 * cannot be pinned, -EINTR on a fatal signal.
 */
int infinisock_msg_prepin(struct msghdr *msg, size_t len, bool device_writes)
{
	struct iov_iter it = msg->msg_iter;
	struct page *batch[32];
	size_t done = 0;

	if (!user_backed_iter(&it))
		return 0;
	it.data_source = !device_writes;
	while (done < len) {
		struct page **pages = batch;
		size_t off;
		ssize_t got;

		if (fatal_signal_pending(current))
			return -EINTR;
		got = iov_iter_extract_pages(&it, &pages, len - done, ARRAY_SIZE(batch), 0, &off);
		if (got <= 0)
			return got ? got : -EFAULT;
		unpin_user_pages(batch, DIV_ROUND_UP(off + got, PAGE_SIZE));
		done += got;
	}
	return 0;
}

u32 infinisock_mr_rkey(const struct ib_mr *mr)
{
	return mr->rkey;
}

/*
 * Whether the first len bytes under iter (a sendmsg()'s iovec) are one contiguous
 * range of user memory; *addr is its start.
 */
bool infinisock_iter_user_span(const struct iov_iter *iter, size_t len, u64 *addr)
{
	if (!user_backed_iter(iter) || iov_iter_count(iter) < len || iter_iov_len(iter) < len)
		return false;
	*addr = (u64)(uintptr_t)iter_iov_addr(iter);
	return true;
}

void infinisock_dereg_mr(struct ib_mr *mr)
{
	ib_dereg_mr(mr);
}

/* The local buffer of an RDMA operation: user pages pinned and mapped, one SGE each. */
/* Regions a write with immediate may register for its pages (at most one per SGE). */
#define INFINISOCK_IMM_MAX_MRS 16

struct infinisock_pinned {
	struct ib_device *dev;
	enum dma_data_direction dir;
	bool pinned;		/* pinned (user memory), else referenced (a bvec) */
	struct mmpin mmp;	/* what they are charged to RLIMIT_MEMLOCK */
	/* A MSG_ZEROCOPY call's notification, whose charge covers the pages instead:
	 * a reference held until they are unpinned, so it is queued after that. */
	struct ubuf_info *notify;
	/* Their bytes were copied after all: the notification says so. */
	bool copied;
	u32 npages, nsge;
	/* Where the first byte sits in pages[0]. */
	u32 first_off;
	struct page **pages;
	struct ib_sge *sges;
	/* As one request (infinisock_pinned_one_request()): its SGEs, and the regions
	 * registered over runs of its pages, taken from qp's pool
	 * (infinisock_pool_mr_get()); region i is SGE mr_sge[i]. */
	struct ib_qp *qp;
	u32 one_nsge, nmr;
	struct ib_sge one_sges[INFINISOCK_IMM_MAX_MRS];
	struct ib_mr *mrs[INFINISOCK_IMM_MAX_MRS];
	u8 mr_sge[INFINISOCK_IMM_MAX_MRS];
};

/* Pages of each region of a queue pair's pool: 1 MiB of 4 KiB pages, as the device allows. */
#define INFINISOCK_POOL_MR_PAGES 256

static u32 infinisock_pool_mr_pages(const struct ib_device *dev)
{
	return min_t(u32, dev->attrs.max_fast_reg_page_list_len, INFINISOCK_POOL_MR_PAGES);
}

/*
 * A fast-registration region of qp's pool, allocated when the pool has none free.
 * The pool is the QP's own rdma_mrs list (ib_mr_pool_*(), under the QP's mr_lock):
 * the module never runs rdma_rw on its QPs, and ib_destroy_qp() deregisters what the
 * list holds. Each region given out must come back (infinisock_pool_mr_put()) before
 * the QP is destroyed, which WARNs otherwise. Regions thus stay registered with the
 * device from one operation to the next: an operation costs a REG_MR request (and a
 * LOCAL_INV of the previous registration), not an allocation and a deregistration.
 */
static struct ib_mr *infinisock_pool_mr_get(struct ib_qp *qp)
{
	struct ib_mr *mr = ib_mr_pool_get(qp, &qp->rdma_mrs);
	LIST_HEAD(fresh);
	int ret;

	if (mr)
		return mr;
	/* One more region, through a list of its own: the pool's is left as it is on failure. */
	ret = ib_mr_pool_init(qp, &fresh, 1, IB_MR_TYPE_MEM_REG, infinisock_pool_mr_pages(qp->device), 0);
	if (ret)
		return ERR_PTR(ret);
	return ib_mr_pool_get(qp, &fresh) ?: ERR_PTR(-ENOMEM);
}

static void infinisock_pool_mr_put(struct ib_qp *qp, struct ib_mr *mr)
{
	ib_mr_pool_put(qp, &qp->rdma_mrs, mr);
}

/* Whether qp's pool holds regions not given out. */
bool infinisock_qp_keeps_mrs(struct ib_qp *qp)
{
	unsigned long flags;
	bool kept;

	spin_lock_irqsave(&qp->mr_lock, flags);
	kept = !list_empty(&qp->rdma_mrs);
	spin_unlock_irqrestore(&qp->mr_lock, flags);
	return kept;
}

/* Deregisters the regions qp's pool holds; those given out stay out, and come back. */
void infinisock_qp_trim_mrs(struct ib_qp *qp)
{
	ib_mr_pool_destroy(qp, &qp->rdma_mrs);
}

/* Gives p's regions back to their pool; p keeps its pages. */
static void infinisock_pinned_put_mrs(struct infinisock_pinned *p)
{
	u32 i;

	for (i = 0; i < p->nmr; i++)
		infinisock_pool_mr_put(p->qp, p->mrs[i]);
	p->nmr = 0;
}

void infinisock_unpin(struct infinisock_pinned *p)
{
	u32 i;

	infinisock_pinned_put_mrs(p);
	for (i = 0; i < p->nsge; i++)
		ib_dma_unmap_page(p->dev, p->sges[i].addr, p->sges[i].length, p->dir);
	if (p->pinned)
		unpin_user_pages_dirty_lock(p->pages, p->npages, p->dir == DMA_FROM_DEVICE);
	else
		for (i = 0; i < p->npages; i++)
			put_page(p->pages[i]);
	mm_unaccount_pinned_pages(&p->mmp);
	/* net_zcopy_put(), with SO_EE_CODE_ZEROCOPY_COPIED if they were copied. */
	if (p->notify)
		p->notify->ops->complete(NULL, p->notify, !p->copied);
	kvfree(p->pages);
	kvfree(p->sges);
	kfree(p);
}

/*
 * Appends b's pages to a's: both the referenced pages of a splice (neither pinned nor
 * charged, with no notification), mapped for the same device to read and in no
 * request. b is left empty, to be freed. -EINVAL unless a's last byte ends a page and
 * b's first begins one, which one fast registration needs to map them together.
 */
int infinisock_pinned_append(struct infinisock_pinned *a, struct infinisock_pinned *b)
{
	u32 n = a->nsge + b->nsge;
	const struct ib_sge *last;
	struct page **pages;
	struct ib_sge *sges;

	if (a->pinned || b->pinned || a->notify || b->notify || a->nmr || b->nmr || a->dev != b->dev ||
	    a->dir != b->dir || !a->nsge || !b->nsge || a->nsge != a->npages || b->nsge != b->npages)
		return -EINVAL;
	last = &a->sges[a->nsge - 1];
	if (offset_in_page(last->addr + last->length) || offset_in_page(b->sges[0].addr) || b->first_off)
		return -EINVAL;
	pages = kvmalloc_array(n, sizeof(*pages), GFP_KERNEL);
	sges = kvmalloc_array(n, sizeof(*sges), GFP_KERNEL);
	if (!pages || !sges) {
		kvfree(pages);
		kvfree(sges);
		return -ENOMEM;
	}
	memcpy(pages, a->pages, a->npages * sizeof(*pages));
	memcpy(pages + a->npages, b->pages, b->npages * sizeof(*pages));
	memcpy(sges, a->sges, a->nsge * sizeof(*sges));
	memcpy(sges + a->nsge, b->sges, b->nsge * sizeof(*sges));
	kvfree(a->pages);
	kvfree(a->sges);
	a->pages = pages;
	a->sges = sges;
	a->npages = n;
	a->nsge = n;
	/* Their references and mappings are a's now. */
	b->npages = 0;
	b->nsge = 0;
	return 0;
}

/*
 * p's regions go back to their pool (invalidated, in no request any more), and its
 * bytes are to be copied out: a MSG_ZEROCOPY notification they hold will say so.
 */
void infinisock_pinned_kept_for_copy(struct infinisock_pinned *p)
{
	infinisock_pinned_put_mrs(p);
	p->copied = true;
}

/* p's pages stay (kept for ever, after a failed drain); its notification goes. */
void infinisock_pinned_release_notify(struct infinisock_pinned *p)
{
	net_zcopy_put(p->notify);
	p->notify = NULL;
}

/*
 * Copies len bytes of p's, from the from'th on, into dst; returns how many (fewer at
 * the end). For pages pinned as one run (each meeting the next at a page boundary,
 * as an exposed region's are), read by the CPU once the device is done with them.
 */
size_t infinisock_pinned_copy(const struct infinisock_pinned *p, size_t from, void *dst, size_t len)
{
	size_t pos = from + p->first_off, done = 0;
	u32 i = pos >> PAGE_SHIFT;

	pos = offset_in_page(pos);
	while (done < len && i < p->nsge) {
		/* The SGE's bytes of page i end where page i's of the run do. */
		size_t end = (i ? 0 : p->first_off) + p->sges[i].length;
		size_t n;

		if (pos >= end)
			break;
		n = min(len - done, end - pos);
		memcpy_from_page((u8 *)dst + done, p->pages[i], pos, n);
		done += n;
		pos = 0;
		i++;
	}
	return done;
}

/* The pages the first len bytes under iter span: one SGE each. */
u32 infinisock_iter_pages(const struct iov_iter *iter, size_t len)
{
	struct iov_iter it = *iter;

	iov_iter_truncate(&it, len);
	return iov_iter_npages(&it, INT_MAX);
}

/*
 * Pins the len bytes under iter (a sendmsg()'s iovec, not advanced) for the device:
 * for reading them (RDMA WRITE) or, device_writes, for writing into them (RDMA READ).
 * The pages of a sendmsg() iterator are a data source, pinned read-only; a copy of
 * the iterator turned into a destination pins them writable, as a read() would.
 * spliced: the pages of a splice() (a bvec of MSG_SPLICE_PAGES, a data source,
 * infinisock_msg_zc_segment()) are taken too, not pinned but held by a reference
 * each, as TCP holds the pages it splices, charged to nobody, and only those
 * sendpage_ok() lends (-EOPNOTSUPP otherwise); notify does not cover them.
 * notify, if not NULL, is the MSG_ZEROCOPY notification of the call the bytes belong
 * to: its charge covers them, and the pins keep it (and its notification) until
 * they go.
 */
struct infinisock_pinned *infinisock_pin_iter(struct ib_device *dev, struct iov_iter *iter, size_t len,
					      bool device_writes, bool spliced, u32 lkey, struct ubuf_info *notify,
					      int *err)
{
	struct iov_iter it = *iter;
	u32 max_pages;
	struct infinisock_pinned *p;
	size_t done = 0;
	int ret = 0;

	if (!user_backed_iter(iter) && !(spliced && iov_iter_is_bvec(iter) && !device_writes)) {
		*err = -EOPNOTSUPP;
		return NULL;
	}
	it.data_source = !device_writes;
	/* Pages only as they are: a missing one is -EFAULT, see infinisock_msg_fault_in(). */
	it.nofault = true;
	max_pages = infinisock_iter_pages(&it, len);
	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p) {
		*err = -ENOMEM;
		return NULL;
	}
	p->dev = dev;
	p->dir = device_writes ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
	p->pinned = iov_iter_extract_will_pin(&it);
	/*
	 * Pinned pages count against the caller's RLIMIT_MEMLOCK while the operation
	 * runs, as MSG_ZEROCOPY's do (and with its errno, ENOBUFS, beyond the limit).
	 * A MSG_ZEROCOPY call's were charged for the whole call by its notification
	 * (msg_zerocopy_realloc()), once, as TCP charges them.
	 */
	if (p->pinned && notify) {
		net_zcopy_get(notify);
		p->notify = notify;
	} else if (p->pinned && mm_account_pinned_pages(&p->mmp, len)) {
		kfree(p);
		*err = -ENOBUFS;
		return NULL;
	}
	p->pages = kvmalloc_array(max_pages, sizeof(*p->pages), GFP_KERNEL);
	p->sges = kvmalloc_array(max_pages, sizeof(*p->sges), GFP_KERNEL);
	if (!p->pages || !p->sges) {
		ret = -ENOMEM;
		goto fail;
	}
	while (done < len) {
		struct page **pages = p->pages + p->npages;
		size_t off;
		ssize_t got = iov_iter_extract_pages(&it, &pages, len - done, max_pages - p->npages, 0, &off);
		u32 n, i;

		if (got <= 0) {
			ret = got ? got : -EFAULT;
			goto fail;
		}
		n = DIV_ROUND_UP(off + got, PAGE_SIZE);
		if (!p->npages)
			p->first_off = off;
		p->npages += n;
		/* Extracted from a bvec: neither pinned nor referenced. */
		for (i = 0; !p->pinned && i < n; i++) {
			if (!sendpage_ok(pages[i])) {
				p->npages -= n - i;
				ret = -EOPNOTSUPP;
				goto fail;
			}
			get_page(pages[i]);
		}
		for (i = 0; i < n; i++) {
			u32 seg = min_t(size_t, PAGE_SIZE - off, got);
			u64 addr = ib_dma_map_page(dev, pages[i], off, seg, p->dir);

			if (ib_dma_mapping_error(dev, addr)) {
				ret = -ENOMEM;
				goto fail;
			}
			p->sges[p->nsge++] = (struct ib_sge) { .addr = addr, .length = seg, .lkey = lkey };
			got -= seg;
			done += seg;
			off = 0;
		}
	}
	return p;
fail:
	infinisock_unpin(p);
	*err = ret;
	return NULL;
}

/*
 * One SGE over n of p's pages that meet at page boundaries: a region of qp's pool for
 * the operation (fast registration: the request that registers it is posted just
 * before the one that uses it). The region is p's until p goes or gives it back.
 */
static int infinisock_reg_run(struct ib_qp *qp, struct infinisock_pinned *p, const struct ib_sge *first, u32 n,
			      u32 sge)
{
	struct ib_sge *out = &p->one_sges[sge];
	struct scatterlist *sgl;
	struct ib_mr *mr;
	u32 i, len = 0;
	int mapped;

	if (p->nmr == INFINISOCK_IMM_MAX_MRS)
		return -EMSGSIZE;
	mr = infinisock_pool_mr_get(qp);
	if (IS_ERR(mr))
		return PTR_ERR(mr);
	p->mrs[p->nmr] = mr;
	p->mr_sge[p->nmr] = sge;
	p->nmr++;
	sgl = kvmalloc_array(n, sizeof(*sgl), GFP_KERNEL);
	if (!sgl)
		return -ENOMEM;
	sg_init_table(sgl, n);
	for (i = 0; i < n; i++) {
		sg_dma_address(&sgl[i]) = first[i].addr;
		sg_dma_len(&sgl[i]) = first[i].length;
		len += first[i].length;
	}
	mapped = ib_map_mr_sg(mr, sgl, n, NULL, PAGE_SIZE);
	kvfree(sgl);
	if (mapped != (int)n)
		return mapped < 0 ? mapped : -EINVAL;
	/* The key is the registration's, set when it is posted (infinisock_post_write_imm()). */
	*out = (struct ib_sge) { .addr = mr->iova, .length = len };
	return 0;
}

static bool infinisock_sge_ends_page(const struct ib_sge *sge)
{
	return offset_in_page(sge->addr + sge->length) == 0;
}

/*
 * Makes p one request of at most max_sge SGEs, for a write with immediate: the peer's
 * receive completion reports that request's bytes as the write's length. Pages beyond
 * max_sge are grouped into runs that meet at page boundaries (any one iovec segment is
 * one run), each run of two or more pages one SGE through a region of qp's pool
 * (infinisock_reg_run()). Nothing is posted here, and on an error p holds no region:
 * the connection is as it was (EMSGSIZE: too fragmented; EOPNOTSUPP: the device has
 * no fast registration). The regions go back to the pool with p
 * (infinisock_unpin()), which must happen before qp is destroyed.
 */
int infinisock_pinned_one_request(struct ib_qp *qp, struct infinisock_pinned *p, u32 max_sge)
{
	const struct ib_device_attr *attrs = &qp->device->attrs;
	u32 i = 0, n = 0, run_max = infinisock_pool_mr_pages(qp->device);
	int ret;

	if (p->nmr)
		return -EINVAL;
	p->qp = qp;
	max_sge = min_t(u32, max_sge, INFINISOCK_IMM_MAX_MRS);
	if (p->nsge <= max_sge) {
		memcpy(p->one_sges, p->sges, p->nsge * sizeof(*p->sges));
		p->one_nsge = p->nsge;
		return 0;
	}
	if (!(attrs->device_cap_flags & IB_DEVICE_MEM_MGT_EXTENSIONS) || !run_max)
		return -EOPNOTSUPP;
	while (i < p->nsge) {
		u32 run = 1;

		while (i + run < p->nsge && run < run_max && infinisock_sge_ends_page(&p->sges[i + run - 1]) &&
		       offset_in_page(p->sges[i + run].addr) == 0)
			run++;
		if (n == max_sge) {
			ret = -EMSGSIZE;
			goto fail;
		}
		if (run == 1) {
			p->one_sges[n++] = p->sges[i++];
			continue;
		}
		ret = infinisock_reg_run(qp, p, &p->sges[i], run, n);
		if (ret)
			goto fail;
		n++;
		i += run;
	}
	p->one_nsge = n;
	return 0;
fail:
	infinisock_pinned_put_mrs(p);
	return ret;
}

/* The requests of a write with immediate: a registration per region, each behind an invalidation. */
struct infinisock_imm_wrs {
	struct ib_send_wr invs[INFINISOCK_IMM_MAX_MRS];
	struct ib_reg_wr regs[INFINISOCK_IMM_MAX_MRS];
	struct ib_rdma_wr write;
};

/*
 * A write with immediate as one request (p made so by infinisock_pinned_one_request()),
 * after the requests that register its regions: unsignaled, carrying part_cqe, as the
 * earlier requests of other operations do.
 *
 * A region registered before is still valid on the device (its last use completed:
 * its operation's pins went only then), and a device registers only a free one: the
 * old registration is invalidated first, by the key it had (rdma_rw does the same).
 * Each registration gets a new key here, as it is posted, not when its region is
 * prepared: a region prepared and never posted keeps the key the device knows, which
 * its next invalidation names.
 */
static int infinisock_post_write_imm(struct ib_qp *qp, struct ib_cqe *last_cqe, struct ib_cqe *part_cqe,
				     struct infinisock_pinned *p, u32 imm, u64 remote_addr, u32 rkey, u32 *posted)
{
	struct infinisock_imm_wrs *w = kzalloc(sizeof(*w), GFP_KERNEL);
	const struct ib_send_wr *bad = NULL, *sent;
	struct ib_send_wr *first;
	u8 old_key[INFINISOCK_IMM_MAX_MRS];
	bool reg_sent[INFINISOCK_IMM_MAX_MRS] = {};
	int i, ret;

	*posted = 0;
	if (!w)
		return -ENOMEM;
	if (p->nmr && p->qp != qp) {
		kfree(w);
		return -EINVAL;
	}
	for (i = 0; i < (int)p->nmr; i++) {
		struct ib_mr *mr = p->mrs[i];

		old_key[i] = mr->lkey & 0xff;
		w->invs[i] = (struct ib_send_wr) {
			.wr_cqe = part_cqe,
			.opcode = IB_WR_LOCAL_INV,
			.ex.invalidate_rkey = mr->lkey,
		};
		ib_update_fast_reg_key(mr, ib_inc_rkey(mr->rkey));
		p->one_sges[p->mr_sge[i]].lkey = mr->lkey;
		/* Access 0: the adapter only reads the region, as the source of a write. */
		w->regs[i] = (struct ib_reg_wr) {
			.wr = { .wr_cqe = part_cqe, .opcode = IB_WR_REG_MR },
			.mr = mr,
			.key = mr->rkey,
			.access = 0,
		};
	}
	w->write = (struct ib_rdma_wr) {
		.wr = {
			.wr_cqe = last_cqe,
			.sg_list = p->one_nsge ? p->one_sges : NULL,
			.num_sge = p->one_nsge,
			.opcode = IB_WR_RDMA_WRITE_WITH_IMM,
			.send_flags = IB_SEND_SIGNALED,
			.ex.imm_data = cpu_to_be32(imm),
		},
		.remote_addr = remote_addr,
		.rkey = rkey,
	};
	/* Linked from the last: [LOCAL_INV,] REG_MR for each region, then the write. */
	first = &w->write.wr;
	for (i = (int)p->nmr - 1; i >= 0; i--) {
		w->regs[i].wr.next = first;
		first = &w->regs[i].wr;
		if (p->mrs[i]->need_inval) {
			w->invs[i].next = first;
			first = &w->invs[i];
		}
	}
	ret = ib_post_send(qp, first, &bad);
	/*
	 * What went: a region whose registration did must be invalidated before its
	 * next one; one whose registration did not keeps its key. (After a failure the
	 * QP is in error and goes; this keeps the regions' state true all the same.)
	 */
	for (sent = first; sent && (ret == 0 || sent != bad); sent = sent->next) {
		(*posted)++;
		if (sent->opcode == IB_WR_REG_MR) {
			reg_sent[reg_wr(sent) - w->regs] = true;
			reg_wr(sent)->mr->need_inval = true;
		}
	}
	for (i = 0; i < (int)p->nmr; i++)
		if (!reg_sent[i])
			ib_update_fast_reg_key(p->mrs[i], old_key[i]);
	kfree(w);
	return ret;
}

/* Work requests an operation on p takes with max_sge SGEs each (one for no data). */
static u32 infinisock_rdma_wrs(const struct infinisock_pinned *p, u32 max_sge)
{
	return max_t(u32, 1, DIV_ROUND_UP(p->nsge, max_sge));
}

static enum ib_wr_opcode infinisock_rdma_opcode(int op)
{
	return op == INFINISOCK_VERB_READ ? IB_WR_RDMA_READ :
	       op == INFINISOCK_VERB_WRITE_IMM ? IB_WR_RDMA_WRITE_WITH_IMM : IB_WR_RDMA_WRITE;
}

/*
 * Posts an RDMA WRITE (op 1), READ (2) or WRITE with immediate (3, the immediate on
 * the last request) over p's SGEs at remote_addr, as infinisock_rdma_wrs() requests.
 * Only the last one is signaled (last_cqe); the others carry part_cqe, which only a
 * failure or a flush reports. *posted says how many were posted, also on failure.
 */
int infinisock_post_rdma(struct ib_qp *qp, struct ib_cqe *last_cqe, struct ib_cqe *part_cqe,
			 struct infinisock_pinned *p, int op, u32 imm, u64 remote_addr, u32 rkey, u32 max_sge,
			 u32 *posted)
{
	u32 nwr = infinisock_rdma_wrs(p, max_sge), i, sge = 0;
	const struct ib_send_wr *bad = NULL;
	struct ib_rdma_wr *wrs;
	int ret;

	if (op == INFINISOCK_VERB_WRITE_IMM)
		return infinisock_post_write_imm(qp, last_cqe, part_cqe, p, imm, remote_addr, rkey, posted);
	*posted = 0;
	wrs = kcalloc(nwr, sizeof(*wrs), GFP_KERNEL);
	if (!wrs)
		return -ENOMEM;
	for (i = 0; i < nwr; i++) {
		bool last = i == nwr - 1;
		u32 n = min(max_sge, p->nsge - sge), j;

		wrs[i].wr.wr_cqe = last ? last_cqe : part_cqe;
		wrs[i].wr.sg_list = n ? &p->sges[sge] : NULL;
		wrs[i].wr.num_sge = n;
		wrs[i].wr.send_flags = last ? IB_SEND_SIGNALED : 0;
		wrs[i].wr.opcode = infinisock_rdma_opcode(op);
		wrs[i].remote_addr = remote_addr;
		wrs[i].rkey = rkey;
		wrs[i].wr.next = last ? NULL : &wrs[i + 1].wr;
		for (j = 0; j < n; j++)
			remote_addr += p->sges[sge + j].length;
		sge += n;
	}
	ret = ib_post_send(qp, &wrs[0].wr, &bad);
	if (!ret)
		*posted = nwr;
	else
		for (i = 0; i < nwr && &wrs[i].wr != bad; i++)
			(*posted)++;
	kfree(wrs);
	return ret;
}

/*
 * Posts one signaled RDMA request as infinisock_post_rdma() does, its local side
 * [addr, addr + len) of the registered user region mr (addresses are user addresses).
 */
int infinisock_post_rdma_mr(struct ib_qp *qp, struct ib_cqe *cqe, const struct ib_mr *mr, u64 addr, u32 len, int op,
			    u32 imm, u64 remote_addr, u32 rkey)
{
	struct ib_sge sge = { .addr = addr, .length = len, .lkey = mr->lkey };
	struct ib_rdma_wr wr = {
		.wr = {
			.wr_cqe = cqe,
			.sg_list = len ? &sge : NULL,
			.num_sge = len ? 1 : 0,
			.send_flags = IB_SEND_SIGNALED,
			.opcode = infinisock_rdma_opcode(op),
			.ex.imm_data = cpu_to_be32(imm),
		},
		.remote_addr = remote_addr,
		.rkey = rkey,
	};

	return ib_post_send(qp, &wr.wr, NULL);
}

/*
 * Maps all of p's pages (pinned, in no request) onto one region of qp's pool, which
 * p keeps until it goes or gives it back. -EINVAL when they are too many or do not
 * make one region; -EOPNOTSUPP without fast registration.
 */
static int infinisock_zc_map(struct ib_qp *qp, struct infinisock_pinned *p, struct ib_mr **out)
{
	struct scatterlist *sgl;
	struct ib_mr *mr;
	u32 i;
	int mapped;

	if (p->nmr || !p->nsge || p->nsge > infinisock_pool_mr_pages(qp->device))
		return -EINVAL;
	if (!(qp->device->attrs.device_cap_flags & IB_DEVICE_MEM_MGT_EXTENSIONS))
		return -EOPNOTSUPP;
	mr = infinisock_pool_mr_get(qp);
	if (IS_ERR(mr))
		return PTR_ERR(mr);
	p->qp = qp;
	p->mrs[0] = mr;
	p->nmr = 1;
	sgl = kvmalloc_array(p->nsge, sizeof(*sgl), GFP_KERNEL);
	if (!sgl) {
		infinisock_pinned_put_mrs(p);
		return -ENOMEM;
	}
	sg_init_table(sgl, p->nsge);
	for (i = 0; i < p->nsge; i++) {
		sg_dma_address(&sgl[i]) = p->sges[i].addr;
		sg_dma_len(&sgl[i]) = p->sges[i].length;
	}
	mapped = ib_map_mr_sg(mr, sgl, p->nsge, NULL, PAGE_SIZE);
	kvfree(sgl);
	if (mapped != (int)p->nsge) {
		infinisock_pinned_put_mrs(p);
		return mapped < 0 ? mapped : -EINVAL;
	}
	*out = mr;
	return 0;
}

/*
 * Posts [LOCAL_INV of mr's previous registration,] REG_MR of mr with access, both
 * unsignaled (part_cqe: only a failure or a flush reports them), then next if given
 * (linked after them), whose SGE keyed takes the new registration's key. On failure
 * mr keeps the key the device knows unless its registration went; *posted says
 * whether any request did.
 */
static int infinisock_zc_post_reg(struct ib_qp *qp, struct ib_cqe *part_cqe, struct ib_mr *mr, int access,
				  struct ib_send_wr *next, struct ib_sge *keyed, bool *posted)
{
	struct ib_send_wr inv = {
		.wr_cqe = part_cqe,
		.opcode = IB_WR_LOCAL_INV,
		.ex.invalidate_rkey = mr->rkey,
	};
	struct ib_reg_wr reg = {
		.wr = { .wr_cqe = part_cqe, .opcode = IB_WR_REG_MR, .next = next },
		.access = access,
	};
	const struct ib_send_wr *bad = NULL;
	u8 old_key = mr->lkey & 0xff;
	int ret;

	ib_update_fast_reg_key(mr, ib_inc_rkey(mr->rkey));
	reg.mr = mr;
	reg.key = mr->rkey;
	if (keyed)
		keyed->lkey = mr->lkey;
	if (mr->need_inval)
		inv.next = &reg.wr;
	ret = ib_post_send(qp, mr->need_inval ? &inv : &reg.wr, &bad);
	/* A driver that failed without saying where posted nothing. */
	if (ret && !bad)
		bad = mr->need_inval ? &inv : &reg.wr;
	*posted = !ret || bad != (mr->need_inval ? &inv : &reg.wr);
	if (ret) {
		/*
		 * The registration did not go: the region keeps the key the device knows,
		 * and is free once an invalidation ahead of it went. (When only the request
		 * after it did not go, the caller ends the connection.)
		 */
		if (bad == &inv || bad == &reg.wr) {
			ib_update_fast_reg_key(mr, old_key);
			if (bad == &reg.wr)
				mr->need_inval = false;
		} else {
			mr->need_inval = true;
		}
		return ret;
	}
	mr->need_inval = true;
	return 0;
}

/*
 * Zero-copy SDP's source (rust/link/zc_source.rs): the pages of a send, pinned as for
 * an RDMA WRITE (infinisock_pin_iter()), exposed to the peer's RDMA READs through one
 * region of qp's pool, scoped to exactly those bytes and readable only remotely.
 *
 * The region's I/O virtual address is (tag << 32) | the offset in the first page, as
 * xprtrdma's: on a software device a DMA address is a kernel address, which the peer
 * must not learn. Posts [LOCAL_INV of the region's previous registration,] REG_MR,
 * unsignaled (part_cqe: only a failure or a flush reports them); the SrcAvail that
 * names the region goes after them on the same send queue. *rkey, *iova: what the
 * advert names. -EINVAL when the pages do not make one region (the caller copies).
 */
int infinisock_zc_expose(struct ib_qp *qp, struct ib_cqe *part_cqe, struct infinisock_pinned *p, u32 tag, u32 *rkey,
			 u64 *iova)
{
	struct ib_mr *mr;
	bool posted;
	int ret;

	ret = infinisock_zc_map(qp, p, &mr);
	if (ret)
		return ret;
	mr->iova = ((u64)tag << 32) | offset_in_page(mr->iova);
	ret = infinisock_zc_post_reg(qp, part_cqe, mr, IB_ACCESS_REMOTE_READ, NULL, NULL, &posted);
	if (ret) {
		infinisock_pinned_put_mrs(p);
		return ret;
	}
	*rkey = mr->rkey;
	*iova = mr->iova;
	return 0;
}

/*
 * Zero-copy SDP's sink (rust/sdp/zcopy_rx.rs): an RDMA READ of the peer's advert at
 * remote_addr/rkey straight into a reader's pages p (pinned for the device to write),
 * all of them, through one region of qp's pool that only the local adapter may write
 * (a stream's send requests have one SGE, fewer than a page each would need). Posts
 * [LOCAL_INV,] REG_MR, unsignaled (part_cqe), then the READ, signaled (cqe). On
 * failure *posted says whether a request naming p's region went (p must then stay
 * until the device is done, as after success); if none did, p holds no region.
 * -EINVAL when the pages do not make one region.
 */
int infinisock_zc_read_into(struct ib_qp *qp, struct ib_cqe *cqe, struct ib_cqe *part_cqe, struct infinisock_pinned *p,
			    u64 remote_addr, u32 rkey, bool *posted)
{
	struct ib_sge sge;
	struct ib_rdma_wr read = {
		.wr = {
			.wr_cqe = cqe,
			.sg_list = &sge,
			.num_sge = 1,
			.opcode = IB_WR_RDMA_READ,
			.send_flags = IB_SEND_SIGNALED,
		},
		.remote_addr = remote_addr,
		.rkey = rkey,
	};
	struct ib_mr *mr;
	u32 i, len = 0;
	int ret;

	ret = infinisock_zc_map(qp, p, &mr);
	if (ret)
		return ret;
	for (i = 0; i < p->nsge; i++)
		len += p->sges[i].length;
	/* The key is the new registration's, set as it is posted. */
	sge = (struct ib_sge) { .addr = mr->iova, .length = len };
	ret = infinisock_zc_post_reg(qp, part_cqe, mr, IB_ACCESS_LOCAL_WRITE, &read.wr, &sge, posted);
	if (ret && !*posted)
		infinisock_pinned_put_mrs(p);
	return ret;
}

/* Pages one exposed region covers at most on qp's device; 0 without fast registration. */
u32 infinisock_zc_max_pages(struct ib_qp *qp)
{
	if (!(qp->device->attrs.device_cap_flags & IB_DEVICE_MEM_MGT_EXTENSIONS))
		return 0;
	return infinisock_pool_mr_pages(qp->device);
}

/*
 * Ends p's exposure (infinisock_zc_expose()): one signaled LOCAL_INV of its region,
 * tagged cqe. The device processes it after every earlier request, and from its
 * completion on the peer can reach none of p's pages; p's region goes back to the
 * pool with p (infinisock_unpin()), registered no more.
 */
int infinisock_zc_withdraw(struct ib_qp *qp, struct ib_cqe *cqe, struct infinisock_pinned *p)
{
	struct ib_send_wr inv = {
		.wr_cqe = cqe,
		.opcode = IB_WR_LOCAL_INV,
		.send_flags = IB_SEND_SIGNALED,
	};
	struct ib_mr *mr;
	int ret;

	if (p->nmr != 1 || p->qp != qp)
		return -EINVAL;
	mr = p->mrs[0];
	inv.ex.invalidate_rkey = mr->rkey;
	ret = ib_post_send(qp, &inv, NULL);
	if (!ret)
		mr->need_inval = false;
	return ret;
}
