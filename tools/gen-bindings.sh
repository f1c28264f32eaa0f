#!/usr/bin/env bash
# Module-private bindgen run, called from Kbuild:
#   gen-bindings.sh OBJTREE HEADER OUTPUT
# Reuses the exact bindgen command the kernel ran for its own `bindings` crate (same clang
# flags, same opaque/blocklisted types), over our header, narrowed by the allowlist below.
set -euo pipefail
objtree=$1 header=$(realpath "$2") out=$3
out=$(realpath -m "$out")
cmdfile=$objtree/rust/bindings/.bindings_generated.rs.cmd
[ -f "$cmdfile" ] || { echo "gen-bindings: $cmdfile missing (kernel built without CONFIG_RUST?)" >&2; exit 1; }

# The saved command line, minus the trailing sed the kernel runs on its own output.
cmd=$(sed -n 's/^savedcmd_rust\/bindings\/bindings_generated.rs := //p' "$cmdfile")
cmd=${cmd%%; sed *}
eval "argv=($cmd)"
# Another path to the same bindgen (a DKMS build on a machine where the kernel's is elsewhere).
[ -z "${INFINISOCK_BINDGEN:-}" ] || argv[0]=$INFINISOCK_BINDGEN

allow_functions='sock_register|sock_unregister|proto_register|proto_unregister|sk_alloc|sock_init_data'
allow_functions+='|sock_no_.*|release_sock|sock_create_kern|sock_release|inet6?_(un)?register_protosw'
allow_functions+='|(un)?register_pernet_subsys|register_net_sysctl_sz|unregister_net_sysctl_table'
allow_functions+='|proc_dointvec_minmax|proc_create_net_single|remove_proc_subtree|proc_remove'
allow_functions+='|ib_(un)?register_client|ib_query_port|rdma_port_get_link_layer|infinisock.*'
allow_functions+='|rdma_destroy_id|rdma_bind_addr|rdma_resolve_addr|rdma_resolve_route|rdma_listen'
allow_functions+='|rdma_disconnect|rdma_destroy_qp|destroy_workqueue|rdma_set_reuseaddr|rdma_set_afonly|rdma_set_service_type|__init_waitqueue_head'
allow_types='net_proto_family|proto|proto_ops|inet_protosw|pernet_operations|ctl_table|ib_client'
allow_types+='|ib_port_attr|ib_port_state|rdma_link_layer|ib_mtu|infinisock_sock|infinisock6_sock|infinisock_layout|infinisock_conn_policy|infinisock_rd_depths|sock_type|socket_state'
allow_types+='|ib_cqe|ib_wc_status|ib_poll_context|rdma_cm_event_type|dma_data_direction|tcp_state|infinisock_text_ctx|infinisock_sdp_info|infinisock_wait_ends'
allow_vars='AF_IB|PF_IB|AF_INET6?|PF_INET6?|IPPROTO_SDP|SOCK_MAX'
allow_vars+='|INET_PROTOSW_.*|RUST_CONST_HELPER_.*|IPPROTO_MAX|init_net'
allow_vars+='|_*INFINISOCK_STAT_.*|O_NONBLOCK|MSG_.*|INFINISOCK_POLL_BATCH|INFINISOCK_RECV_TAG|INFINISOCK_VERB_.*|INFINISOCK_INNER_.*|SOL_SOCKET|IPPROTO_SDP_HYBRID|INFINISOCK_TEXT_MAX|INFINISOCK_DIAG_F_.*|INFINISOCK_PHASE_.*'

out_argv=()
skip=0
for a in "${argv[@]}"; do
	if ((skip)); then skip=0; continue; fi
	case $a in
	*/rust/bindings/bindings_helper.h) out_argv+=("$header") ;;
	-o) out_argv+=(-o "$out.tmp"); skip=1 ;;
	--with-attribute-custom-enum=*cfi_encoding*) ;;        # cfi_encoding is not allowed in modules
	-Wp,-MMD,*) out_argv+=("-Wp,-MMD,$(dirname "$out")/.$(basename "$out").d") ;;
	-DKBUILD_MODFILE=*|-DKBUILD_BASENAME=*|-DKBUILD_MODNAME=*|-D__KBUILD_MODNAME=*) ;;
	--) out_argv+=(--allowlist-function "$allow_functions" --allowlist-type "$allow_types"
		--allowlist-var "$allow_vars" --)
	    ;;
	*) out_argv+=("$a") ;;
	esac
done
out_argv+=(-DKBUILD_MODNAME='"infinisock"' -D__KBUILD_MODNAME=infinisock -I"$(dirname "$header")")

cd "$objtree"
"${out_argv[@]}"
sed -Ei -e 's/pub const RUST_CONST_HELPER_([a-zA-Z0-9_]*)/pub const \1/g' -e '/#\[cfi_encoding/d' "$out.tmp"
mv "$out.tmp" "$out"
