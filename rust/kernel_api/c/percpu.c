// SPDX-License-Identifier: GPL-2.0
/*
 * Per-CPU counters (the module's statistics, as the kernel keeps SNMP's): a CPU adds
 * to its own copy without a shared cache line, a reader sums them. The percpu
 * accessors are macros; the pointer crosses to Rust as an opaque void *.
 */
#include <linux/percpu.h>

#include "helpers.h"

void *infinisock_percpu_counters_alloc(unsigned int n)
{
	return (void __force *)__alloc_percpu_gfp(n * sizeof(u64), sizeof(u64), GFP_KERNEL);
}

void infinisock_percpu_counters_free(void *p)
{
	free_percpu((u64 __percpu __force *)p);
}

void infinisock_percpu_counter_add(void *p, unsigned int i, u64 v)
{
	u64 __percpu *c = (u64 __percpu __force *)p;

	this_cpu_add(c[i], v);
}

u64 infinisock_percpu_counter_sum(void *p, unsigned int i)
{
	u64 __percpu *c = (u64 __percpu __force *)p;
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += *per_cpu_ptr(&c[i], cpu);
	return sum;
}
