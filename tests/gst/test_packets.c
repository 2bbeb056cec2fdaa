/* What scriptprune's window packets carry through the elements: on a 640 x 360 stream (letterboxed
 * into the encoder's square input) no padding token is ever emitted; packet-mode=snapshot packets
 * hold only tokens seen in their window, packet-mode=delta packets never repeat a token, and the
 * mode travels in the GstScriptPacket (meta and EOS event); scriptoverlay outlines every token of
 * a packet on the frame that completed it, shaded by age. */
#include <string.h>

#include "gsttest.h"

#define W 640
#define H 360
#define CAPS "video/x-raw,format=RGBx,width=640,height=360,framerate=10/1"
#define FRAME_NS (GST_SECOND / 10)
#define FRAMES 32

typedef struct {
    gint64 pts, last_pts, frame, seen, y, x;
} Tok;

/* The tokens of a packet, from its provenance tensor (count entries, g_free). */
static Tok *packet_tokens(const GstScriptPacket *p) {
    Tok *t = g_new0(Tok, p->count ? p->count : 1);
    if (!p->count)
        return t;
    GstMapInfo map;
    fail_unless(gst_script_tensor_map(&p->provenance, &map));
    const gint64 *row = (const gint64 *)map.data;
    for (guint i = 0; i < p->count; i++, row += GST_SCRIPT_PROVENANCE_COLUMNS)
        t[i] = (Tok){row[GST_SCRIPT_PROVENANCE_PTS],   row[GST_SCRIPT_PROVENANCE_LAST_PTS],
                     row[GST_SCRIPT_PROVENANCE_FRAME], row[GST_SCRIPT_PROVENANCE_SEEN],
                     row[GST_SCRIPT_PROVENANCE_Y],     row[GST_SCRIPT_PROVENANCE_X]};
    gst_buffer_unmap(p->provenance.data, &map);
    return t;
}

typedef struct {
    GstScriptPacket pk[FRAMES + 1];
    guint n;
    guint img_y, img_x, img_h, img_w; /* picture cells of the grid */
    guint padding_fates;              /* fates reported as padding, all frames */
    guint padding_cells;              /* cells outside the picture, all frames */
    guint fate_mismatches;            /* cells whose fate says padding iff they are not */
    guint64 padding_drops;            /* the element's stats */
    gchar *emission_mode;             /* "mode" of the first scriptprune-emission message */
} Run;

/* FRAMES mosaic frames (a part of the picture changes every frame) through encode ! prune with
 * the daemon's defaults (window 8, hop 8, budget 64), then EOS; every packet, in order. */
static void run_prune(const gchar *mode, Run *r) {
    memset(r, 0, sizeof *r);
    gchar *launch = g_strdup_printf(
        "scriptencode ! scriptprune name=p window=8 hop=8 window-budget=64 packet-mode=%s", mode);
    GstHarness *h = gt_harness(launch, CAPS);
    g_free(launch);
    for (guint t = 0; t < FRAMES; t++) {
        fail_unless_equals_int(gst_harness_push(h, gt_frame_rgbx(W, H, t, t * FRAME_NS)),
                               GST_FLOW_OK);
        GstBuffer *out = gst_harness_pull(h);
        GstScriptTokensMeta *m = gst_buffer_get_script_tokens_meta(out);
        fail_unless(m != NULL && m->pruned);
        fail_unless(
            gst_script_tokens_meta_image_cells(m, &r->img_y, &r->img_x, &r->img_h, &r->img_w));
        GstMapInfo fm;
        fail_unless(gst_script_tensor_map(&m->fates, &fm));
        for (guint y = 0; y < m->grid_h; y++)
            for (guint x = 0; x < m->grid_w; x++) {
                gboolean pad = y < r->img_y || y >= r->img_y + r->img_h || x < r->img_x ||
                               x >= r->img_x + r->img_w;
                guint8 fate = fm.data[y * m->grid_w + x];
                r->padding_cells += pad;
                r->padding_fates += fate == GST_SCRIPT_FATE_PADDING;
                r->fate_mismatches += pad != (fate == GST_SCRIPT_FATE_PADDING);
            }
        gst_buffer_unmap(m->fates.data, &fm);
        if (m->has_packet) {
            gst_script_packet_init(&r->pk[r->n]);
            gst_script_packet_copy_into(&r->pk[r->n++], &m->packet);
        }
        gst_buffer_unref(out);
    }
    GstElement *p = gst_bin_get_by_name(GST_BIN(h->element), "p");
    GstStructure *stats = NULL;
    g_object_get(p, "stats", &stats, NULL);
    gst_object_unref(p);
    fail_unless(gst_structure_get_uint64(stats, "padding-drops", &r->padding_drops));
    gst_structure_free(stats);
    GstMessage *msg = gt_pop_message(gt_bus(h), GST_MESSAGE_ELEMENT, "scriptprune-emission");
    fail_unless(msg != NULL);
    r->emission_mode = g_strdup(gst_structure_get_string(gst_message_get_structure(msg), "mode"));
    gst_message_unref(msg);
    /* One more frame, then EOS: the partial window comes as a packet event. */
    fail_unless_equals_int(gst_harness_push(h, gt_frame_rgbx(W, H, FRAMES, FRAMES * FRAME_NS)),
                           GST_FLOW_OK);
    gst_buffer_unref(gst_harness_pull(h));
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    GstEvent *e;
    while ((e = gst_harness_try_pull_event(h))) {
        if (gst_script_packet_event_is(e)) {
            gst_script_packet_init(&r->pk[r->n]);
            fail_unless(gst_script_packet_event_parse(e, &r->pk[r->n]));
            r->n++;
        }
        gst_event_unref(e);
    }
    gt_teardown(h);
}

static void run_clear(Run *r) {
    for (guint i = 0; i < r->n; i++)
        gst_script_packet_clear(&r->pk[i]);
    g_free(r->emission_mode);
}

GST_START_TEST(test_640x360_stream_never_emits_letterbox_padding) {
    const gchar *modes[] = {"snapshot", "delta"};
    for (guint k = 0; k < 2; k++) {
        Run r;
        run_prune(modes[k], &r);
        /* 640 x 360 on the 24 x 24 grid: 14 picture rows between 5 padding rows each side. */
        fail_unless_equals_int(r.img_y, 5);
        fail_unless_equals_int(r.img_h, 14);
        fail_unless_equals_int(r.img_w, 24);
        fail_unless_equals_int(r.n, FRAMES / 8 + 1);
        guint emitted = 0, padding = 0;
        for (guint i = 0; i < r.n; i++) {
            Tok *t = packet_tokens(&r.pk[i]);
            for (guint j = 0; j < r.pk[i].count; j++) {
                emitted++;
                padding += t[j].y < (gint64)r.img_y || t[j].y >= (gint64)(r.img_y + r.img_h);
            }
            g_free(t);
        }
        fail_unless(emitted > 0);
        fail_unless(padding == 0, "%s: %u of %u emitted tokens are letterbox padding", modes[k],
                    padding, emitted);
        fail_unless_equals_int(r.padding_fates, r.padding_cells);
        fail_unless_equals_int(r.fate_mismatches, 0);
        fail_unless_equals_uint64(r.padding_drops, r.padding_cells);
        fail_unless_equals_string(r.emission_mode, modes[k]);
        run_clear(&r);
    }
}
GST_END_TEST;

GST_START_TEST(test_snapshot_packets_hold_tokens_seen_in_their_window) {
    Run r;
    run_prune("snapshot", &r);
    guint old = 0;
    for (guint i = 0; i < r.n; i++) {
        const GstScriptPacket *p = &r.pk[i];
        fail_unless_equals_int(p->mode, GST_SCRIPT_PACKET_MODE_SNAPSHOT);
        Tok *t = packet_tokens(p);
        for (guint j = 0; j < p->count; j++) {
            fail_unless(t[j].last_pts >= (gint64)p->pts_first,
                        "window %u: token of frame %" G_GINT64_FORMAT " last seen %" G_GINT64_FORMAT
                        ", before the window's first pts %" G_GUINT64_FORMAT,
                        i, t[j].frame, t[j].last_pts, p->pts_first);
            fail_unless(t[j].last_pts <= (gint64)p->pts_last && t[j].seen >= 1);
            fail_unless(t[j].seen <= (t[j].last_pts - t[j].pts) / (gint64)FRAME_NS + 1);
            old += t[j].frame < (gint64)p->frame_first;
        }
        g_free(t);
    }
    fail_unless(old > 0, "no token taken before its window was re-sent as still seen");
    run_clear(&r);
}
GST_END_TEST;

static gint tok_cmp(gconstpointer a, gconstpointer b) {
    const Tok *u = a, *v = b;
    if (u->frame != v->frame)
        return u->frame < v->frame ? -1 : 1;
    if (u->y != v->y)
        return u->y < v->y ? -1 : 1;
    return u->x < v->x ? -1 : (u->x > v->x);
}

GST_START_TEST(test_delta_packets_never_repeat_a_token) {
    Run r;
    run_prune("delta", &r);
    GArray *all = g_array_new(FALSE, FALSE, sizeof(Tok));
    for (guint i = 0; i < r.n; i++) {
        fail_unless_equals_int(r.pk[i].mode, GST_SCRIPT_PACKET_MODE_DELTA);
        Tok *t = packet_tokens(&r.pk[i]);
        g_array_append_vals(all, t, r.pk[i].count);
        g_free(t);
    }
    fail_unless(all->len > 0);
    g_array_sort(all, tok_cmp);
    for (guint i = 1; i < all->len; i++)
        fail_unless(tok_cmp(&g_array_index(all, Tok, i - 1), &g_array_index(all, Tok, i)) != 0,
                    "token (frame %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                    ") sent twice",
                    g_array_index(all, Tok, i).frame, g_array_index(all, Tok, i).y,
                    g_array_index(all, Tok, i).x);
    g_array_free(all, TRUE);
    run_clear(&r);
}
GST_END_TEST;

/* ---- the overlay of a window packet ---- */

#define NEW_COLOR 0xff00ff00u /* opaque green: taken from the completing frame */
#define OLD_COLOR 0xffff0000u /* opaque red: taken a window or more before it */

GST_START_TEST(test_overlay_draws_every_packet_token_on_the_completing_frame_by_age) {
    /* Only packet tokens are drawn: the other outlines are transparent, nothing is dimmed. */
    gchar *launch = g_strdup_printf(
        "scriptencode ! scriptprune window=4 hop=4 window-budget=400 ! scriptoverlay "
        "emitted-color=%u aged-color=%u candidate-color=0 temporal-color=0 dim=0 line-width=1",
        NEW_COLOR, OLD_COLOR);
    GstHarness *h = gt_harness(launch, CAPS);
    g_free(launch);
    guint packets = 0, aged = 0, fresh = 0, between = 0;
    for (guint t = 0; t < 12; t++) {
        fail_unless_equals_int(gst_harness_push(h, gt_frame_rgbx(W, H, t, t * FRAME_NS)),
                               GST_FLOW_OK);
        GstBuffer *out = gst_harness_pull(h);
        GstScriptTokensMeta *m = gst_buffer_get_script_tokens_meta(out);
        fail_unless(m != NULL && m->pruned);
        if (!m->has_packet) {
            gst_buffer_unref(out);
            continue;
        }
        packets++;
        guint n = m->grid_h * m->grid_w;
        gint *age = g_new(gint, n);
        for (guint i = 0; i < n; i++)
            age[i] = -1;
        Tok *tk = packet_tokens(&m->packet);
        for (guint j = 0; j < m->packet.count; j++) {
            gint a = (gint)((gint64)m->stream_frame - tk[j].frame);
            guint pos = (guint)(tk[j].y * m->grid_w + tk[j].x);
            if (age[pos] < 0 || a < age[pos])
                age[pos] = a;
        }
        g_free(tk);
        GstBuffer *orig = gt_frame_rgbx(W, H, t, 0);
        GstMapInfo om, pm;
        gst_buffer_map(orig, &om, GST_MAP_READ);
        gst_buffer_map(out, &pm, GST_MAP_READ);
        for (guint y = 0; y < m->grid_h; y++)
            for (guint x = 0; x < m->grid_w; x++) {
                gint x0, y0, x1, y1;
                if (!gst_script_tokens_meta_token_rect(m, y, x, W, H, &x0, &y0, &x1, &y1))
                    continue;
                gsize off = ((gsize)y0 * W + (gsize)x0) * 4;
                const guint8 *p = pm.data + off, *o = om.data + off;
                gint a = age[y * m->grid_w + x];
                if (a < 0) {
                    /* not in the packet: untouched */
                    fail_unless(memcmp(p, o, 3) == 0, "cell (%u, %u) drawn but not in the packet",
                                y, x);
                } else if (a == 0) {
                    fail_unless(p[0] == 0 && p[1] == 255 && p[2] == 0,
                                "cell (%u, %u) of the completing frame is not green", y, x);
                    fresh++;
                } else if (a >= 4) {
                    fail_unless(p[0] == 255 && p[1] == 0 && p[2] == 0,
                                "cell (%u, %u), %d frames old, is not red", y, x, a);
                    aged++;
                } else {
                    /* younger than a window: between green and red, redder with age */
                    fail_unless(p[0] > 0 && p[0] < 255 && p[1] > 0 && p[1] < 255 && p[2] == 0,
                                "cell (%u, %u), %d frames old: %u,%u,%u", y, x, a, p[0], p[1],
                                p[2]);
                    fail_unless(p[0] >= (guint8)(255 * (a - 1) / 4) && p[0] <= 255 * (a + 1) / 4);
                    between++;
                }
            }
        gst_buffer_unmap(orig, &om);
        gst_buffer_unmap(out, &pm);
        gst_buffer_unref(orig);
        gst_buffer_unref(out);
        g_free(age);
    }
    gt_teardown(h);
    fail_unless_equals_int(packets, 3);
    /* The packets hold tokens of the completing frame and tokens a window old or more. */
    fail_unless(fresh > 0 && aged > 0, "fresh %u, aged %u, between %u", fresh, aged, between);
}
GST_END_TEST;

static Suite *packets_suite(void) {
    Suite *s = suite_create("scriptpackets");
    TCase *tc = tcase_create("general");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_640x360_stream_never_emits_letterbox_padding);
    tcase_add_test(tc, test_snapshot_packets_hold_tokens_seen_in_their_window);
    tcase_add_test(tc, test_delta_packets_never_repeat_a_token);
    tcase_add_test(tc, test_overlay_draws_every_packet_token_on_the_completing_frame_by_age);
    suite_add_tcase(s, tc);
    return s;
}

GST_CHECK_MAIN(packets);
