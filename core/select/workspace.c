#include "alloc.h"
#include "workspace.h"

struct sp_workspace {
    void *buf[SP_WS_SLOTS];
    size_t cap[SP_WS_SLOTS];
};

sp_workspace *sp_workspace_new(void) {
    return sp_calloc(1, sizeof(sp_workspace));
}

void sp_workspace_free(sp_workspace *ws) {
    if (!ws)
        return;
    for (int i = 0; i < SP_WS_SLOTS; i++)
        sp_free(ws->buf[i]);
    sp_free(ws);
}

void *sp_ws_get(sp_workspace *ws, sp_ws_slot slot, size_t bytes) {
    if (bytes <= ws->cap[slot] && ws->buf[slot])
        return ws->buf[slot];
    /* Grow geometrically so that a stream of slightly growing frames does not reallocate each time;
     * free first: the old contents are never needed after growth. */
    size_t want = bytes + bytes / 4 + 64;
    if (want < bytes)
        want = bytes;
    sp_free(ws->buf[slot]);
    ws->buf[slot] = NULL;
    ws->cap[slot] = 0;
    /* 64-byte alignment keeps BLAS kernels on their aligned paths. */
    void *p = sp_aligned_alloc(want);
    if (!p)
        return NULL;
    ws->buf[slot] = p;
    ws->cap[slot] = want;
    return p;
}

void *sp_ws_array(sp_workspace *ws, sp_ws_slot slot, size_t count, size_t elem) {
    size_t bytes;
    if (!sp_mul_size(count, elem, &bytes))
        return NULL;
    return sp_ws_get(ws, slot, bytes);
}

sp_status sp_err_nomem(sp_error *err, const char *what, size_t bytes) {
    return sp_error_set(err, SP_ERR_NOMEM, "out of memory allocating %s (%zu bytes)", what, bytes);
}
