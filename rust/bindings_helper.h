/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the module-private bindgen run sees. tools/gen-bindings.sh narrows the output
 * to the allowlist it names; everything else the module needs comes from `kernel`.
 */
#include <linux/net.h>
#include <linux/proc_fs.h>
#include <linux/sysctl.h>
#include <net/sock.h>
#include <net/inet_sock.h>
#include <net/inet_common.h>
#include <net/protocol.h>
#include <net/ipv6.h>
#include <net/net_namespace.h>
#include <rdma/ib_verbs.h>
#include <rdma/rdma_cm.h>
#include <rdma/rw.h>
#include <rdma/ib.h>

#include "helpers.h"
#include "../include/uapi/linux/infinisock.h"

/* Constants bindgen cannot see through macros. */
const gfp_t RUST_CONST_HELPER_GFP_KERNEL = GFP_KERNEL;
