# SPDX-License-Identifier: GPL-2.0
# InfiniSock top-level Makefile. Everything large (toolchain pieces, kernel source and
# builds) lives in the cache, ~/.cache/infinisock by default (INFINISOCK_CACHE).
#
#   make demo     set up everything, boot the two-host VM (release kernel) and show the module
#                 at work: data over SDP beside TCP and raw verbs, unmodified programs, AF_IB
#   make check    set up everything and run all tests (host tests, then the VM suite)
#   make dkms-source  the module's sources and dkms.conf under $(DESTDIR)/usr/src/infinisock-VERSION
#   make dkms-check   the DKMS packaging through dkms, in throw-away trees (part of make check)
#   make install  the module (/lib/modules/<kernel>/extra), uapi header, transparent hook,
#                 man pages, unit and examples; make uninstall removes them (DESTDIR, PREFIX)
#   make bench    the benchmark suite: SDP beside raw verbs, SMC-R, rsocket and TCP, one VM
#                 run on the release kernel (QUICK=1: the short version); out/vm/bench.md
#   make latency  where a 64-byte AF_IB SEQPACKET message's time goes, step by step through
#                 rxe, beside ib_send_lat's (function tracer, "trace" kernel); out/vm/latency.md
#   make fuzz     the fuzzers alone, long: socket calls (FUZZ_CALLS per worker, default
#                 500000; FUZZ_WORKERS, default 2; FUZZ_SEED) and a hostile peer
#                 (PEER_FUZZ_MESSAGES, default 100000; PEER_FUZZ_SEED), debug kernel

SHELL := /bin/bash
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
FLAVOUR ?= debug

.PHONY: all bootstrap kernel kernel-configs module selftests host-test vm-test check demo bench latency fuzz clean \
	install uninstall dkms-source dkms-check

all: module

bootstrap:
	bash tools/bootstrap.sh

kernel: bootstrap
	bash tools/build-kernel.sh $(FLAVOUR)

# Every flavour's config fragments still apply to the kernel source (cheap: no build).
kernel-configs: bootstrap
	bash tools/build-kernel.sh --check-config debug
	bash tools/build-kernel.sh --check-config release
	bash tools/build-kernel.sh --check-config trace

module: kernel
	bash tools/build-module.sh $(FLAVOUR)

selftests: kernel
	bash tools/build-selftests.sh

host-test:
	bash tools/host-test.sh

vm-test: module selftests
	bash tools/vm/run.sh test

# dkms-check before the VM: the VM's dkms.sh loads the module DKMS built.
check: host-test kernel-configs dkms-check vm-test

# The demo's figures come from the release kernel too; it is the one kernel a fresh
# machine builds for it.
demo: FLAVOUR = release
demo: module selftests
	FLAVOUR=$(FLAVOUR) bash tools/vm/run.sh demo

# Figures come from the release kernel (the debug one slows rxe a hundredfold);
# QUICK=1 runs the short version.
bench: FLAVOUR = release
bench: module selftests
	FLAVOUR=$(FLAVOUR) BENCH_QUICK=$(QUICK) bash tools/vm/run.sh bench

# The benchmark kernel with the function tracer: every step is a little slower, alike
# for both programs.
latency: FLAVOUR = trace
latency: module selftests
	FLAVOUR=$(FLAVOUR) bash tools/vm/run.sh latency

# The fuzzers with the module's load, the kernel log check and the unload around them.
# Together they take over an hour under TCG: the VM gets two.
fuzz: module selftests
	INFINISOCK_TESTS='sdp_fuzz|sdp_peer_fuzz' FUZZ_CALLS=$${FUZZ_CALLS:-500000} \
		PEER_FUZZ_MESSAGES=$${PEER_FUZZ_MESSAGES:-100000} VM_TIMEOUT=$${VM_TIMEOUT:-7200} \
		bash tools/vm/run.sh test

# The module for the kernel it was built against, the uapi header, the transparent
# hook, man pages, unit and examples (tools/install.sh; DESTDIR, PREFIX=/usr/local).
install: module selftests
	FLAVOUR=$(FLAVOUR) bash tools/install.sh install

uninstall:
	FLAVOUR=$(FLAVOUR) bash tools/install.sh uninstall

dkms-source:
	bash tools/dkms/source.sh

dkms-check: kernel
	FLAVOUR=$(FLAVOUR) bash tools/dkms/test.sh

clean:
	bash tools/build-module.sh clean
	rm -rf selftests/build tools/bench/build out host/target
