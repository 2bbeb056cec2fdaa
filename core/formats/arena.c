#include "arena.h"

#include <stdalign.h>
#include <stdint.h>

#include "alloc.h"

struct sp_arena_block {
    sp_arena_block *next;
    size_t size;
    size_t used;
    alignas(max_align_t) unsigned char data[];
};

enum { ARENA_FIRST = 16 * 1024, ARENA_MAX = 8 * 1024 * 1024 };

void sp_arena_init(sp_arena *a) {
    a->head = NULL;
    a->next_size = ARENA_FIRST;
}

void *sp_arena_alloc(sp_arena *a, size_t size) {
    const size_t align = alignof(max_align_t);
    if (size > SIZE_MAX - align)
        return NULL;
    size = (size + align - 1) & ~(align - 1);
    sp_arena_block *b = a->head;
    if (!b || b->size - b->used < size) {
        size_t cap = a->next_size > size ? a->next_size : size;
        if (cap > SIZE_MAX - sizeof *b)
            return NULL;
        b = sp_malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->size = cap;
        b->used = 0;
        b->next = a->head;
        a->head = b;
        if (a->next_size < ARENA_MAX)
            a->next_size *= 2;
    }
    void *p = b->data + b->used;
    b->used += size;
    return p;
}

void sp_arena_free(sp_arena *a) {
    sp_arena_block *b = a->head;
    while (b) {
        sp_arena_block *next = b->next;
        sp_free(b);
        b = next;
    }
    a->head = NULL;
}
