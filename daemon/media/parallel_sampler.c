/* Parallel file sampling (parallel_sampler.h): worker threads fill small rings with the frames of
 * their keyframe segments; the consumer takes segment after segment from the ring of its owner. */
#include "media/parallel_sampler.h"

#include <glib.h>
#include <string.h>

/* Frames a worker may hold ahead of the consumer. A segment of a 2 s GOP sampled at 2 fps has 4;
 * longer segments make the worker wait, which costs parallelism, not correctness. */
#define RING_FRAMES 6
#define MAX_AUTO_WORKERS 4

typedef enum { ITEM_FRAME, ITEM_END, ITEM_ERROR } item_kind;

typedef struct item {
    item_kind kind;
    scd_sampled_frame f; /* f.rgb points into buf */
    uint8_t *buf;
    size_t cap;
    bool truncated; /* ITEM_END: a read error ended the worker's share */
    sp_status st;   /* ITEM_ERROR */
    sp_error err;
} item;

typedef struct worker {
    struct scd_parallel_sampler *p;
    scd_sampler *s;
    GThread *thread;
    item ring[RING_FRAMES];
    int head, len;          /* guarded by p->lock */
    scd_sampler_stats seen; /* the sampler's counters after its last item, guarded by p->lock */
} worker;

struct scd_parallel_sampler {
    char *url;
    scd_sampler *single; /* the fallback: one sampler, no threads */
    int n;
    worker *w;
    GMutex lock;
    GCond cond; /* any ring changed, or stop */
    bool stop;  /* guarded by lock */

    /* the consumer's state */
    worker *held; /* its head item was returned by the last next() */
    int64_t segment;
    int64_t last_pts;
    bool any;
    uint64_t emitted;
    bool ended;
    scd_sampler_info info;
};

static void *worker_main(void *data) {
    worker *w = data;
    scd_parallel_sampler *p = w->p;
    for (;;) {
        g_mutex_lock(&p->lock);
        while (!p->stop && w->len == RING_FRAMES)
            g_cond_wait(&p->cond, &p->lock);
        bool stop = p->stop;
        /* The slot after the ring's items is the worker's alone until it is counted in len. */
        item *it = &w->ring[(w->head + w->len) % RING_FRAMES];
        g_mutex_unlock(&p->lock);
        if (stop)
            break;
        bool got = false;
        sp_error_clear(&it->err);
        it->st = scd_sampler_next(w->s, &it->f, &got, &it->err);
        if (it->st != SP_OK) {
            it->kind = ITEM_ERROR;
        } else if (!got) {
            it->kind = ITEM_END;
            it->truncated = scd_sampler_get_stats(w->s)->truncated;
        } else {
            size_t size = it->f.stride * (size_t)it->f.height;
            if (size > it->cap) {
                g_free(it->buf); /* GLib aborts on out-of-memory: the daemon's policy */
                it->buf = g_malloc(size);
                it->cap = size;
            }
            memcpy(it->buf, it->f.rgb, size);
            it->f.rgb = it->buf;
            it->kind = ITEM_FRAME;
        }
        g_mutex_lock(&p->lock);
        w->len++;
        w->seen = *scd_sampler_get_stats(w->s);
        g_cond_broadcast(&p->cond);
        g_mutex_unlock(&p->lock);
        if (it->kind != ITEM_FRAME)
            break;
    }
    return NULL;
}

/* Drops the head item of w; lock held. */
static void pop(scd_parallel_sampler *p, worker *w) {
    w->head = (w->head + 1) % RING_FRAMES;
    w->len--;
    g_cond_broadcast(&p->cond);
}

static bool all_ended(const scd_parallel_sampler *p) {
    for (int i = 0; i < p->n; i++) {
        const worker *w = &p->w[i];
        if (w->len == 0 || w->ring[w->head].kind != ITEM_END)
            return false;
    }
    return true;
}

static int auto_workers(void) {
    int cpus = (int)g_get_num_processors();
    return cpus < 1 ? 1 : cpus > MAX_AUTO_WORKERS ? MAX_AUTO_WORKERS : cpus;
}

sp_status scd_parallel_sampler_open(const char *url, const scd_sampler_opts *o, int workers,
                                    scd_parallel_sampler **out, sp_error *err) {
    *out = NULL;
    if (workers < 0)
        return sp_error_set(err, SP_ERR_INVALID, "%s: %d decode workers (0 = automatic)",
                            url ? url : "(null)", workers);
    int n = workers == 0 ? auto_workers() : workers;
    scd_parallel_sampler *p = g_new0(scd_parallel_sampler, 1);
    p->url = g_strdup(url);
    g_mutex_init(&p->lock);
    g_cond_init(&p->cond);
    scd_sampler_opts wo = *o;
    wo.share_count = n > 1 && !o->live ? n : 0;
    wo.share_index = 0;
    /* Decoder threads split between the workers (one each on a 2-CPU machine); a file that
     * cannot be split is decoded by the first sampler alone, with the caller's threads. */
    int cpus = o->threads > 0 ? o->threads : (int)g_get_num_processors();
    if (wo.share_count > 1)
        wo.threads = cpus / n > 1 ? cpus / n : 1;
    wo.unshared_threads = o->threads;
    scd_sampler *first = NULL;
    sp_status st = scd_sampler_open(url, &wo, &first, err);
    if (st)
        goto fail;
    if (!scd_sampler_get_info(first)->shared) {
        p->single = first;
        p->n = 1;
        p->info = *scd_sampler_get_info(p->single);
        *out = p;
        return SP_OK;
    }
    p->n = n;
    p->w = g_new0(worker, n);
    p->w[0].s = first;
    for (int i = 1; i < n; i++) {
        wo.share_index = i;
        st = scd_sampler_open(url, &wo, &p->w[i].s, err);
        if (st)
            goto fail;
    }
    p->info = *scd_sampler_get_info(first);
    for (int i = 0; i < n; i++) {
        p->w[i].p = p;
        /* g_thread_new aborts when no thread can be created (GLib's policy, and ours). */
        p->w[i].thread = g_thread_new("scd-sample", worker_main, &p->w[i]);
    }
    *out = p;
    return SP_OK;

fail:
    scd_parallel_sampler_close(p);
    return st;
}

sp_status scd_parallel_sampler_next(scd_parallel_sampler *p, scd_sampled_frame *frame, bool *got,
                                    sp_error *err) {
    *got = false;
    memset(frame, 0, sizeof *frame);
    if (p->single) {
        sp_status st = scd_sampler_next(p->single, frame, got, err);
        if (st == SP_OK && *got)
            p->emitted++;
        p->ended = st == SP_OK && !*got;
        return st;
    }
    g_mutex_lock(&p->lock);
    if (p->held) {
        pop(p, p->held);
        p->held = NULL;
    }
    sp_status st = SP_OK;
    while (!p->ended) {
        if (p->stop) {
            st = sp_error_set(err, SP_ERR_IO, "parallel sampler: aborted");
            break;
        }
        worker *o = &p->w[p->segment % p->n];
        if (o->len == 0) {
            g_cond_wait(&p->cond, &p->lock);
            continue;
        }
        item *it = &o->ring[o->head];
        if (it->kind == ITEM_ERROR) {
            /* Left in place: every later call reports it too. */
            st = it->st;
            if (err)
                *err = it->err;
            break;
        }
        if (it->kind == ITEM_END) {
            if (it->truncated || all_ended(p)) {
                /* The end, or a read error: what came before is a clean prefix. */
                p->ended = true;
                break;
            }
            p->segment++; /* this owner has nothing more; the next segment's may */
            continue;
        }
        if (it->f.segment > p->segment) {
            p->segment++; /* the owner is done with this segment */
            continue;
        }
        if (p->any && it->f.pts_ns <= p->last_pts) {
            /* The previous segment's last instant chose this frame already (rates above the
             * video's): a frame is returned once, as by one sampler. */
            pop(p, o);
            continue;
        }
        *frame = it->f;
        *got = true;
        p->held = o;
        p->any = true;
        p->last_pts = it->f.pts_ns;
        p->emitted++;
        break;
    }
    g_mutex_unlock(&p->lock);
    if (st == SP_OK && p->ended && p->emitted == 0) {
        scd_sampler_stats s = scd_parallel_sampler_get_stats(p);
        if (s.decode_errors > 0)
            st = sp_error_set(err, SP_ERR_FORMAT,
                              "%s: no decodable video frame (%llu damaged packets)", p->url,
                              (unsigned long long)s.decode_errors);
    }
    return st;
}

double scd_parallel_sampler_progress(const scd_parallel_sampler *p) {
    if (p->single)
        return scd_sampler_progress(p->single);
    if (p->ended)
        return 1.0;
    if (p->info.duration_ns <= 0)
        return -1.0;
    double done = p->any ? (double)p->last_pts / (double)p->info.duration_ns : 0.0;
    return done < 0 ? 0 : done > 1 ? 1 : done;
}

const scd_sampler_info *scd_parallel_sampler_get_info(const scd_parallel_sampler *p) {
    return &p->info;
}

scd_sampler_stats scd_parallel_sampler_get_stats(scd_parallel_sampler *p) {
    if (p->single)
        return *scd_sampler_get_stats(p->single);
    scd_sampler_stats sum = {0};
    g_mutex_lock(&p->lock);
    for (int i = 0; i < p->n; i++) {
        const scd_sampler_stats *s = &p->w[i].seen;
        sum.packets_read += s->packets_read;
        sum.frames_decoded += s->frames_decoded;
        sum.seeks += s->seeks;
        sum.decode_errors += s->decode_errors;
        sum.truncated = sum.truncated || s->truncated;
    }
    g_mutex_unlock(&p->lock);
    sum.frames_emitted = p->emitted;
    return sum;
}

int scd_parallel_sampler_workers(const scd_parallel_sampler *p) {
    return p->n;
}

void scd_parallel_sampler_abort(scd_parallel_sampler *p) {
    if (!p)
        return;
    if (p->single) {
        scd_sampler_abort(p->single);
        return;
    }
    g_mutex_lock(&p->lock);
    p->stop = true;
    for (int i = 0; i < p->n; i++)
        scd_sampler_abort(p->w[i].s);
    g_cond_broadcast(&p->cond);
    g_mutex_unlock(&p->lock);
}

void scd_parallel_sampler_close(scd_parallel_sampler *p) {
    if (!p)
        return;
    if (p->w) {
        scd_parallel_sampler_abort(p);
        for (int i = 0; i < p->n; i++) {
            worker *w = &p->w[i];
            if (w->thread)
                g_thread_join(w->thread);
            scd_sampler_close(w->s);
            for (int j = 0; j < RING_FRAMES; j++)
                g_free(w->ring[j].buf);
        }
        g_free(p->w);
    }
    scd_sampler_close(p->single);
    g_mutex_clear(&p->lock);
    g_cond_clear(&p->cond);
    g_free(p->url);
    g_free(p);
}
