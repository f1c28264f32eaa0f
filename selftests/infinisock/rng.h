/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pseudo-random numbers of the fuzzers and the soak: xorshift64*, one state per
 * process, seeded by the program (a seed it prints, so a run can be repeated).
 */
#ifndef INFINISOCK_RNG_H
#define INFINISOCK_RNG_H

#include <stdint.h>

static uint64_t rng_state = 1;

static inline uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

/* A number in [0, n), 0 for n = 0. */
static inline uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

#endif
