/* Shared encoders with cross-stream batching (see encodepool.h). */
#include "encodepool.h"

#include <string.h>

/* One frame handed to the worker; lives on the stream's stack until done is set. */
typedef struct Request {
    const sp_image *img;
    sp_encoding *out;
    gint64 arrived; /* monotonic µs */
    sp_status status;
    sp_error err;
    gboolean done;
} Request;

struct EncodePool {
    char *key;       /* registry key; NULL for a private pool */
    guint refs;      /* streams holding the pool (under lock; registry lock too when registered) */
    sp_encoder *enc; /* immutable after open */
    sp_encode_ctx *ctx; /* the worker's */
    guint max_batch;
    gint64 window_us;
    GThread *worker;

    GMutex lock;    /* everything below */
    GCond wake;     /* worker: a frame arrived or the pool stops */
    GCond done;     /* streams: a pass finished */
    GQueue waiting; /* Request*, oldest first */
    gboolean stopping;
    EncodePoolStats stats;
};

/* Registry of shared pools by key: process-wide, as elements of one process share them. */
static GMutex registry_lock;
static GHashTable *registry; /* key -> EncodePool* (not owned) */

void encode_pool_config_init(EncodePoolConfig *c) {
    memset(c, 0, sizeof *c);
    sp_encoder_config_init(&c->encoder);
    c->max_batch = ENCODE_POOL_DEFAULT_MAX_BATCH;
    c->batch_window_us = ENCODE_POOL_DEFAULT_WINDOW_US;
}

static char *canonical(const char *path) {
    return path && *path ? g_canonicalize_filename(path, NULL) : g_strdup("");
}

/* Every setting that changes what the pool computes or how it batches. */
static char *pool_key(const EncodePoolConfig *c) {
    const sp_encoder_config *e = &c->encoder;
    char *model = canonical(e->model_dir), *text = canonical(e->text_model_dir);
    char *key = g_strdup_printf("%d|%d|%u|%u|%u|%" G_GUINT64_FORMAT "|%d|%d|%d|%d|%u|%u|%s|%s",
                                (int)e->kind, (int)e->fit, e->image_size, e->patch_size, e->dim,
                                (guint64)e->seed, (int)e->patch_local, e->layer, (int)e->text,
                                (int)e->projector, c->max_batch, c->batch_window_us, model, text);
    g_free(model);
    g_free(text);
    return key;
}

static sp_status check_config(const EncodePoolConfig *c, sp_error *err) {
    if (c->max_batch < 1 || c->max_batch > SP_ENCODE_MAX_BATCH)
        return sp_error_set(err, SP_ERR_INVALID, "encode pool: max-batch %u is outside [1, %d]",
                            c->max_batch, SP_ENCODE_MAX_BATCH);
    if (c->batch_window_us > ENCODE_POOL_MAX_WINDOW_US)
        return sp_error_set(err, SP_ERR_INVALID,
                            "encode pool: batch window %u us is above %u us (one second)",
                            c->batch_window_us, (unsigned)ENCODE_POOL_MAX_WINDOW_US);
    return SP_OK;
}

/* Frames a pass waits for: one from each stream that is not idle, at most max_batch. */
static guint expected_frames(const EncodePool *p) {
    guint active = p->refs > p->stats.idle ? p->refs - p->stats.idle : 0;
    return MIN(p->max_batch, MAX(active, 1));
}

/* The frames of the next pass: the oldest waiting, at most max_batch. Called with the lock held;
 * waits for the other streams' frames at most window_us after the oldest arrived. */
static guint take_pass(EncodePool *p, Request **pass) {
    while (g_queue_is_empty(&p->waiting) && !p->stopping)
        g_cond_wait(&p->wake, &p->lock);
    if (g_queue_is_empty(&p->waiting))
        return 0;
    const Request *oldest = g_queue_peek_head(&p->waiting);
    gint64 deadline = oldest->arrived + p->window_us;
    guint want = expected_frames(p);
    while (g_queue_get_length(&p->waiting) < want && !p->stopping &&
           g_cond_wait_until(&p->wake, &p->lock, deadline))
        want = expected_frames(p);
    guint n = 0;
    while (n < p->max_batch && !g_queue_is_empty(&p->waiting))
        pass[n++] = g_queue_pop_head(&p->waiting);
    return n;
}

/* Encodes the pass without the lock: frames checked one by one, the valid ones in one batch;
 * if the batch fails as a whole, each valid frame alone. */
static void run_pass(EncodePool *p, Request **pass, guint n) {
    sp_image imgs[SP_ENCODE_MAX_BATCH];
    sp_encoding *outs[SP_ENCODE_MAX_BATCH];
    Request *valid[SP_ENCODE_MAX_BATCH];
    guint nv = 0;
    for (guint i = 0; i < n; i++) {
        Request *r = pass[i];
        sp_error_clear(&r->err);
        r->out->n = 0;
        r->status = sp_image_validate(r->img, &r->err);
        if (r->status != SP_OK)
            continue;
        imgs[nv] = *r->img;
        outs[nv] = r->out;
        valid[nv++] = r;
    }
    if (nv == 0)
        return;
    sp_error err;
    sp_error_clear(&err);
    sp_status st = sp_encode_batch(p->ctx, imgs, nv, outs, &err);
    if (st == SP_OK || nv == 1) {
        for (guint i = 0; i < nv; i++) {
            valid[i]->status = st;
            valid[i]->err = err;
        }
        return;
    }
    g_mutex_lock(&p->lock);
    p->stats.fallback++;
    g_mutex_unlock(&p->lock);
    for (guint i = 0; i < nv; i++)
        valid[i]->status = sp_encode(p->ctx, &imgs[i], outs[i], &valid[i]->err);
}

static gpointer worker_main(gpointer data) {
    EncodePool *p = data;
    Request *pass[SP_ENCODE_MAX_BATCH];
    g_mutex_lock(&p->lock);
    for (;;) {
        guint n = take_pass(p, pass);
        if (n == 0)
            break; /* stopping and nothing left */
        g_mutex_unlock(&p->lock);
        run_pass(p, pass, n);
        g_mutex_lock(&p->lock);
        p->stats.frames += n;
        p->stats.passes++;
        p->stats.largest = MAX(p->stats.largest, n);
        for (guint i = 0; i < n; i++)
            pass[i]->done = TRUE;
        g_cond_broadcast(&p->done);
    }
    g_mutex_unlock(&p->lock);
    return NULL;
}

static void pool_free(EncodePool *p) {
    if (p->worker) {
        g_mutex_lock(&p->lock);
        p->stopping = TRUE;
        g_cond_broadcast(&p->wake);
        g_mutex_unlock(&p->lock);
        g_thread_join(p->worker);
    }
    sp_encode_ctx_free(p->ctx);
    sp_encoder_free(p->enc);
    g_mutex_clear(&p->lock);
    g_cond_clear(&p->wake);
    g_cond_clear(&p->done);
    g_free(p->key);
    g_free(p);
}

static sp_status pool_open(const EncodePoolConfig *c, EncodePool **out, sp_error *err) {
    *out = NULL;
    sp_status st = check_config(c, err);
    if (st != SP_OK)
        return st;
    EncodePool *p = g_new0(EncodePool, 1);
    g_mutex_init(&p->lock);
    g_cond_init(&p->wake);
    g_cond_init(&p->done);
    g_queue_init(&p->waiting);
    p->refs = 1;
    p->max_batch = c->max_batch;
    p->window_us = c->batch_window_us;
    st = c->blobs ? sp_encoder_open_blobs(&c->encoder, c->blobs, &p->enc, err)
                  : sp_encoder_open(&c->encoder, &p->enc, err);
    if (st == SP_OK)
        st = sp_encode_ctx_new(p->enc, &p->ctx, err);
    if (st != SP_OK) {
        pool_free(p);
        return st;
    }
    GError *gerr = NULL;
    p->worker = g_thread_try_new("scriptencode-pool", worker_main, p, &gerr);
    if (!p->worker) {
        st = sp_error_set(err, SP_ERR_NOMEM, "encode pool: cannot start the worker thread: %s",
                          gerr->message);
        g_error_free(gerr);
        pool_free(p);
        return st;
    }
    *out = p;
    return SP_OK;
}

sp_status encode_pool_new(const EncodePoolConfig *c, EncodePool **out, sp_error *err) {
    return pool_open(c, out, err);
}

EncodePool *encode_pool_ref(EncodePool *p) {
    g_mutex_lock(&p->lock);
    p->refs++;
    g_mutex_unlock(&p->lock);
    return p;
}

sp_status encode_pool_acquire(const EncodePoolConfig *c, EncodePool **out, sp_error *err) {
    *out = NULL;
    sp_status st = check_config(c, err);
    if (st != SP_OK)
        return st;
    if (c->blobs)
        return sp_error_set(err, SP_ERR_INVALID,
                            "encode pool: a model from memory cannot be shared by settings; "
                            "open it with encode_pool_new");
    char *key = pool_key(c);
    g_mutex_lock(&registry_lock);
    if (!registry)
        registry = g_hash_table_new(g_str_hash, g_str_equal);
    EncodePool *p = g_hash_table_lookup(registry, key);
    if (p) {
        g_mutex_lock(&p->lock);
        p->refs++;
        g_mutex_unlock(&p->lock);
        g_free(key);
    } else {
        /* Under the registry lock, so that two streams starting together load the weights once;
         * other pools' acquires wait meanwhile. */
        st = pool_open(c, &p, err);
        if (st == SP_OK) {
            p->key = key;
            g_hash_table_insert(registry, p->key, p);
        } else {
            g_free(key);
        }
    }
    g_mutex_unlock(&registry_lock);
    *out = p;
    return st;
}

void encode_pool_release(EncodePool *p) {
    if (!p)
        return;
    gboolean last;
    if (p->key)
        g_mutex_lock(&registry_lock);
    g_mutex_lock(&p->lock);
    last = --p->refs == 0;
    g_cond_broadcast(&p->wake); /* fewer streams: a pass waiting for them need not */
    g_mutex_unlock(&p->lock);
    if (last && p->key) {
        g_hash_table_remove(registry, p->key);
        if (g_hash_table_size(registry) == 0)
            g_clear_pointer(&registry, g_hash_table_unref);
    }
    if (p->key)
        g_mutex_unlock(&registry_lock);
    if (last)
        pool_free(p);
}

void encode_pool_set_idle(EncodePool *p, gboolean idle) {
    g_mutex_lock(&p->lock);
    if (idle)
        p->stats.idle++;
    else if (p->stats.idle > 0)
        p->stats.idle--;
    g_cond_broadcast(&p->wake); /* a pass waiting for this stream need not */
    g_mutex_unlock(&p->lock);
}

const sp_encoder *encode_pool_encoder(const EncodePool *p) {
    return p->enc;
}

sp_status encode_pool_encode(EncodePool *p, const sp_image *img, sp_encoding *out, sp_error *err) {
    if (!p || !out)
        return sp_error_set(err, SP_ERR_INVALID, "encode pool: NULL %s", p ? "result" : "pool");
    if (!img)
        return sp_image_validate(img, err);
    Request r = {.img = img, .out = out, .arrived = g_get_monotonic_time()};
    g_mutex_lock(&p->lock);
    g_queue_push_tail(&p->waiting, &r);
    g_cond_signal(&p->wake);
    while (!r.done)
        g_cond_wait(&p->done, &p->lock);
    g_mutex_unlock(&p->lock);
    if (r.status != SP_OK && err)
        *err = r.err;
    return r.status;
}

void encode_pool_get_stats(EncodePool *p, EncodePoolStats *out) {
    g_mutex_lock(&p->lock);
    *out = p->stats;
    out->streams = p->refs;
    g_mutex_unlock(&p->lock);
}
