/* Decoding and writing of followed entries (follow_out.h). */
#include "follow_out.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "scriptprune/wire.h"

follow_seen follow_seqs_note(follow_seqs *s, const follow_entry *e) {
    size_t i = 0;
    while (i < s->n && !(s->item[i].epoch == e->epoch && strcmp(s->item[i].stream, e->stream) == 0))
        i++;
    if (i == s->n) {
        /* A new producer (stream, epoch): its first number starts the count. Beyond the table,
         * the oldest slot is reused. */
        if (s->n < sizeof s->item / sizeof s->item[0])
            s->n++;
        else
            i = 0;
        snprintf(s->item[i].stream, sizeof s->item[i].stream, "%s", e->stream);
        s->item[i].epoch = e->epoch;
        s->item[i].next = e->seq + 1;
        if (e->seq > 0)
            fprintf(stderr,
                    "scriptprune: follow: %s epoch %" PRIu64 ": first entry read has seq %" PRIu64
                    "\n",
                    e->stream, e->epoch, e->seq);
        return FOLLOW_NEW;
    }
    if (e->seq < s->item[i].next) {
        s->duplicates++;
        return FOLLOW_REPEAT;
    }
    if (e->seq > s->item[i].next) {
        uint64_t miss = e->seq - s->item[i].next;
        s->missing += miss;
        s->gaps++;
        fprintf(stderr,
                "{\"gap\":{\"stream\":\"%s\",\"epoch\":%" PRIu64 ",\"from\":%" PRIu64
                ",\"missing\":%" PRIu64 "}}\n",
                e->stream, e->epoch, s->item[i].next, miss);
    }
    s->item[i].next = e->seq + 1;
    return FOLLOW_NEW;
}

static void print_json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void print_line(const follow_entry *e, const sp_packet *p, const sp_wire_header *h,
                       bool positions) {
    printf("{\"id\":\"%s\",\"stream\":", e->id);
    print_json_string(e->stream);
    printf(",\"seq\":%" PRIu64 ",\"epoch\":%" PRIu64 ",\"window\":", e->seq, e->epoch);
    if (p->window == SP_WINDOW_NONE)
        printf("null");
    else
        printf("%" PRIu64, p->window);
    printf(",\"kind\":\"%s\",\"mode\":\"%s\",\"pts_first\":%" PRId64 ",\"pts_last\":%" PRId64
           ",\"frame_first\":%" PRIu64 ",\"frame_last\":%" PRIu64
           ",\"tokens\":%zu,\"current\":%zu,\"budget\":%zu,\"d\":%u,\"query_hash\":\"%016" PRIx64
           "\"",
           sp_packet_kind_name(p->kind), sp_packet_mode_name(p->mode), p->pts_first, p->pts_last,
           p->frame_first, p->frame_last, p->count,
           cli_count_current(p->info, p->count, p->pts_first), p->budget, h->d, p->query_hash);
    if (positions)
        cli_print_positions(p->info, p->count, true);
    printf("}\n");
    fflush(stdout);
}

static sp_status write_file(const follow_entry *e, const sp_packet *p, const char *dir,
                            sp_error *err) {
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s-%" PRIu64 "-s%09" PRIu64 ".safetensors", dir,
                     e->stream, e->epoch, e->seq);
    if (n < 0 || (size_t)n >= sizeof path)
        return sp_error_set(err, SP_ERR_INVALID, "output path too long under %s", dir);
    sp_packet_collector *c = sp_packet_collector_new(p->d, e->stream, "");
    if (!c)
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory for a packet collector");
    sp_status st = sp_packet_collector_add(c, p, err);
    if (st == SP_OK)
        st = sp_packet_collector_write(c, SP_DTYPE_F32, path, err);
    sp_packet_collector_free(c);
    return st;
}

sp_status follow_write(const follow_entry *e, const char *out, bool positions, sp_error *err) {
    sp_wire_reader *r = sp_wire_reader_new(e->packet_len + 1);
    if (!r)
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory for a wire reader");
    sp_packet p;
    bool got = false;
    sp_status st = sp_wire_reader_feed(r, e->packet, e->packet_len, err);
    if (st == SP_OK)
        st = sp_wire_reader_next(r, &p, &got, err);
    if (st == SP_OK && !got)
        st = sp_error_set(err, SP_ERR_FORMAT, "the packet field holds no complete packet");
    if (st == SP_OK) {
        if (strcmp(out, "-") == 0)
            print_line(e, &p, sp_wire_reader_header(r), positions);
        else
            st = write_file(e, &p, out, err);
    }
    /* One packet per entry: anything after it is malformed. */
    bool more = false;
    sp_packet extra;
    if (st == SP_OK)
        st = sp_wire_reader_next(r, &extra, &more, err);
    if (st == SP_OK && more)
        st = sp_error_set(err, SP_ERR_FORMAT, "the packet field holds more than one packet");
    if (st == SP_OK)
        st = sp_wire_reader_finish(r, err);
    sp_wire_reader_free(r);
    return st;
}
