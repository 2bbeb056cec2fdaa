/* The FFmpeg sampler on generated videos whose frames encode their own index in a solid colour
 * (tests/daemon/gen_test_videos.sh), so every test knows exactly which frame it was given. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <libavutil/log.h>

#include "media/sampler.h"

static char *video(const char *name) {
    const char *dir = getenv("SCRIPTD_TEST_VIDEOS");
    return g_build_filename(dir ? dir : ".", name, NULL);
}

/* The frame index a counter frame encodes (see gen_test_videos.sh), from its centre pixel. */
static int frame_index(const scd_sampled_frame *f) {
    const uint8_t *p = f->rgb + (size_t)(f->height / 2) * f->stride + (size_t)(f->width / 2) * 3;
    int r = (int)lround((p[0] - 16) / 32.0), g = (int)lround((p[1] - 16) / 32.0),
        b = (int)lround((p[2] - 16) / 32.0);
    return r + 8 * g + 64 * b;
}

typedef struct sample {
    int64_t pts_ns, index;
    int content;
    bool key;
    guint hash;
} sample;

/* Runs the sampler to the end; returns the samples (g_array of sample) or fails the test. */
static GArray *run(const char *name, double fps, scd_sample_mode mode, int max_side,
                   scd_sampler_stats *stats_out, scd_sampler_info *info_out) {
    char *path = video(name);
    scd_sampler_opts o;
    scd_sampler_opts_init(&o);
    o.fps = fps;
    o.mode = mode;
    o.max_side = max_side;
    scd_sampler *s;
    sp_error e;
    if (scd_sampler_open(path, &o, &s, &e) != SP_OK)
        fail_msg("open %s: %s", path, e.message);
    GArray *out = g_array_new(FALSE, TRUE, sizeof(sample));
    double last_progress = 0;
    for (;;) {
        scd_sampled_frame f;
        bool got;
        if (scd_sampler_next(s, &f, &got, &e) != SP_OK)
            fail_msg("next %s: %s", path, e.message);
        double progress = scd_sampler_progress(s);
        assert_true(progress >= last_progress);
        last_progress = progress;
        if (!got)
            break;
        assert_int_equal(f.stride, (size_t)f.width * 3);
        sample x = {.pts_ns = f.pts_ns,
                    .index = f.index,
                    .content = frame_index(&f),
                    .key = f.key_frame,
                    .hash = 0};
        GBytes *b = g_bytes_new_static(f.rgb, f.stride * (size_t)f.height);
        x.hash = g_bytes_hash(b);
        g_bytes_unref(b);
        g_array_append_val(out, x);
    }
    assert_true(scd_sampler_progress(s) == 1.0);
    if (stats_out)
        *stats_out = *scd_sampler_get_stats(s);
    if (info_out) {
        *info_out = *scd_sampler_get_info(s);
        info_out->codec = NULL; /* owned by the sampler */
    }
    scd_sampler_close(s);
    g_free(path);
    return out;
}

#define AT(a, i) g_array_index((a), sample, (i))

static void one_fps_of_ten_seconds_gives_ten_frames_at_whole_seconds(void **state) {
    (void)state;
    scd_sampler_info info;
    GArray *a = run("counter.mp4", 1.0, SCD_SAMPLE_EXACT, 0, NULL, &info);
    assert_int_equal(a->len, 10);
    assert_int_equal(info.width, 128);
    assert_int_equal(info.height, 72);
    assert_true(fabs(info.frame_rate - 30.0) < 1e-9);
    assert_true(llabs(info.duration_ns - 10000000000LL) < 40000000);
    for (guint k = 0; k < a->len; k++) {
        /* Within half a frame of k seconds, and the very frame that belongs there. */
        assert_true(llabs(AT(a, k).pts_ns - (int64_t)k * 1000000000) < 1000000000 / 60);
        assert_int_equal(AT(a, k).index, k);
        assert_int_equal(AT(a, k).content, 30 * k);
    }
    g_array_free(a, TRUE);
}

static void frame_nearest_each_instant_is_chosen(void **state) {
    (void)state;
    /* 7 fps on 30 fps: instant k at k/7 s; the nearest frame is round(30k/7) (no exact ties). */
    GArray *a = run("counter.mp4", 7.0, SCD_SAMPLE_EXACT, 0, NULL, NULL);
    assert_int_equal(a->len, 70);
    for (guint k = 0; k < a->len; k++) {
        int want = (int)lround(30.0 * k / 7.0);
        assert_int_equal(AT(a, k).content, want);
        assert_true(llabs(AT(a, k).pts_ns - (int64_t)want * 1000000000 / 30) <= 1);
    }
    g_array_free(a, TRUE);
}

static void exact_mode_matches_decoding_every_frame(void **state) {
    (void)state;
    const double rates[] = {0.25, 1.0, 2.0, 7.0, 30.0, 45.0};
    const char *files[] = {"counter.mp4", "counter-tail-index.mp4", "counter.avi", "counter.ts"};
    for (size_t fi = 0; fi < G_N_ELEMENTS(files); fi++) {
        for (size_t i = 0; i < G_N_ELEMENTS(rates); i++) {
            GArray *x = run(files[fi], rates[i], SCD_SAMPLE_EXACT, 0, NULL, NULL);
            GArray *y = run(files[fi], rates[i], SCD_SAMPLE_ALL, 0, NULL, NULL);
            if (x->len != y->len)
                fail_msg("%s at %g fps: %u frames exact, %u decoding all", files[fi], rates[i],
                         x->len, y->len);
            for (guint k = 0; k < x->len; k++) {
                assert_int_equal(AT(x, k).pts_ns, AT(y, k).pts_ns);
                assert_int_equal(AT(x, k).index, AT(y, k).index);
                /* Same decoded pixels: skipping non-reference frames and seeking to keyframes
                 * does not change any frame that is returned. */
                assert_int_equal(AT(x, k).hash, AT(y, k).hash);
            }
            g_array_free(x, TRUE);
            g_array_free(y, TRUE);
        }
    }
}

static void exact_mode_skips_and_seeks_what_it_does_not_need(void **state) {
    (void)state;
    scd_sampler_stats all, exact, sparse;
    scd_sampler_info info;
    g_array_free(run("counter.mp4", 1.0, SCD_SAMPLE_ALL, 0, &all, NULL), TRUE);
    g_array_free(run("counter.mp4", 1.0, SCD_SAMPLE_EXACT, 0, &exact, &info), TRUE);
    g_array_free(run("counter.mp4", 0.25, SCD_SAMPLE_EXACT, 0, &sparse, NULL), TRUE);
    assert_true(info.seekable);
    assert_int_equal(all.frames_decoded, 300);
    assert_int_equal(all.seeks, 0);
    assert_true(exact.frames_decoded < all.frames_decoded);
    /* Instants 4 s apart with a keyframe every second: it jumps over the gaps. */
    assert_true(sparse.seeks > 0);
    assert_true(sparse.packets_read < all.packets_read / 2);
    assert_true(sparse.frames_decoded < all.frames_decoded / 4);
}

static void rate_above_the_video_returns_each_frame_once(void **state) {
    (void)state;
    GArray *a = run("counter.mp4", 45.0, SCD_SAMPLE_EXACT, 0, NULL, NULL);
    assert_int_equal(a->len, 300);
    for (guint k = 0; k < a->len; k++)
        assert_int_equal(AT(a, k).content, (int)k);
    g_array_free(a, TRUE);
}

static void keyframe_mode_returns_keyframes_or_falls_back(void **state) {
    (void)state;
    scd_sampler_info info;
    scd_sampler_stats stats;
    GArray *a = run("counter.mp4", 1.0, SCD_SAMPLE_KEYFRAMES, 0, &stats, &info);
    assert_int_equal(info.mode, SCD_SAMPLE_KEYFRAMES);
    assert_true(fabs(info.keyframes_per_s - 1.0) < 0.01);
    assert_int_equal(a->len, 10);
    for (guint k = 0; k < a->len; k++) {
        assert_true(AT(a, k).key);
        assert_int_equal(AT(a, k).content, 30 * k);
    }
    assert_true(stats.frames_decoded <= 10);
    g_array_free(a, TRUE);
    /* Two samples a second with one keyframe a second: exact sampling instead. */
    a = run("counter.mp4", 2.0, SCD_SAMPLE_KEYFRAMES, 0, NULL, &info);
    assert_int_equal(info.mode, SCD_SAMPLE_EXACT);
    assert_int_equal(a->len, 20);
    g_array_free(a, TRUE);
}

static void frames_scale_to_the_requested_longer_side(void **state) {
    (void)state;
    char *path = video("counter.mp4");
    scd_sampler_opts o;
    scd_sampler_opts_init(&o);
    o.max_side = 64;
    scd_sampler *s;
    sp_error e;
    assert_int_equal(scd_sampler_open(path, &o, &s, &e), SP_OK);
    assert_int_equal(scd_sampler_get_info(s)->out_width, 64);
    assert_int_equal(scd_sampler_get_info(s)->out_height, 36);
    scd_sampled_frame f;
    bool got;
    assert_int_equal(scd_sampler_next(s, &f, &got, &e), SP_OK);
    assert_true(got);
    assert_int_equal(f.width, 64);
    assert_int_equal(f.height, 36);
    assert_int_equal(f.stride, 192);
    assert_int_equal(frame_index(&f), 0);
    scd_sampler_close(s);
    /* A larger limit never upscales. */
    o.max_side = 1000;
    assert_int_equal(scd_sampler_open(path, &o, &s, &e), SP_OK);
    assert_int_equal(scd_sampler_next(s, &f, &got, &e), SP_OK);
    assert_int_equal(f.width, 128);
    scd_sampler_close(s);
    g_free(path);
}

static void other_containers_sample_exactly(void **state) {
    (void)state;
    GArray *a = run("counter.avi", 1.0, SCD_SAMPLE_EXACT, 0, NULL, NULL);
    assert_int_equal(a->len, 5);
    for (guint k = 0; k < a->len; k++)
        assert_int_equal(AT(a, k).content, 25 * k);
    g_array_free(a, TRUE);
    a = run("counter.ts", 1.0, SCD_SAMPLE_EXACT, 0, NULL, NULL);
    assert_int_equal(a->len, 5);
    for (guint k = 0; k < a->len; k++)
        assert_int_equal(AT(a, k).content, 30 * k);
    g_array_free(a, TRUE);
}

static sp_status open_status(const char *name, sp_error *e) {
    char *path = video(name);
    scd_sampler_opts o;
    scd_sampler_opts_init(&o);
    scd_sampler *s = NULL;
    sp_status st = scd_sampler_open(path, &o, &s, e);
    if (st == SP_OK)
        scd_sampler_close(s);
    else
        assert_null(s);
    g_free(path);
    return st;
}

static void missing_and_non_video_files_are_clear_errors(void **state) {
    (void)state;
    sp_error e;
    assert_int_equal(open_status("no-such-file.mp4", &e), SP_ERR_NOT_FOUND);
    assert_non_null(strstr(e.message, "no-such-file.mp4: cannot open: no such file"));
    assert_int_equal(open_status("not-video.txt", &e), SP_ERR_FORMAT);
    assert_non_null(strstr(e.message, "not a recognised media file"));
    /* Audio-only files are not among the video formats read at all. */
    assert_int_equal(open_status("audio-only.wav", &e), SP_ERR_FORMAT);
    assert_non_null(strstr(e.message, "the 'wav' format is refused"));
    assert_int_equal(open_status("truncated-tail-index.mp4", &e), SP_ERR_FORMAT);

    scd_sampler_opts o;
    scd_sampler_opts_init(&o);
    o.fps = 0;
    scd_sampler *s;
    assert_int_equal(scd_sampler_open("x.mp4", &o, &s, &e), SP_ERR_INVALID);
    o.fps = NAN;
    assert_int_equal(scd_sampler_open("x.mp4", &o, &s, &e), SP_ERR_INVALID);
}

/* Writes text to a new file in dir; returns its path (g_free). */
static char *write_file(const char *dir, const char *name, const char *text) {
    char *path = g_build_filename(dir, name, NULL);
    assert_true(g_file_set_contents(path, text, -1, NULL));
    return path;
}

/* Playlists and lists of files would make FFmpeg read files the caller never opened: refused by
 * their content (whatever they are called), before their header is read. */
static void files_that_name_other_files_are_refused(void **state) {
    (void)state;
    char *dir = g_dir_make_tmp("scriptd-sampler-XXXXXX", NULL);
    char *ts = video("counter.ts"), *mp4 = video("counter.mp4");
    char *hls = g_strdup_printf("#EXTM3U\n#EXT-X-TARGETDURATION:5\n#EXTINF:5.0,\n%s\n"
                                "#EXT-X-ENDLIST\n",
                                ts);
    char *concat = g_strdup_printf("ffconcat version 1.0\nfile '%s'\n", mp4);
    const char *cases[][3] = {{"list.m3u8", hls, "'hls'"},
                              {"list.mp4", hls, "'hls'"},
                              {"list.png", hls, "'hls'"},
                              {"list.ffconcat", concat, "'concat'"},
                              {"list.mkv", concat, "'concat'"}};
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *path = write_file(dir, cases[i][0], cases[i][1]);
        scd_sampler_opts o;
        scd_sampler_opts_init(&o);
        scd_sampler *s = NULL;
        sp_error e;
        assert_int_equal(scd_sampler_open(path, &o, &s, &e), SP_ERR_FORMAT);
        assert_null(s);
        assert_non_null(strstr(e.message, cases[i][2]));
        assert_non_null(strstr(e.message, "format is refused"));
        g_unlink(path);
        g_free(path);
    }
    g_rmdir(dir);
    g_free(hls);
    g_free(concat);
    g_free(ts);
    g_free(mp4);
    g_free(dir);
}

/* opts.input_fd: the descriptor is read, the url only names it in messages. Here the sampler
 * decodes counter.mp4 exactly, though "shown-name.mp4" does not exist. */
static void an_open_descriptor_is_read_instead_of_the_url(void **state) {
    (void)state;
    char *path = video("counter.mp4");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    scd_sampler_opts o;
    scd_sampler_opts_init(&o);
    o.input_fd = fd;
    scd_sampler *s = NULL;
    sp_error e;
    assert_int_equal(scd_sampler_open("shown-name.mp4", &o, &s, &e), SP_OK);
    int n = 0;
    for (;;) {
        scd_sampled_frame f;
        bool got;
        assert_int_equal(scd_sampler_next(s, &f, &got, &e), SP_OK);
        if (!got)
            break;
        assert_int_equal(frame_index(&f), 30 * n);
        n++;
    }
    assert_int_equal(n, 10);
    scd_sampler_close(s);
    /* The sampler read a duplicate: the caller's descriptor is still open, and its own. */
    assert_true(fcntl(fd, F_GETFD) >= 0);
    close(fd);
    g_free(path);
    /* A path that is not a regular file (a directory): refused. */
    scd_sampler_opts_init(&o);
    assert_int_equal(scd_sampler_open(".", &o, &s, &e), SP_ERR_FORMAT);
    assert_non_null(strstr(e.message, "not a regular file"));
}

/* Damaged files: an error, or frames in increasing time, never a crash (ASan watches). */
static void damaged_files_give_an_error_or_a_clean_prefix(void **state) {
    (void)state;
    const char *files[] = {"truncated.mp4", "garbage.mp4"};
    for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
        char *path = video(files[i]);
        const double rates[] = {1.0, 30.0};
        for (size_t r = 0; r < G_N_ELEMENTS(rates); r++) {
            scd_sampler_opts o;
            scd_sampler_opts_init(&o);
            o.fps = rates[r];
            scd_sampler *s;
            sp_error e;
            if (scd_sampler_open(path, &o, &s, &e) != SP_OK)
                continue;
            int64_t last = -1;
            int n = 0;
            for (;;) {
                scd_sampled_frame f;
                bool got;
                if (scd_sampler_next(s, &f, &got, &e) != SP_OK || !got)
                    break;
                assert_true(f.pts_ns > last);
                assert_int_equal(f.width, 128);
                last = f.pts_ns;
                n++;
            }
            assert_true(n <= 300);
            scd_sampler_close(s);
        }
        g_free(path);
    }
    /* The truncated file (index at the front) still yields its first seconds exactly. */
    GArray *a = run("truncated.mp4", 1.0, SCD_SAMPLE_EXACT, 0, NULL, NULL);
    assert_true(a->len >= 1);
    for (guint k = 0; k < a->len; k++)
        assert_int_equal(AT(a, k).content, 30 * k);
    g_array_free(a, TRUE);
}

static void abort_stops_a_running_sampler(void **state) {
    (void)state;
    char *path = video("counter.mp4");
    scd_sampler_opts o;
    scd_sampler_opts_init(&o);
    o.fps = 30;
    scd_sampler *s;
    sp_error e;
    assert_int_equal(scd_sampler_open(path, &o, &s, &e), SP_OK);
    scd_sampler_abort(s);
    sp_status st = SP_OK;
    int n = 0;
    for (;;) {
        scd_sampled_frame f;
        bool got;
        st = scd_sampler_next(s, &f, &got, &e);
        if (st != SP_OK || !got)
            break;
        n++;
    }
    /* Data already buffered may still come out, but the next read fails. */
    assert_int_equal(st, SP_ERR_IO);
    assert_non_null(strstr(e.message, "aborted"));
    assert_true(n < 300);
    scd_sampler_close(s);
    g_free(path);
}

/* A server on loopback that accepts connections and never answers: the I/O timeout must turn
 * the open into an error instead of a hang. */
static void silent_network_source_times_out(void **state) {
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t len = sizeof addr;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/stream.mp4", ntohs(addr.sin_port));
    scd_sampler_opts o;
    scd_sampler_opts_init(&o);
    o.io_timeout_us = 300000;
    scd_sampler *s = NULL;
    sp_error e;
    assert_int_equal(scd_sampler_open(url, &o, &s, &e), SP_ERR_IO);
    assert_null(s);
    assert_non_null(strstr(e.message, "127.0.0.1"));
    close(fd);
}

int main(void) {
    if (!getenv("SCRIPTD_TEST_VIDEOS")) {
        fprintf(stderr, "SCRIPTD_TEST_VIDEOS is not set (run through meson test)\n");
        return 77;
    }
    av_log_set_level(AV_LOG_QUIET); /* the damaged files make decoders complain on purpose */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_fps_of_ten_seconds_gives_ten_frames_at_whole_seconds),
        cmocka_unit_test(frame_nearest_each_instant_is_chosen),
        cmocka_unit_test(exact_mode_matches_decoding_every_frame),
        cmocka_unit_test(exact_mode_skips_and_seeks_what_it_does_not_need),
        cmocka_unit_test(rate_above_the_video_returns_each_frame_once),
        cmocka_unit_test(keyframe_mode_returns_keyframes_or_falls_back),
        cmocka_unit_test(frames_scale_to_the_requested_longer_side),
        cmocka_unit_test(other_containers_sample_exactly),
        cmocka_unit_test(missing_and_non_video_files_are_clear_errors),
        cmocka_unit_test(files_that_name_other_files_are_refused),
        cmocka_unit_test(an_open_descriptor_is_read_instead_of_the_url),
        cmocka_unit_test(damaged_files_give_an_error_or_a_clean_prefix),
        cmocka_unit_test(abort_stops_a_running_sampler),
        cmocka_unit_test(silent_network_source_times_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
