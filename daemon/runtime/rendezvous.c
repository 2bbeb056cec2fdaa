/* Rendezvous (highest random weight) hashing (rendezvous.h). */
#include "runtime/rendezvous.h"

#include <stdint.h>
#include <string.h>

static uint64_t mix(uint64_t h) { /* splitmix64's finalizer: spreads FNV's low-entropy bits */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

static uint64_t score(const char *node, const char *camera) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *p = node; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    h = (h ^ 0xff) * 0x100000001b3ULL; /* separator: ("ab","c") differs from ("a","bc") */
    for (const char *p = camera; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    return mix(h);
}

const char *scd_rendezvous_pick(const char *const *nodes, size_t n, const char *camera) {
    const char *best = NULL;
    uint64_t best_score = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t s = score(nodes[i], camera);
        if (!best || s > best_score || (s == best_score && strcmp(nodes[i], best) < 0)) {
            best = nodes[i];
            best_score = s;
        }
    }
    return best;
}
