/* A bump allocator for parsed documents: many small nodes and strings that live and die together.
 * Blocks come from sp_malloc, so allocation faults are injected here like anywhere else. */
#ifndef SP_ARENA_H
#define SP_ARENA_H

#include <stddef.h>

typedef struct sp_arena_block sp_arena_block;

typedef struct sp_arena {
    sp_arena_block *head; /* newest block first */
    size_t next_size;     /* size of the next block; grows so big documents need few blocks */
} sp_arena;

void sp_arena_init(sp_arena *a);
/* Returns size bytes aligned for any scalar type, or NULL when out of memory (or on overflow). */
void *sp_arena_alloc(sp_arena *a, size_t size);
void sp_arena_free(sp_arena *a);

#endif
