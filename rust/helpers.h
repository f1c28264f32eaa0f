/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C side of the FFI layer: the socket layout shared with Rust, and wrappers for the
 * static inline functions and macros that bindgen cannot turn into callable symbols.
 * They are defined in rust/kernel_api/c/, one file per kernel interface.
 */
#ifndef INFINISOCK_HELPERS_H
#define INFINISOCK_HELPERS_H

#include <linux/types.h>
#include <net/sock.h>
#include <net/inet_sock.h>
#include <net/ipv6.h>

struct net;
struct proc_dir_entry;
struct ib_device;

/*
 * Every socket the module creates, whatever its family: an inet_sock first so that
 * inet_create()/inet6_create() can fill it in, then the Rust-owned protocol state.
 */
struct infinisock_sock {
	struct inet_sock inet;
	void *state;
	/*
	 * A hybrid stream's inner kernel TCP socket (inner.c): set when the sock is
	 * created, released with the socket. Which of the two carries the socket is in
	 * inner_flags (INFINISOCK_INNER_*).
	 */
	struct socket *inner;
	unsigned long inner_flags;
};

/* The inner socket carries every operation (the hybrid fell back to TCP). */
#define INFINISOCK_INNER_ACTIVE	0
/* The outer sock carries every operation (the hybrid is on SDP). */
#define INFINISOCK_INNER_UNUSED	1

/* AF_INET6 flavour: inet6_create() finds ipv6_pinfo through proto.ipv6_pinfo_offset. */
struct infinisock6_sock {
	struct infinisock_sock sk;
	struct ipv6_pinfo inet6;
};

/*
 * Rust builds some kernel tables itself (struct proto, proto_ops, ...) from bindgen's
 * layouts. KUnit compares those layouts with the C compiler's through this function:
 * "TYPE.FIELD" gives offsetof(struct TYPE, FIELD), "TYPE" gives sizeof(struct TYPE),
 * and an unknown name gives SIZE_MAX. Structures bindgen gets wrong (struct sock is
 * one) are only ever touched through the accessors below.
 */
size_t infinisock_layout(const char *name);

int infinisock_socket_type(const struct socket *sock);
struct sock *infinisock_socket_take_sk(struct socket *sock);
void infinisock_socket_set_ops(struct socket *sock, const struct proto_ops *ops);
struct sock *infinisock_socket_sk(const struct socket *sock);
u16 infinisock_sk_protocol(const struct sock *sk);
struct proto *infinisock_sk_prot(const struct sock *sk);
u16 infinisock_sk_family(const struct sock *sk);
bool infinisock_sk_ipv6only(const struct sock *sk);
void infinisock_sk_set_ipv6only(struct sock *sk, bool only);
int infinisock_sk_type(const struct sock *sk);
void infinisock_sk_set_protocol(struct sock *sk, u16 protocol);
size_t infinisock_sock_size(void);
size_t infinisock6_sock_size(void);
size_t infinisock6_pinfo_offset(void);

void infinisock_sock_hold(struct sock *sk);
void infinisock_sock_put(struct sock *sk);
void infinisock_sock_orphan(struct sock *sk);
void infinisock_lock_sock(struct sock *sk);
struct net *infinisock_sock_net(const struct sock *sk);
void *infinisock_net_generic(const struct net *net, unsigned int id);
struct proc_dir_entry *infinisock_proc_net_mkdir(struct net *net, const char *name);
void infinisock_ib_device_name(const struct ib_device *dev, char *buf, size_t len);
bool infinisock_ib_port_usable_in(struct ib_device *dev, u32 port, const struct net *net);
u32 infinisock_ib_start_port(const struct ib_device *dev);
u32 infinisock_ib_end_port(const struct ib_device *dev);

struct ib_pd;
struct ib_cq;
struct ib_qp;

/*
 * For the C files only (defined in verbs.c, used by cm.c and rdma.c too): an ERR_PTR
 * becomes NULL and *err its errno, anything else is returned with *err 0.
 */
void *infinisock_unerr(void *p, int *err);

/* Verbs objects. Each returns NULL and sets *err on failure instead of an ERR_PTR. */
struct ib_pd *infinisock_alloc_pd(struct ib_device *dev, int *err);
void infinisock_dealloc_pd(struct ib_pd *pd);
u32 infinisock_pd_lkey(const struct ib_pd *pd);
/* poll_ctx: enum ib_poll_context (IB_POLL_SOFTIRQ, IB_POLL_WORKQUEUE, ...). */
struct ib_cq *infinisock_alloc_cq(struct ib_device *dev, void *context, int nr_cqe, int poll_ctx,
				  int *err);
struct ib_cq *infinisock_alloc_cq_reaped(struct ib_device *dev, void *context, int nr_cqe,
					 void (*event)(struct ib_cq *cq, void *context), int *err);
struct ib_wc;
void infinisock_cqe_reaped(struct ib_cq *cq, struct ib_wc *wc);
/* One completion of the owner's own work requests; cqe is NULL for any other. */
struct ib_cqe;
struct infinisock_wc {
	struct ib_cqe *cqe;
	u32 status;
	u32 byte_len;
	bool with_imm;		/* a receive consumed by an RDMA WRITE with immediate */
	u32 imm;		/* its immediate data, host order */
	bool with_inv;		/* a receive of a SEND with invalidate: the device invalidated a key */
};
/* @wc as the owner reads it (its cqe, status, length, immediate data, invalidation). */
void infinisock_wc_from(struct infinisock_wc *out, const struct ib_wc *wc);
/* Up to n (at most INFINISOCK_POLL_BATCH) completions into out[]; returns how many were polled. */
#define INFINISOCK_POLL_BATCH 8
int infinisock_poll_cq(struct ib_cq *cq, struct infinisock_wc *out, int n);
/* Arms for the next completion; > 0 when some may have arrived unreported. */
int infinisock_arm_cq(struct ib_cq *cq);
void infinisock_drain_qp(struct ib_qp *qp);

/*
 * Completions of QPs on a shared CQ (mailbox.c). The CQ is polled by ib_core in
 * softirq; each completion of one of the owner's requests (an ib_cqe whose done() is
 * infinisock_cqe_reaped) is put in its QP's mailbox (the QP's qp_context), in the
 * send or receive ring by its tag, and the owner polls and arms the mailbox as it
 * would its own CQs.
 */
#define INFINISOCK_RECV_TAG (1u << 31)	/* tags of receives on a shared receive queue */
struct infinisock_mailbox;
struct infinisock_mailbox *infinisock_mailbox_new(u32 send_cap, u32 recv_cap, void *ctx,
						  void (*send_event)(struct ib_cq *, void *),
						  void (*recv_event)(struct ib_cq *, void *));
void infinisock_mailbox_free(struct infinisock_mailbox *mb);
/*
 * side: 0 send, 1 receive. Returns how many were taken; *lost: dropped for want of
 * room; *empty: none left.
 */
int infinisock_mailbox_poll(struct infinisock_mailbox *mb, int side, struct infinisock_wc *out, int n,
			    u32 *lost, bool *empty);
int infinisock_mailbox_arm(struct infinisock_mailbox *mb, int side);
/* Whether the end marker passed: every receive of the QP is in the mailbox. */
bool infinisock_mailbox_ended(struct infinisock_mailbox *mb);
int infinisock_mailbox_post_end(struct infinisock_mailbox *mb, struct ib_qp *qp);
/* What infinisock_cqe_reaped() does with a completion of the mailbox's QP. */
void infinisock_mailbox_put(struct infinisock_mailbox *mb, const struct infinisock_wc *wc, u32 tag);
/* Calls the receive ring's event, armed or not. */
void infinisock_mailbox_poke_recv(struct infinisock_mailbox *mb);
/* The drain of a QP on a shared CQ (verbs.c); false: it failed, keep everything. */
bool infinisock_drain_shared(struct ib_qp *qp);

/* Shared receive queues (srq.c). */
struct ib_srq;
struct ib_event;
struct ib_srq *infinisock_create_srq(struct ib_pd *pd, u32 max_wr,
				     void (*event)(struct ib_event *, void *), int *err);
void infinisock_srq_set_context(struct ib_srq *srq, void *context);
int infinisock_arm_srq_limit(struct ib_srq *srq, u32 limit);
void infinisock_destroy_srq(struct ib_srq *srq);
int infinisock_post_srq_recv(struct ib_srq *srq, struct ib_cqe *cqe, u64 addr, u32 len, u32 lkey);
bool infinisock_qp_last_wqe(struct ib_qp *qp);
void infinisock_qp_poke_recv_cq(struct ib_qp *qp);
void infinisock_qp_event(struct ib_event *event, void *context);
/* The drain pair of a shared receive queue: a QP on it and a source of zero-length sends. */
int infinisock_srq_drain_pair(struct ib_pd *pd, struct ib_srq *srq, struct ib_cq *cq, u32 depth,
			      struct ib_qp **sink, struct ib_qp **source);
int infinisock_srq_drain_post(struct ib_qp *source, struct ib_cqe *cqe, u32 n);
bool infinisock_srq_drain_stop(struct ib_qp *sink);
void infinisock_free_cq(struct ib_cq *cq);
struct ib_qp *infinisock_create_rc_qp(struct ib_pd *pd, struct ib_cq *send_cq, struct ib_cq *recv_cq,
				      u32 max_send_wr, u32 max_recv_wr, u32 max_sge, void *context,
				      int *err);
int infinisock_destroy_qp(struct ib_qp *qp);
u32 infinisock_qp_num(const struct ib_qp *qp);

/*
 * One single-SGE work request; every send is signaled. A send with `inline_data` (the
 * kernel address of the same bytes) is posted inline: the device copies them at post
 * time and needs no lookup of `lkey`.
 */
int infinisock_post_recv(struct ib_qp *qp, struct ib_cqe *cqe, u64 addr, u32 len, u32 lkey);
int infinisock_post_send(struct ib_qp *qp, struct ib_cqe *cqe, u64 addr, u32 len, u32 lkey,
			 const void *inline_data);
/* A zero-length RDMA WRITE, signaled: the peer's adapter acknowledges it. */
int infinisock_post_empty_write(struct ib_qp *qp, struct ib_cqe *cqe);
/* An RDMA READ of `len` bytes at the peer's `remote_addr`/`rkey` into one local SGE, signaled. */
int infinisock_post_read(struct ib_qp *qp, struct ib_cqe *cqe, u64 addr, u32 len, u32 lkey, u64 remote_addr,
			 u32 rkey);

/* DMA mapping of kernel buffers (dir: enum dma_data_direction). */
int infinisock_dma_map(struct ib_device *dev, void *buf, size_t len, int dir, u64 *addr);
void infinisock_dma_unmap(struct ib_device *dev, u64 addr, size_t len, int dir);
void infinisock_dma_sync_for_cpu(struct ib_device *dev, u64 addr, size_t len, int dir);
void infinisock_dma_sync_for_device(struct ib_device *dev, u64 addr, size_t len, int dir);

/* rdma_cm. */
struct rdma_cm_id;
struct rdma_cm_event;
typedef int (*infinisock_cm_handler)(struct rdma_cm_id *id, struct rdma_cm_event *event);
struct rdma_cm_id *infinisock_cm_create_id(struct net *net, infinisock_cm_handler handler, void *context,
					   u32 ps, int *err);
void *infinisock_cm_context(const struct rdma_cm_id *id);
void infinisock_cm_set_context(struct rdma_cm_id *id, void *context);
struct ib_device *infinisock_cm_device(const struct rdma_cm_id *id);
/* The id's device with a reference taken (ib_device_try_get), or NULL; put with ib_device_put(). */
struct ib_device *infinisock_cm_device_get(const struct rdma_cm_id *id);
void infinisock_device_put(struct ib_device *dev);
struct sockaddr *infinisock_cm_src_addr(struct rdma_cm_id *id);
struct sockaddr *infinisock_cm_dst_addr(struct rdma_cm_id *id);
/* RDMA operations and registered user memory (rust/af_ib/rdma.rs). */
struct ib_mr *infinisock_reg_user_mr(struct ib_pd *pd, u64 addr, u64 len, bool remote_read, bool remote_write,
				     bool local_write, int *err);
int infinisock_user_fault_in(u64 addr, u64 len, bool writeable);
u32 infinisock_mr_rkey(const struct ib_mr *mr);
bool infinisock_iter_user_span(const struct iov_iter *iter, size_t len, u64 *addr);
void infinisock_dereg_mr(struct ib_mr *mr);
struct infinisock_pinned;
struct ubuf_info;
struct infinisock_pinned *infinisock_pin_iter(struct ib_device *dev, struct iov_iter *iter, size_t len,
					      bool device_writes, bool spliced, u32 lkey, struct ubuf_info *notify,
					      int *err);
void infinisock_unpin(struct infinisock_pinned *p);
void infinisock_pinned_release_notify(struct infinisock_pinned *p);
void infinisock_pinned_kept_for_copy(struct infinisock_pinned *p);
int infinisock_pinned_append(struct infinisock_pinned *a, struct infinisock_pinned *b);
size_t infinisock_pinned_copy(const struct infinisock_pinned *p, size_t from, void *dst, size_t len);
u32 infinisock_iter_pages(const struct iov_iter *iter, size_t len);
int infinisock_pinned_one_request(struct ib_qp *qp, struct infinisock_pinned *p, u32 max_sge);
bool infinisock_qp_keeps_mrs(struct ib_qp *qp);
void infinisock_qp_trim_mrs(struct ib_qp *qp);
int infinisock_zc_expose(struct ib_qp *qp, struct ib_cqe *part_cqe, struct infinisock_pinned *p, u32 tag, u32 *rkey,
			 u64 *iova);
int infinisock_zc_withdraw(struct ib_qp *qp, struct ib_cqe *cqe, struct infinisock_pinned *p);
int infinisock_zc_read_into(struct ib_qp *qp, struct ib_cqe *cqe, struct ib_cqe *part_cqe, struct infinisock_pinned *p,
			    u64 remote_addr, u32 rkey, bool *posted);
u32 infinisock_zc_max_pages(struct ib_qp *qp);
/* The RDMA verbs the posting helpers take (rust/kernel_api/verbs.rs RdmaVerb). */
#define INFINISOCK_VERB_WRITE 1
#define INFINISOCK_VERB_READ 2
#define INFINISOCK_VERB_WRITE_IMM 3
int infinisock_post_rdma(struct ib_qp *qp, struct ib_cqe *last_cqe, struct ib_cqe *part_cqe,
			 struct infinisock_pinned *p, int op, u32 imm, u64 remote_addr, u32 rkey, u32 max_sge,
			 u32 *posted);
int infinisock_post_rdma_mr(struct ib_qp *qp, struct ib_cqe *cqe, const struct ib_mr *mr, u64 addr, u32 len, int op,
			    u32 imm, u64 remote_addr, u32 rkey);
void infinisock_dev_sges(const struct ib_device *dev, u32 *send_sge, u32 *read_sge);
/* What getsockopt(SOL_INFINISOCK) reports of an rdma_cm id's verbs objects. */
struct infinisock_verbs_info {
	bool has_device, has_qp;
	char device[64];
	u32 port;
	u8 gid[16];
	u32 qp_num, peer_qp_num, path_mtu, max_inline;
};
void infinisock_cm_verbs_info(struct rdma_cm_id *id, struct ib_qp *qp, struct infinisock_verbs_info *out);
int infinisock_put_cmsg(struct msghdr *msg, int level, int type, int len, const void *data);
size_t infinisock_msg_copy_in(struct msghdr *msg, void *buf, size_t len, bool all);
size_t infinisock_msg_copy_out(struct msghdr *msg, const void *buf, size_t len, bool all);
int infinisock_msg_fault_in(struct msghdr *msg, size_t len, bool writeable, bool all);
int infinisock_msg_fault_in_control(struct msghdr *msg, size_t len);
int infinisock_msg_prepin(struct msghdr *msg, size_t len, bool device_writes);
size_t infinisock_msg_zc_segment(const struct msghdr *msg, size_t *offset);
void infinisock_msg_advance(struct msghdr *msg, size_t len);
void infinisock_msg_revert(struct msghdr *msg, size_t len);
size_t infinisock_msg_control_room(const struct msghdr *msg);
int infinisock_msg_next_cmsg(struct msghdr *msg, void **cursor, int *level, int *type, const void **data,
			     size_t *len);
/*
 * How a connection's QP behaves, as the protocol chooses it (sdp::handshake): its
 * transport and receiver-not-ready retry counts (ours, and what we ask of the peer;
 * the peer's receiver-not-ready wish is capped at ours), and the most RDMA READs in
 * flight each way (the device may allow fewer).
 */
struct infinisock_conn_policy {
	u8 retry_count;
	u8 rnr_retry_count;
	u8 rd_atomic;
};
/* The RDMA READs a connection's QP may have in flight toward the peer (initiator) and from it (responder). */
struct infinisock_rd_depths {
	u8 initiator;
	u8 responder;
};
/* srq: NULL, or the shared receive queue (in pd) the QP receives from. */
struct ib_qp *infinisock_cm_create_qp(struct rdma_cm_id *id, struct ib_pd *pd, struct ib_cq *send_cq,
				      struct ib_cq *recv_cq, struct ib_srq *srq, u32 max_send_wr, u32 max_recv_wr,
				      u32 max_send_sge, void *qp_context, u32 *max_inline, int *err);
int infinisock_cm_connect_locked(struct rdma_cm_id *id, struct ib_qp *qp,
				 const struct infinisock_conn_policy *policy, const void *data, u8 len);
int infinisock_cm_establish(struct rdma_cm_id *id, struct ib_qp *qp, const struct infinisock_conn_policy *policy,
			    struct infinisock_rd_depths *depths);
int infinisock_cm_accept(struct rdma_cm_id *id, struct ib_qp *qp, const struct infinisock_conn_policy *policy,
			 const void *data, u8 len, struct infinisock_rd_depths *depths);
int infinisock_cm_disconnect(struct rdma_cm_id *id, struct ib_qp *qp);
int infinisock_cm_notify_established(struct rdma_cm_id *id);
int infinisock_cm_reject(struct rdma_cm_id *id);
int infinisock_cm_event_type(const struct rdma_cm_event *event);
int infinisock_cm_event_status(const struct rdma_cm_event *event);
const void *infinisock_cm_event_private_data(const struct rdma_cm_event *event, u8 *len);

/* Socket plumbing for the data paths. */
struct file;
struct poll_table_struct;
struct msghdr;
struct iov_iter;
struct workqueue_struct;
void **infinisock_sk_state(struct sock *sk);
void infinisock_sk_wake(struct sock *sk, __poll_t mask);
void infinisock_sk_wake_pollers(struct sock *sk, __poll_t mask);
/* SIGIO for mask's events to an O_ASYNC owner, waking no poller. */
void infinisock_sk_sigio(struct sock *sk, __poll_t mask);

struct wait_queue_head;
struct mutex;
void infinisock_wake_up_all(struct wait_queue_head *wq);
/* What ends an infinisock_wait_unless() besides its wake-up and timeout. */
enum infinisock_wait_ends {
	INFINISOCK_WAIT_ENDS_SIGNAL = 0,
	INFINISOCK_WAIT_ENDS_FATAL = 1,
	INFINISOCK_WAIT_ENDS_NOTHING = 2,
};
long infinisock_wait_unless(struct wait_queue_head *wq, struct mutex *lock, const u32 *events, u32 seen,
			    long timeo, unsigned int spin_usec, int ends);
void infinisock_sk_set_err(struct sock *sk, int err);
int infinisock_sk_take_err(struct sock *sk);
int infinisock_sk_peek_err(const struct sock *sk);
bool infinisock_sk_zerocopy(const struct sock *sk);
bool infinisock_sk_errqueue_pending(const struct sock *sk);
struct ubuf_info;
struct ubuf_info *infinisock_zc_notify_begin(struct sock *sk, size_t len);
void infinisock_zc_notify_end(struct ubuf_info *uarg, size_t sent, bool copied);
int infinisock_zc_notify_take(struct sock *sk, u8 *ee, unsigned int ee_len);
long infinisock_sk_rcvtimeo(const struct sock *sk, bool nonblock);
unsigned int infinisock_sk_busy_poll_usec(const struct sock *sk);
long infinisock_sk_sndtimeo(const struct sock *sk, bool nonblock);
int infinisock_sk_rcvlowat(const struct sock *sk, int waitall, int len);
void infinisock_sk_set_state(struct sock *sk, int state);
bool infinisock_sk_linger(const struct sock *sk, long *lingertime);
bool infinisock_sk_keepalive(const struct sock *sk);
bool infinisock_sk_urginline(const struct sock *sk);
void infinisock_sk_send_sigurg(struct sock *sk);
int infinisock_intr_errno(long timeo);
void infinisock_sock_graft(struct sock *sk, struct socket *parent);
void infinisock_sk_own_sol_socket(struct sock *sk);
void infinisock_socket_set_state(struct socket *sock, int state);
void infinisock_poll_wait(struct file *file, struct socket *sock, struct poll_table_struct *wait);
struct iov_iter *infinisock_msg_iter(struct msghdr *msg);
void infinisock_send_sigpipe(void);
struct workqueue_struct *infinisock_alloc_workqueue(const char *name);
struct seq_file;
struct work_struct;
bool infinisock_cancel_delayed_work(struct work_struct *work);
void infinisock_flush_work(struct work_struct *work);
struct net *infinisock_seq_file_net(struct seq_file *m);
struct proto_accept_arg;
int infinisock_accept_flags(const struct proto_accept_arg *arg);
int infinisock_bpf_bind(struct sock *sk, struct sockaddr_unsized *uaddr, int *len);
int infinisock_bpf_connect(struct sock *sk, struct sockaddr_unsized *uaddr, int *len);
int infinisock_get_port_refused(struct sock *sk, unsigned short snum);
bool infinisock_net_owned_by_init_user_ns(const struct net *net);
size_t infinisock_total_ram_kib(void);
u64 infinisock_boottime_ms(void);

/* Text sysctls (net.c): the context each entry's extra1 points to. */
#define INFINISOCK_TEXT_MAX 1024
struct infinisock_text_ctx {
	/* Prints the value (at most len bytes, no NUL needed): its length, or -errno. */
	int (*show)(const void *data, size_t which, char *buf, size_t len);
	/* Parses and stores a NUL-terminated text: 0, or -errno with nothing changed. */
	int (*store)(const void *data, size_t which, const char *text);
	const void *data;
	size_t which;
};
struct ctl_table;
int infinisock_text_sysctl(const struct ctl_table *table, int write, void *buffer, size_t *lenp,
			   loff_t *ppos);
struct mem_cgroup;
struct mem_cgroup *infinisock_memcg_enter(const struct sock *sk);
void infinisock_memcg_leave(struct mem_cgroup *old);
void infinisock_sk_init_memory(struct sock *sk);
struct proto;
void infinisock_proto_init_memory(struct proto *prot);
int infinisock_sk_charge_rmem(struct sock *sk, int pages);
void infinisock_sk_uncharge_rmem(struct sock *sk, int pages);
bool infinisock_sk_rmem_pressure(const struct sock *sk);
int infinisock_msg_flags(const struct msghdr *msg);
void infinisock_msg_add_flags(struct msghdr *msg, int flags);
void infinisock_sk_init_child(struct sock *child, const struct sock *parent);
bool infinisock_sk_reuse(const struct sock *sk);
/* SO_RCVBUF/SO_SNDBUF as the program set them (0: not set). */
void infinisock_sk_user_bufs(const struct sock *sk, int *rcvbuf, int *sndbuf);
int infinisock_sockptr_read_int(sockptr_t optval, unsigned int optlen, int *val);

/* The transparent hook's kfunc (bpf.c). */
typedef int (*infinisock_protocol_chooser)(struct net *net, int family, int type, int protocol);
int infinisock_register_protocol_chooser(infinisock_protocol_chooser chooser);

/* A hybrid stream's inner TCP socket (inner.c). */
int infinisock_inner_create(struct sock *sk);
void infinisock_inner_release(struct sock *sk);
struct socket *infinisock_inner(const struct sock *sk);
bool infinisock_socket_ours(const struct socket *sock);
int infinisock_inner_mode(const struct sock *sk);
void infinisock_inner_set_mode(struct sock *sk, int bit);
int infinisock_inner_bind(struct socket *inner, const void *addr, int len);
int infinisock_inner_connect(struct socket *inner, const void *addr, int len, int flags);
int infinisock_inner_connect_async(struct sock *sk, const void *addr, int len);
int infinisock_inner_listen(struct socket *inner, int backlog);
int infinisock_inner_accept(struct socket *inner, struct socket *newsock, int flags);
int infinisock_inner_getname(struct socket *inner, void *addr, int peer);
bool infinisock_inner_ipv6only(struct socket *inner);
bool infinisock_inner_acceptable(struct socket *inner);
__poll_t infinisock_fwd_poll(struct file *file, struct socket *inner);
int infinisock_fwd_ioctl(struct socket *inner, unsigned int cmd, unsigned long arg);
int infinisock_fwd_shutdown(struct socket *inner, int how);
int infinisock_fwd_sendmsg(struct socket *inner, struct msghdr *msg, size_t len);
int infinisock_fwd_recvmsg(struct socket *inner, struct msghdr *msg, size_t len, int flags);
int infinisock_fwd_setsockopt(struct socket *inner, int level, int name, sockptr_t optval,
			      unsigned int optlen);
int infinisock_fwd_getsockopt(struct socket *inner, int level, int name, char __user *optval,
			      int __user *optlen);
int infinisock_own_sol_socket(struct socket *sock, int name, sockptr_t optval, unsigned int optlen);
typedef bool (*infinisock_ready_fn)(void *ctx);
long infinisock_sk_wait_ready(struct sock *sk, long timeo, infinisock_ready_fn ready, void *ctx, int *err);

/* trace.c: the module's tracepoints (infinisock_trace.h). */
bool infinisock_trace_state_enabled(void);
void infinisock_trace_state(struct sock *sk, u16 protocol, const u8 *saddr, u16 sport, const u8 *daddr,
			    u16 dport, u8 oldstate, u8 newstate);
bool infinisock_trace_fallback_enabled(void);
void infinisock_trace_fallback(struct sock *sk, const u8 *daddr, u16 dport, u8 reason);
bool infinisock_trace_credit_stall_enabled(void);
void infinisock_trace_credit_stall(struct sock *sk, u32 credits, u32 slots_free, u32 bytes_waiting);
bool infinisock_trace_violation_enabled(void);
void infinisock_trace_violation(struct sock *sk, const char *what);

/* percpu.c: per-CPU counters, an opaque pointer to n u64s per CPU. */
void *infinisock_percpu_counters_alloc(unsigned int n);
void infinisock_percpu_counters_free(void *p);
void infinisock_percpu_counter_add(void *p, unsigned int i, u64 v);
u64 infinisock_percpu_counter_sum(void *p, unsigned int i);

/*
 * genl.c: the generic netlink family. The callback fills at most n counters of the
 * namespace, INFINISOCK_STAT_ACTIVE_OPENS first, and returns how many it filled.
 */
typedef unsigned int (*infinisock_stats_fn)(struct net *net, u64 *out, unsigned int n);
int infinisock_genl_register(infinisock_stats_fn stats);
void infinisock_genl_unregister(void);

/*
 * diag.c: SDP sockets over inet_diag (protocols IPPROTO_SDP and IPPROTO_SDP_HYBRID),
 * AF_IB sockets over sock_diag. The walk visits the module's sockets of `protocol` (0:
 * any) in list order from the cursor (0: the first), calls infinisock_diag_match() on
 * each and, for a match, infinisock_diag_fill() with its row. It stops where fill
 * returns non-zero (1: an exact lookup's answer; negative: the batch is full, that
 * socket goes first in the next one) and returns the cursor to resume from (U64_MAX
 * when all were seen).
 */
struct infinisock_sdp_info;
struct infinisock_diag_ctx;
typedef u64 (*infinisock_diag_walk_fn)(struct infinisock_diag_ctx *ctx, u16 protocol, u64 cursor);
bool infinisock_diag_match(const struct infinisock_diag_ctx *ctx, struct sock *sk);
bool infinisock_diag_wants_info(const struct infinisock_diag_ctx *ctx);
/* The request is AF_IB's: the row needs the sockets' addresses as sockaddr_ib. */
bool infinisock_diag_for_af_ib(const struct infinisock_diag_ctx *ctx);
/*
 * rqueue, wqueue: bytes unread and unacknowledged (a listener: queued, backlog);
 * local, peer: struct sockaddr_ib for AF_IB's rows, unused for inet_diag's.
 */
int infinisock_diag_fill(struct infinisock_diag_ctx *ctx, struct sock *sk, u32 rqueue, u32 wqueue,
			 const struct infinisock_sdp_info *info, const void *local, const void *peer);
int infinisock_diag_register(infinisock_diag_walk_fn walk);
void infinisock_diag_unregister(void);
/* inner.c: the inner TCP socket's cookie, 0 if there is none. */
u64 infinisock_inner_cookie(struct sock *sk);
/* sock.c: the sock's addresses and shutdown state where TCP keeps them (diag reads them). */
void infinisock_sk_publish(struct sock *sk, const u8 *local, u16 lport, const u8 *peer, u16 pport, u8 shutdown);

#endif /* INFINISOCK_HELPERS_H */
