/* Parallel sampling (daemon/media/parallel_sampler.h) and the sampler shares it is built on, on the
 * generated counter videos (tests/daemon/gen_test_videos.sh): whatever the number of workers, the
 * frames, their pts, instants and pixels must be exactly one sampler's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>
#include <libavutil/log.h>

#include "media/parallel_sampler.h"

typedef struct sample {
    int64_t pts_ns, index;
    guint hash;
} sample;

#define AT(a, i) g_array_index((a), sample, (i))

static char *video(const char *name) {
    const char *dir = getenv("SCRIPTD_TEST_VIDEOS");
    return g_build_filename(dir ? dir : ".", name, NULL);
}

static sample sample_of(const scd_sampled_frame *f) {
    GBytes *b = g_bytes_new_static(f->rgb, f->stride * (size_t)f->height);
    sample x = {.pts_ns = f->pts_ns, .index = f->index, .hash = g_bytes_hash(b)};
    g_bytes_unref(b);
    return x;
}

static scd_sampler_opts opts_at(double fps) {
    scd_sampler_opts o;
    scd_sampler_opts_init(&o);
    o.fps = fps;
    return o;
}

/* One sampler answering share `index` of `count` (count 0: everything). */
static GArray *run_share(const char *name, double fps, int index, int count, bool *shared) {
    char *path = video(name);
    scd_sampler_opts o = opts_at(fps);
    o.share_index = index;
    o.share_count = count;
    scd_sampler *s;
    sp_error e;
    if (scd_sampler_open(path, &o, &s, &e) != SP_OK)
        fail_msg("open %s: %s", path, e.message);
    bool is_shared = scd_sampler_get_info(s)->shared;
    if (shared)
        *shared = is_shared;
    GArray *out = g_array_new(FALSE, TRUE, sizeof(sample));
    for (;;) {
        scd_sampled_frame f;
        bool got;
        if (scd_sampler_next(s, &f, &got, &e) != SP_OK)
            fail_msg("next %s: %s", path, e.message);
        if (!got)
            break;
        if (is_shared)
            assert_int_equal(f.segment % count, index);
        sample x = sample_of(&f);
        g_array_append_val(out, x);
    }
    scd_sampler_close(s);
    g_free(path);
    return out;
}

static GArray *run_parallel(const char *name, double fps, int workers, int *used,
                            scd_sampler_stats *stats) {
    char *path = video(name);
    scd_sampler_opts o = opts_at(fps);
    o.threads = 3;
    scd_parallel_sampler *p;
    sp_error e;
    if (scd_parallel_sampler_open(path, &o, workers, &p, &e) != SP_OK)
        fail_msg("open %s: %s", path, e.message);
    *used = scd_parallel_sampler_workers(p);
    /* The caller's 3 decoder threads: split between the workers (at least one each), whole for
     * a lone sampler. */
    assert_int_equal(scd_parallel_sampler_get_info(p)->decoder_threads,
                     *used > 1 ? MAX(1, 3 / *used) : 3);
    GArray *out = g_array_new(FALSE, TRUE, sizeof(sample));
    double last_progress = 0;
    for (;;) {
        scd_sampled_frame f;
        bool got;
        if (scd_parallel_sampler_next(p, &f, &got, &e) != SP_OK)
            fail_msg("next %s: %s", path, e.message);
        double progress = scd_parallel_sampler_progress(p);
        assert_true(progress >= last_progress);
        last_progress = progress;
        if (!got)
            break;
        sample x = sample_of(&f);
        g_array_append_val(out, x);
    }
    assert_true(scd_parallel_sampler_progress(p) == 1.0);
    if (stats)
        *stats = scd_parallel_sampler_get_stats(p);
    scd_parallel_sampler_close(p);
    g_free(path);
    return out;
}

static void assert_same_samples(const GArray *x, const GArray *y, const char *what) {
    if (x->len != y->len)
        fail_msg("%s: %u frames against %u from one sampler", what, x->len, y->len);
    for (guint k = 0; k < x->len; k++) {
        if (AT(x, k).pts_ns != AT(y, k).pts_ns || AT(x, k).index != AT(y, k).index ||
            AT(x, k).hash != AT(y, k).hash)
            fail_msg("%s: frame %u differs (pts %lld instant %lld, against %lld %lld)", what, k,
                     (long long)AT(x, k).pts_ns, (long long)AT(x, k).index,
                     (long long)AT(y, k).pts_ns, (long long)AT(y, k).index);
    }
}

static gint by_pts_then_index(gconstpointer a, gconstpointer b) {
    const sample *x = a, *y = b;
    if (x->pts_ns != y->pts_ns)
        return x->pts_ns < y->pts_ns ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static const double rates[] = {0.25, 1.0, 2.0, 7.0, 30.0, 45.0};

/* The shares of a file, put together (a frame chosen by two neighbouring instants in different
 * shares counted once), are one sampler's output. */
static void shares_together_give_every_instant_once(void **state) {
    (void)state;
    for (size_t i = 0; i < G_N_ELEMENTS(rates); i++) {
        GArray *all = run_share("counter.mp4", rates[i], 0, 0, NULL);
        for (int count = 2; count <= 3; count++) {
            GArray *u = g_array_new(FALSE, TRUE, sizeof(sample));
            for (int index = 0; index < count; index++) {
                bool shared = false;
                GArray *part = run_share("counter.mp4", rates[i], index, count, &shared);
                assert_true(shared);
                g_array_append_vals(u, part->data, part->len);
                g_array_free(part, TRUE);
            }
            g_array_sort(u, by_pts_then_index);
            guint w = 0;
            for (guint k = 0; k < u->len; k++)
                if (w == 0 || AT(u, k).pts_ns != AT(u, w - 1).pts_ns)
                    AT(u, w++) = AT(u, k);
            g_array_set_size(u, w);
            char *what = g_strdup_printf("%d shares at %g fps", count, rates[i]);
            assert_same_samples(u, all, what);
            g_free(what);
            g_array_free(u, TRUE);
        }
        g_array_free(all, TRUE);
    }
}

static void parallel_sampler_returns_what_one_sampler_returns(void **state) {
    (void)state;
    const char *files[] = {"counter.mp4", "counter-tail-index.mp4"};
    for (size_t fi = 0; fi < G_N_ELEMENTS(files); fi++) {
        for (size_t i = 0; i < G_N_ELEMENTS(rates); i++) {
            GArray *one = run_share(files[fi], rates[i], 0, 0, NULL);
            for (int workers = 2; workers <= 4; workers++) {
                int used = 0;
                scd_sampler_stats st;
                GArray *par = run_parallel(files[fi], rates[i], workers, &used, &st);
                char *what =
                    g_strdup_printf("%s at %g fps, %d workers", files[fi], rates[i], workers);
                assert_same_samples(par, one, what);
                g_free(what);
                assert_int_equal(used, workers);
                assert_int_equal(st.frames_emitted, par->len);
                assert_true(st.frames_decoded >= par->len);
                g_array_free(par, TRUE);
            }
            g_array_free(one, TRUE);
        }
    }
}

/* MPEG-TS has no index to cut by, and AVI's may flag P-frames as keyframes: one sampler does
 * the work, with the same result. */
static void files_without_an_exact_index_fall_back_to_one_sampler(void **state) {
    (void)state;
    const char *files[] = {"counter.ts", "counter.avi"};
    for (size_t fi = 0; fi < G_N_ELEMENTS(files); fi++) {
        int used = 0;
        bool shared = true;
        GArray *par = run_parallel(files[fi], 30.0, 2, &used, NULL);
        GArray *one = run_share(files[fi], 30.0, 0, 2, &shared);
        assert_int_equal(used, 1);
        assert_false(shared);
        assert_same_samples(par, one, files[fi]);
        g_array_free(par, TRUE);
        g_array_free(one, TRUE);
    }
}

/* A read error in the middle ends the output there, as with one sampler: a clean prefix. */
static void damaged_files_give_an_error_or_a_clean_prefix(void **state) {
    (void)state;
    int used = 0;
    GArray *par = run_parallel("truncated.mp4", 1.0, 2, &used, NULL);
    GArray *one = run_share("truncated.mp4", 1.0, 0, 0, NULL);
    assert_true(par->len >= 1);
    assert_true(par->len <= one->len);
    for (guint k = 0; k < par->len; k++)
        assert_int_equal(AT(par, k).pts_ns, AT(one, k).pts_ns);
    g_array_free(par, TRUE);
    g_array_free(one, TRUE);

    char *path = video("not-video.txt");
    scd_sampler_opts o = opts_at(1.0);
    scd_parallel_sampler *p = NULL;
    sp_error e;
    assert_int_equal(scd_parallel_sampler_open(path, &o, 2, &p, &e), SP_ERR_FORMAT);
    assert_null(p);
    assert_non_null(strstr(e.message, "not-video.txt"));
    g_free(path);
    assert_int_equal(scd_parallel_sampler_open("x.mp4", &o, -1, &p, &e), SP_ERR_INVALID);
    assert_non_null(strstr(e.message, "decode workers"));
}

static void abort_stops_the_workers(void **state) {
    (void)state;
    char *path = video("counter.mp4");
    scd_sampler_opts o = opts_at(30.0);
    scd_parallel_sampler *p;
    sp_error e;
    assert_int_equal(scd_parallel_sampler_open(path, &o, 2, &p, &e), SP_OK);
    scd_sampled_frame f;
    bool got;
    assert_int_equal(scd_parallel_sampler_next(p, &f, &got, &e), SP_OK);
    assert_true(got);
    scd_parallel_sampler_abort(p);
    assert_int_equal(scd_parallel_sampler_next(p, &f, &got, &e), SP_ERR_IO);
    assert_false(got);
    assert_non_null(strstr(e.message, "aborted"));
    scd_parallel_sampler_close(p);
    /* Closing while the workers are still decoding joins them. */
    assert_int_equal(scd_parallel_sampler_open(path, &o, 3, &p, &e), SP_OK);
    scd_parallel_sampler_close(p);
    g_free(path);
}

int main(void) {
    av_log_set_level(AV_LOG_QUIET);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shares_together_give_every_instant_once),
        cmocka_unit_test(parallel_sampler_returns_what_one_sampler_returns),
        cmocka_unit_test(files_without_an_exact_index_fall_back_to_one_sampler),
        cmocka_unit_test(damaged_files_give_an_error_or_a_clean_prefix),
        cmocka_unit_test(abort_stops_the_workers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
