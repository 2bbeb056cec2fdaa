/* SplitMix64: the one PRNG of core (random baseline, seeded projections). Specified bit for bit in
 * docs/algorithm.md so that the numpy reference reproduces it. State lives in the caller. */
#ifndef SP_RNG_H
#define SP_RNG_H

#include <stdint.h>

typedef struct sp_rng {
    uint64_t state;
} sp_rng;

static inline void sp_rng_seed(sp_rng *r, uint64_t seed) {
    r->state = seed;
}

static inline uint64_t sp_rng_next(sp_rng *r) {
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) without modulo bias (rejection below (2^64 - n) mod n); n >= 1. */
static inline uint64_t sp_rng_below(sp_rng *r, uint64_t n) {
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t x = sp_rng_next(r);
        if (x >= threshold)
            return x % n;
    }
}

/* Uniform double in [0, 1) from the top 53 bits. */
static inline double sp_rng_unit(sp_rng *r) {
    return (double)(sp_rng_next(r) >> 11) * 0x1.0p-53;
}

#endif
