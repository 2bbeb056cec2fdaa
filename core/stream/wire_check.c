/* The rules every packet obeys, checked by the writer before encoding and by the reader after
 * decoding (docs/wire-format.md, "What a reader checks"). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "wire_internal.h"

void sp_wire_header_init(sp_wire_header *h) {
    memset(h, 0, sizeof *h);
    h->version = SP_WIRE_VERSION;
    h->mode = SP_PACKET_SNAPSHOT;
    h->dtype = SP_DTYPE_F16;
    h->kind = SP_PACKET_WINDOW;
    h->d = 1;
    h->grid_h = 1;
    h->grid_w = 1;
    h->budget = 1;
}

sp_status sp_wire_header_validate(const sp_wire_header *h, sp_error *err) {
    if (h->dtype != SP_DTYPE_F16 && h->dtype != SP_DTYPE_F32)
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "token-stream header: value type %s (only F16 and F32)",
                            sp_dtype_name(h->dtype));
    if ((unsigned)h->kind >= SP_PACKET_KIND_COUNT)
        return sp_error_set(err, SP_ERR_FORMAT, "token-stream header: packet kind %d is unknown",
                            (int)h->kind);
    if ((unsigned)h->mode >= SP_PACKET_MODE_COUNT)
        return sp_error_set(err, SP_ERR_FORMAT, "token-stream header: packet mode %d is unknown",
                            (int)h->mode);
    if (h->d < 1 || h->d > SP_WIRE_MAX_D)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "token-stream header: token width %u is outside [1, %d]", h->d,
                            SP_WIRE_MAX_D);
    if (h->grid_h < 1 || h->grid_w < 1 || h->grid_h > SP_WIRE_MAX_GRID ||
        h->grid_w > SP_WIRE_MAX_GRID)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "token-stream header: grid %ux%u has a side outside [1, %d]", h->grid_h,
                            h->grid_w, SP_WIRE_MAX_GRID);
    if (h->kind == SP_PACKET_WINDOW && (h->window < 1 || h->hop < 1 || h->hop > h->window))
        return sp_error_set(err, SP_ERR_FORMAT,
                            "token-stream header: window %u / hop %u (need 1 <= hop <= window)",
                            h->window, h->hop);
    if (h->budget < 1)
        return sp_error_set(err, SP_ERR_FORMAT, "token-stream header: budget 0");
    if (!(h->tau_t >= -1.0f && h->tau_t <= 1.0f))
        return sp_error_set(err, SP_ERR_FORMAT, "token-stream header: tau_t %g is outside [-1, 1]",
                            (double)h->tau_t);
    size_t len = strnlen(h->name, sizeof h->name);
    if (len > SP_WIRE_NAME_MAX)
        return sp_error_set(err, SP_ERR_FORMAT, "token-stream header: name is not terminated");
    return SP_OK;
}

bool sp_wire_packet_length(const sp_wire_header *h, size_t count, size_t *len) {
    size_t per = SP_WIRE_INFO_BYTES + (size_t)h->d * sp_wire_value_size(h->dtype);
    size_t body;
    if (__builtin_mul_overflow(count, per, &body))
        return false;
    size_t total = body + SP_WIRE_PACKET_FIXED + SP_WIRE_TRAILER;
    if (total < body || total > UINT32_MAX)
        return false;
    *len = total;
    return true;
}

sp_status sp_wire_check_packet(const sp_wire_header *h, const sp_packet *p, sp_wire_seq *seq,
                               const char *where, sp_error *err) {
    if ((unsigned)p->kind >= SP_PACKET_KIND_COUNT)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: packet kind %d is unknown", where,
                            (int)p->kind);
    bool resel = p->kind == SP_PACKET_RESELECT;
    if (!resel && p->kind != h->kind)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: a %s packet in a stream of %s packets", where,
                            sp_packet_kind_name(p->kind), sp_packet_kind_name(h->kind));
    if (!resel && p->mode != h->mode)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: a %s packet in a stream of %s packets", where,
                            sp_packet_mode_name(p->mode), sp_packet_mode_name(h->mode));
    if (resel && (unsigned)p->mode >= SP_PACKET_MODE_COUNT)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: packet mode %d is unknown", where,
                            (int)p->mode);
    if (p->count && p->d != h->d)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: tokens of width %zu in a stream of width %u",
                            where, p->d, h->d);
    if (p->count > p->budget)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: %zu tokens exceed the budget of %zu", where,
                            p->count, p->budget);
    if (p->budget > UINT32_MAX)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: budget %zu does not fit 32 bits", where,
                            p->budget);
    if (p->pts_first > p->pts_last || p->frame_first > p->frame_last)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "%s: span pts [%lld, %lld], frames [%llu, %llu] is reversed", where,
                            (long long)p->pts_first, (long long)p->pts_last,
                            (unsigned long long)p->frame_first, (unsigned long long)p->frame_last);
    if (resel != (p->window == SP_WINDOW_NONE))
        return sp_error_set(err, SP_ERR_FORMAT, "%s: window id %llu for a %s packet", where,
                            (unsigned long long)p->window, sp_packet_kind_name(p->kind));
    if (p->kind == SP_PACKET_FRAME &&
        (p->frame_first != p->frame_last || p->window != p->frame_first))
        return sp_error_set(err, SP_ERR_FORMAT,
                            "%s: a frame packet must cover one frame equal to its window id",
                            where);
    if (!resel && seq->have_window) {
        if (p->window <= seq->last_window)
            return sp_error_set(
                err, SP_ERR_FORMAT, "%s: window id %llu does not increase (previous %llu)", where,
                (unsigned long long)p->window, (unsigned long long)seq->last_window);
        if (p->frame_last < seq->last_frame)
            return sp_error_set(
                err, SP_ERR_FORMAT, "%s: last frame %llu goes backwards (previous %llu)", where,
                (unsigned long long)p->frame_last, (unsigned long long)seq->last_frame);
    }
    for (size_t i = 0; i < p->count; i++) {
        const sp_token_info *t = &p->info[i];
        if (t->y >= h->grid_h || t->x >= h->grid_w)
            return sp_error_set(err, SP_ERR_FORMAT,
                                "%s: token %zu at (%u, %u) is off the %ux%u grid", where, i, t->y,
                                t->x, h->grid_h, h->grid_w);
        if (t->seen < 1)
            return sp_error_set(err, SP_ERR_FORMAT, "%s: token %zu has a seen count of 0", where,
                                i);
        if (t->pts > t->last_pts)
            return sp_error_set(err, SP_ERR_FORMAT,
                                "%s: token %zu was last seen (%lld) before "
                                "it was taken (%lld)",
                                where, i, (long long)t->last_pts, (long long)t->pts);
        /* A snapshot window packet represents its span: each token was seen in it (version 1
         * did not promise it). */
        if (h->version >= 2 && p->kind == SP_PACKET_WINDOW && p->mode == SP_PACKET_SNAPSHOT &&
            t->last_pts < p->pts_first)
            return sp_error_set(err, SP_ERR_FORMAT,
                                "%s: token %zu was last seen (%lld) before the snapshot packet's "
                                "span began (%lld)",
                                where, i, (long long)t->last_pts, (long long)p->pts_first);
        if (t->frame > p->frame_last || (p->kind != SP_PACKET_WINDOW && t->frame < p->frame_first))
            return sp_error_set(err, SP_ERR_FORMAT,
                                "%s: token %zu comes from frame %llu outside the packet's [%llu, "
                                "%llu]",
                                where, i, (unsigned long long)t->frame,
                                (unsigned long long)p->frame_first,
                                (unsigned long long)p->frame_last);
        if (i > 0) {
            const sp_token_info *u = &p->info[i - 1];
            uint32_t pu = (uint32_t)u->y * h->grid_w + u->x, pt = (uint32_t)t->y * h->grid_w + t->x;
            if (sp_key_order(u->frame, pu, t->frame, pt) >= 0)
                return sp_error_set(err, SP_ERR_FORMAT,
                                    "%s: tokens %zu and %zu are not in time then raster order",
                                    where, i - 1, i);
        }
        const float *v = p->tokens + i * p->d;
        for (size_t j = 0; j < p->d; j++)
            if (!isfinite(v[j]))
                return sp_error_set(err, SP_ERR_FORMAT, "%s: token %zu value %zu is %s", where, i,
                                    j, isnan(v[j]) ? "NaN" : "infinite");
    }
    if (!resel) {
        seq->have_window = true;
        seq->last_window = p->window;
        seq->last_frame = p->frame_last;
    }
    seq->packets++;
    return SP_OK;
}
