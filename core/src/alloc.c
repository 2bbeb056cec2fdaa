#include "alloc.h"

#include <stdint.h>
#include <stdlib.h>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#ifdef SP_FAULT_INJECTION
/* Thread-local and compiled only into the test library: the normal build has no mutable globals. */
static _Thread_local long fault_countdown = -1;
static _Thread_local long fault_count = 0;

void sp_fault_fail_after(long n) {
    fault_countdown = n;
    fault_count = 0;
}

long sp_fault_injected(void) {
    return fault_count;
}

static int fault_now(void) {
    if (fault_countdown < 0)
        return 0;
    if (fault_countdown == 0) {
        fault_count++;
        return 1;
    }
    fault_countdown--;
    return 0;
}
#else
static inline int fault_now(void) {
    return 0;
}
#endif

/* Blocks of at least this size are placed on 2 MiB boundaries and advised for transparent huge
 * pages. A fresh block is mapped anew by malloc (above its mmap threshold) and every 4 KiB page
 * of it faults on first touch; in virtual machines a fault costs microseconds, so the 32 MiB of a
 * reselect's candidate rows cost about 100 ms before any arithmetic. With huge pages the same
 * block takes 16 faults (bench/bench_ask.c measures it). Where the advice is unknown or refused
 * the block is an ordinary one. */
enum { BIG_BLOCK = 4u << 20, HUGE_PAGE = 2u << 20 };

static void *big_block(size_t size) {
    size_t rounded = (size + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
    if (rounded < size)
        return NULL;
    void *p = aligned_alloc(HUGE_PAGE, rounded);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (p)
        (void)madvise(p, rounded, MADV_HUGEPAGE);
#endif
    return p;
}

void *sp_malloc(size_t size) {
    if (fault_now())
        return NULL;
    if (size >= BIG_BLOCK)
        return big_block(size);
    return malloc(size ? size : 1);
}

void *sp_calloc(size_t count, size_t size) {
    if (fault_now())
        return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *sp_realloc(void *ptr, size_t size) {
    if (fault_now())
        return NULL;
    return realloc(ptr, size ? size : 1);
}

void *sp_aligned_alloc(size_t size) {
    if (fault_now())
        return NULL;
    if (size >= BIG_BLOCK)
        return big_block(size);
    size_t rounded = (size + 63) & ~(size_t)63;
    if (rounded < size)
        return NULL;
    return aligned_alloc(64, rounded ? rounded : 64);
}

void sp_free(void *ptr) {
    free(ptr);
}

void *sp_alloc_array(size_t count, size_t elem) {
    size_t bytes;
    if (!sp_mul_size(count, elem, &bytes))
        return NULL;
    return sp_malloc(bytes);
}
