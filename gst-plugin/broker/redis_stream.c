/* The Redis Streams backend of the broker sink (redis_stream.h). */
#include "broker/redis_stream.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker/redis_conn.h"
#include "scriptprune/wire.h"

enum {
    CONNECT_TIMEOUT_MS = 2000, /* also bounds each reply: a stuck Redis is a failure, not a wait */
    N_ARGS = 28,
};

typedef struct redis_impl {
    scd_redis_target target;
    char *stream;
    char *key;
    uint64_t maxlen;
    redisContext *c;
    char describe[224];
} redis_impl;

char *scd_redis_stream_key(const char *key_template, const char *stream) {
    GString *g = g_string_new(NULL);
    for (const char *p = key_template; *p;) {
        if (g_str_has_prefix(p, "{stream}")) {
            g_string_append(g, stream);
            p += strlen("{stream}");
        } else {
            g_string_append_c(g, *p++);
        }
    }
    return g_string_free(g, FALSE);
}

static bool r_connect(void *impl, scd_broker_fail *why, char **msg) {
    redis_impl *r = impl;
    r->c = scd_redis_connect(&r->target, CONNECT_TIMEOUT_MS, why, msg);
    return r->c != NULL;
}

static void r_disconnect(void *impl) {
    redis_impl *r = impl;
    if (r->c)
        redisFree(r->c);
    r->c = NULL;
}

static void r_free(void *impl) {
    redis_impl *r = impl;
    r_disconnect(r);
    scd_redis_target_clear(&r->target);
    g_free(r->stream);
    g_free(r->key);
    g_free(r);
}

static const char *r_describe(void *impl) {
    return ((redis_impl *)impl)->describe;
}

/* Numbers of one entry, printed once: argv points into these. */
typedef struct numbers {
    char seq[24], epoch[24], window[24], pts_first[24], pts_last[24], tokens[16], d[16], ver[8];
} numbers;

static int entry_args(const redis_impl *r, const scd_broker_entry *e, numbers *n,
                      const char *maxlen, const char **argv, size_t *len) {
    snprintf(n->seq, sizeof n->seq, "%" PRIu64, e->seq);
    snprintf(n->epoch, sizeof n->epoch, "%" PRIu64, e->epoch);
    snprintf(n->window, sizeof n->window, "%" PRId64, e->window);
    snprintf(n->pts_first, sizeof n->pts_first, "%" PRId64, e->pts_first);
    snprintf(n->pts_last, sizeof n->pts_last, "%" PRId64, e->pts_last);
    snprintf(n->tokens, sizeof n->tokens, "%" PRIu32, e->tokens);
    snprintf(n->d, sizeof n->d, "%" PRIu32, e->d);
    snprintf(n->ver, sizeof n->ver, "%d", SP_WIRE_VERSION);
    int a = 0;
#define ARG(s) (argv[a] = (s), len[a] = strlen(argv[a]), a++)
    ARG("XADD");
    ARG(r->key);
    if (maxlen) {
        ARG("MAXLEN");
        ARG("~");
        ARG(maxlen);
    }
    ARG("*");
    ARG("packet");
    argv[a] = g_bytes_get_data(e->packet, &len[a]);
    a++;
    const char *fields[][2] = {
        {"stream", r->stream},       {"seq", n->seq},
        {"epoch", n->epoch},         {"window", n->window},
        {"pts_first", n->pts_first}, {"pts_last", n->pts_last},
        {"tokens", n->tokens},       {"d", n->d},
        {"format_version", n->ver},  {"mode", sp_packet_mode_name(e->mode)},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(fields); i++) {
        ARG(fields[i][0]);
        ARG(fields[i][1]);
    }
#undef ARG
    return a;
}

static bool r_publish(void *impl, scd_broker_entry *const *e, size_t n, scd_broker_result *res,
                      scd_broker_fail *why, char **msg) {
    redis_impl *r = impl;
    char maxlen[24] = "";
    if (r->maxlen)
        snprintf(maxlen, sizeof maxlen, "%" PRIu64, r->maxlen);
    for (size_t i = 0; i < n; i++) {
        const char *argv[N_ARGS];
        size_t len[N_ARGS];
        numbers nums;
        int argc = entry_args(r, e[i], &nums, r->maxlen ? maxlen : NULL, argv, len);
        if (redisAppendCommandArgv(r->c, argc, argv, len) != REDIS_OK) {
            *why = SCD_BROKER_IO;
            *msg = g_strdup_printf("XADD %s: %s", r->key, r->c->errstr);
            return false;
        }
    }
    /* Pipelined: one round trip for the batch. Replies come back in order. */
    for (size_t i = 0; i < n; i++) {
        redisReply *reply = NULL;
        if (redisGetReply(r->c, (void **)&reply) != REDIS_OK || !reply) {
            if (!*msg) {
                *why = scd_redis_context_fail(r->c);
                *msg = g_strdup_printf("XADD %s: %s", r->key, r->c->errstr);
            }
            return false; /* res[i..] stay UNKNOWN: sent again after a reconnection */
        }
        if (reply->type == REDIS_REPLY_ERROR) {
            res[i] = SCD_BROKER_DROPPED;
            if (!*msg) {
                *why = scd_redis_reply_fail(reply->str);
                *msg = g_strdup_printf("XADD %s: %s", r->key, reply->str);
            }
        } else {
            res[i] = SCD_BROKER_SENT;
        }
        freeReplyObject(reply);
    }
    return true;
}

static const scd_broker_ops redis_ops = {
    .name = "redis",
    .connect = r_connect,
    .publish = r_publish,
    .disconnect = r_disconnect,
    .free = r_free,
    .describe = r_describe,
};

sp_status scd_redis_stream_new(const char *stream, const char *url, const char *password_file,
                               const char *key_template, uint64_t maxlen,
                               const scd_broker_ops **ops, void **impl, sp_error *err) {
    *ops = NULL;
    *impl = NULL;
    redis_impl *r = g_new0(redis_impl, 1);
    sp_status st = scd_redis_target_init(&r->target, url, password_file ? password_file : "", err);
    if (st != SP_OK) {
        g_free(r);
        return st;
    }
    r->stream = g_strdup(stream);
    r->key = scd_redis_stream_key(key_template, stream);
    r->maxlen = maxlen;
    snprintf(r->describe, sizeof r->describe, "%s %s", r->target.where, r->key);
    *ops = &redis_ops;
    *impl = r;
    return SP_OK;
}
