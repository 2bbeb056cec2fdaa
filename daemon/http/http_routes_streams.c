/* /v1/streams, /v1/streams/{id}, .../query, .../tokens, .../follow. */
#include <stdio.h>
#include <string.h>

#include "http/http_listen.h"
#include "http/http_query.h"
#include "http/http_routes.h"
#include "http/http_util.h"
#include "http/tokens_reply.h"
#include "http/stream_json.h"
#include "runtime/streams.h"

/* The stream named by the path, or a 404 listing the known ids. */
scd_stream *scd_route_stream_or_404(scd_route_ctx *c) {
    scd_stream *st = scd_streams_find(c->app->streams, c->id);
    if (st)
        return st;
    GString *ids = g_string_new(NULL);
    for (guint i = 0; i < scd_streams_count(c->app->streams); i++)
        g_string_append_printf(ids, "%s%s", i ? ", " : "",
                               scd_stream_id(scd_streams_at(c->app->streams, i)));
    scd_http_error(c->msg, SOUP_STATUS_NOT_FOUND, "not_found", "no stream '%s' (streams: %s)",
                   c->id, ids->len ? ids->str : "none");
    g_string_free(ids, TRUE);
    return NULL;
}

void scd_route_streams(scd_route_ctx *c) {
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "streams");
    json_builder_begin_array(b);
    for (guint i = 0; i < scd_streams_count(c->app->streams); i++)
        scd_stream_to_json(scd_streams_at(c->app->streams, i), b);
    json_builder_end_array(b);
    json_builder_end_object(b);
    scd_http_reply_json(c->msg, SOUP_STATUS_OK, b);
    g_object_unref(b);
}

void scd_route_stream(scd_route_ctx *c) {
    scd_stream *st = scd_route_stream_or_404(c);
    if (!st)
        return;
    JsonBuilder *b = json_builder_new();
    scd_stream_to_json(st, b);
    scd_http_reply_json(c->msg, SOUP_STATUS_OK, b);
    g_object_unref(b);
}

static void reply_query(scd_route_ctx *c, scd_stream *st) {
    scd_query *q = scd_stream_query(st);
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "stream");
    json_builder_add_string_value(b, scd_stream_id(st));
    json_builder_set_member_name(b, "query");
    if (q) {
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "kind");
        json_builder_add_string_value(b, q->kind);
        json_builder_set_member_name(b, "description");
        json_builder_add_string_value(b, q->describe);
        json_builder_set_member_name(b, "rows");
        json_builder_add_int_value(b, (gint64)q->m);
        json_builder_set_member_name(b, "width");
        json_builder_add_int_value(b, (gint64)q->e);
        char hash[24];
        snprintf(hash, sizeof hash, "%016" G_GINT64_MODIFIER "x", (guint64)q->hash);
        json_builder_set_member_name(b, "hash");
        json_builder_add_string_value(b, hash);
        json_builder_end_object(b);
    } else {
        json_builder_add_null_value(b);
    }
    json_builder_end_object(b);
    scd_http_reply_json(c->msg, SOUP_STATUS_OK, b);
    g_object_unref(b);
}

void scd_route_stream_query(scd_route_ctx *c) {
    scd_stream *st = scd_route_stream_or_404(c);
    if (!st)
        return;
    if (strcmp(c->method, "GET") == 0) {
        reply_query(c, st);
        return;
    }
    scd_query *q = NULL;
    if (strcmp(c->method, "POST") == 0) {
        scd_frame_size frame = scd_stream_frame_size(st); /* 0 x 0 before the first frame */
        q = scd_http_read_query(c->app, c->msg, c->query, &scd_stream_cfg_of(st)->encoder, &frame);
        if (!q)
            return; /* replied */
    }
    sp_error err;
    sp_status rc = scd_stream_set_query(st, q, &err);
    scd_query_unref(q);
    if (rc != SP_OK) {
        scd_http_error_status(c->msg, rc, "invalid_query", err.message);
        return;
    }
    reply_query(c, st);
}

void scd_route_stream_tokens(scd_route_ctx *c) {
    scd_stream *st = scd_route_stream_or_404(c);
    if (!st)
        return;
    const scd_pruning_cfg *p = &scd_stream_cfg_of(st)->pruning;
    guint64 budget = (guint64)(p->emit == SCD_EMIT_FRAME ? p->frame_budget : p->window_budget);
    guint64 since = 0, until = G_MAXUINT64;
    if (!scd_http_param_uint(c->msg, c->query, "budget", 1, 1000000, &budget) ||
        !scd_http_param_seconds(c->msg, c->query, "since", &since) ||
        !scd_http_param_seconds(c->msg, c->query, "until", &until))
        return;
    if (since > until) {
        scd_http_error(c->msg, SOUP_STATUS_BAD_REQUEST, "invalid_parameter",
                       "since is later than until");
        return;
    }
    GBytes *bytes = NULL;
    guint count = 0;
    sp_error err;
    sp_status rc = scd_stream_reselect(st, (guint)budget, since, until, &bytes, &count, &err);
    if (rc != SP_OK) {
        scd_http_error_status(c->msg, rc, "reselect_failed", err.message);
        return;
    }
    SoupMessageHeaders *h = soup_server_message_get_response_headers(c->msg);
    char value[32];
    snprintf(value, sizeof value, "%u", count);
    soup_message_headers_replace(h, "X-Scriptd-Tokens", value);
    char *name = g_strdup_printf("%s-tokens.safetensors", scd_stream_id(st));
    scd_http_reply_tokens(c->msg, c->query, bytes, name, (guint)p->hop,
                          &scd_app_config(c->app)->mllm);
    g_free(name);
    g_bytes_unref(bytes);
}

void scd_route_stream_follow(scd_route_ctx *c) {
    scd_stream *st = scd_route_stream_or_404(c);
    if (!st)
        return;
    scd_follow *f = scd_stream_follow(st);
    if (!f) {
        scd_http_error(c->msg, SOUP_STATUS_CONFLICT, "follow_disabled",
                       "stream '%s' has no follow sink: add '- follow: true' to its sinks",
                       scd_stream_id(st));
        return;
    }
    if (c->app->stopping) {
        scd_http_error(c->msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "unavailable",
                       "scriptd is shutting down");
        return;
    }
    scd_stream_state state = scd_stream_state_of(st);
    if (state == SCD_STREAM_DONE || state == SCD_STREAM_STOPPED) {
        scd_http_error(c->msg, SOUP_STATUS_CONFLICT, "stream_ended",
                       "stream '%s' has ended (%s): nothing more will be emitted; "
                       "GET /v1/streams/%s/tokens reselects over what it saw",
                       scd_stream_id(st), scd_stream_state_name(state), scd_stream_id(st));
        return;
    }
    guint events = 0;
    const char *wanted = c->query ? g_hash_table_lookup(c->query, "events") : NULL;
    char *why = NULL;
    if (wanted && !scd_follow_events_parse(wanted, &events, &why)) {
        scd_http_error(c->msg, SOUP_STATUS_BAD_REQUEST, "invalid_events", "%s", why);
        g_free(why);
        return;
    }
    scd_follow_attach(f, c->msg, scd_http_message_socket(c->msg), events);
}
