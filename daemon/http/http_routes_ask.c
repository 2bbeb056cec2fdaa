/* POST /v1/streams/{id}/ask: a question over a stream's history, answered by the multimodal LLM
 * downstream (docs/mllm.md). The tokens are reselected with the question (its text through the
 * text tower, or the body's query, or the stream's own query when the encoder has no text tower),
 * sent as one chat request (vllm_chat.h) to mllm.url, and the answer comes back with the windows
 * and token positions it was given. The request is held (paused) while the MLLM works; nothing
 * else waits: streams run on, other requests are served. */
#include <math.h>
#include <string.h>

#include "http/http_query.h"
#include "http/http_routes.h"
#include "http/http_util.h"
#include "runtime/ask_flow.h"
#include "runtime/mllm_client.h"
#include "runtime/query.h"
#include "runtime/streams.h"

static const char *const ask_members[] = {"question", "since", "until", "budget", "query", NULL};

/* One ask in flight. */
typedef struct ask {
    SoupServerMessage *msg; /* weak: NULL once libsoup dropped the request */
    gulong finished_handler;
    gboolean gone;        /* the exchange ended before the answer (the client went away) */
    GCancellable *cancel; /* cancelled when the client goes away */
    scd_ask_request req;  /* what was sent */
    char *selected_with;
} ask;

static void ask_free(ask *a) {
    if (a->msg) {
        g_signal_handler_disconnect(a->msg, a->finished_handler);
        g_object_remove_weak_pointer(G_OBJECT(a->msg), (gpointer *)&a->msg);
    }
    scd_ask_request_clear(&a->req);
    g_object_unref(a->cancel);
    g_free(a->selected_with);
    g_free(a);
}

static void on_client_gone(SoupServerMessage *msg, gpointer data) {
    (void)msg;
    ask *a = data;
    a->gone = TRUE;
    g_cancellable_cancel(a->cancel);
}

static void add_ms(JsonBuilder *b, const char *name, double ms) {
    json_builder_set_member_name(b, name);
    json_builder_add_double_value(b, round(ms * 10) / 10);
}

static void reply_answer(ask *a, const scd_mllm_result *r) {
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "answer");
    json_builder_add_string_value(b, r->answer);
    json_builder_set_member_name(b, "model");
    if (r->model)
        json_builder_add_string_value(b, r->model);
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "tokens");
    json_builder_add_int_value(b, a->req.tokens);
    json_builder_set_member_name(b, "selected_with");
    json_builder_add_string_value(b, a->selected_with);
    json_builder_set_member_name(b, "windows");
    json_builder_begin_array(b);
    for (guint i = 0; i < a->req.summary.windows->len; i++) {
        const scd_chat_window *w = &g_array_index(a->req.summary.windows, scd_chat_window, i);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "pts_first");
        json_builder_add_double_value(b, (double)w->pts_first / 1e9);
        json_builder_set_member_name(b, "pts_last");
        json_builder_add_double_value(b, (double)w->pts_last / 1e9);
        json_builder_set_member_name(b, "tokens");
        json_builder_add_int_value(b, w->tokens);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_set_member_name(b, "evidence");
    json_builder_begin_array(b);
    for (guint i = 0; i < a->req.summary.evidence->len; i++) {
        const scd_chat_evidence *e = &g_array_index(a->req.summary.evidence, scd_chat_evidence, i);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "pts");
        json_builder_add_double_value(b, (double)e->pts / 1e9);
        json_builder_set_member_name(b, "last_pts");
        json_builder_add_double_value(b, (double)e->last_pts / 1e9);
        json_builder_set_member_name(b, "y");
        json_builder_add_int_value(b, e->y);
        json_builder_set_member_name(b, "x");
        json_builder_add_int_value(b, e->x);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_set_member_name(b, "latency_ms");
    json_builder_begin_object(b);
    add_ms(b, "select", a->req.select_ms);
    add_ms(b, "build", a->req.build_ms);
    add_ms(b, "mllm", r->elapsed_ms);
    json_builder_end_object(b);
    json_builder_end_object(b);
    scd_http_reply_json(a->msg, SOUP_STATUS_OK, b);
    g_object_unref(b);
}

static void on_answer(void *user, const scd_mllm_result *r) {
    ask *a = user;
    if (!a->msg || a->gone) { /* the client went away: nobody to tell */
        ask_free(a);
        return;
    }
    switch (r->outcome) {
        case SCD_MLLM_OK:
            reply_answer(a, r);
            break;
        case SCD_MLLM_UPSTREAM:
            scd_http_error(a->msg, SOUP_STATUS_BAD_GATEWAY, "upstream_error",
                           "the MLLM answered %u: %s", r->upstream_status,
                           r->message ? r->message : "");
            break;
        case SCD_MLLM_UNREACHABLE:
            scd_http_error(a->msg, SOUP_STATUS_BAD_GATEWAY, "upstream_error",
                           "the MLLM could not be reached: %s", r->message ? r->message : "");
            break;
        case SCD_MLLM_TIMEOUT:
            scd_http_error(a->msg, SOUP_STATUS_GATEWAY_TIMEOUT, "upstream_timeout",
                           "the MLLM did not answer within mllm.timeout_s (%.3g s)",
                           r->elapsed_ms / 1000.0);
            break;
        case SCD_MLLM_LOCAL:
        case SCD_MLLM_CANCELLED:
            scd_http_error(a->msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal", "%s",
                           r->message ? r->message : "the request was cancelled");
            break;
    }
    soup_server_message_unpause(a->msg);
    ask_free(a);
}

/* The members of the body, strictly. FALSE after replying. */
static gboolean read_ask(scd_route_ctx *c, JsonObject *o, const char **question, guint64 *since,
                         guint64 *until, guint64 *budget) {
    GList *names = json_object_get_members(o);
    for (GList *it = names; it; it = it->next)
        if (!g_strv_contains(ask_members, it->data)) {
            scd_http_error(c->msg, SOUP_STATUS_BAD_REQUEST, "invalid_ask",
                           "unknown member '%s' (an ask has: question, since, until, budget, "
                           "query)",
                           (const char *)it->data);
            g_list_free(names);
            return FALSE;
        }
    g_list_free(names);
    *question = scd_json_string(o, "question");
    if (!*question || !**question || strlen(*question) > 8192) {
        scd_http_error(c->msg, SOUP_STATUS_BAD_REQUEST, "invalid_ask",
                       "\"question\" (a non-empty string of at most 8192 bytes) is required");
        return FALSE;
    }
    double s = 0, u = INFINITY;
    if ((json_object_has_member(o, "since") &&
         (!scd_json_number(o, "since", &s) || !isfinite(s) || s < 0)) ||
        (json_object_has_member(o, "until") &&
         (!scd_json_number(o, "until", &u) || !isfinite(u) || u < 0)) ||
        s > u) {
        scd_http_error(c->msg, SOUP_STATUS_BAD_REQUEST, "invalid_ask",
                       "\"since\" and \"until\" are seconds of stream time, since <= until");
        return FALSE;
    }
    *since = (guint64)(s * 1e9);
    *until = isinf(u) ? G_MAXUINT64 : (guint64)(u * 1e9);
    gint64 k = (gint64)*budget;
    if (json_object_has_member(o, "budget") &&
        (!scd_json_int(o, "budget", &k) || k < 1 || k > 100000)) {
        scd_http_error(c->msg, SOUP_STATUS_BAD_REQUEST, "invalid_ask",
                       "\"budget\" must be an integer in [1, 100000]");
        return FALSE;
    }
    *budget = (guint64)k;
    return TRUE;
}

/* The query the tokens are reselected with (a new reference, or NULL for pure diversity) and
 * what it is, in *with. FALSE after replying. */
static gboolean selection_query(scd_route_ctx *c, scd_stream *st, JsonObject *o,
                                const char *question, scd_query **q, char **with) {
    const scd_encoder_cfg *enc = &scd_stream_cfg_of(st)->encoder;
    *q = NULL;
    JsonNode *qn = json_object_get_member(o, "query");
    if (qn && !JSON_NODE_HOLDS_OBJECT(qn)) {
        scd_http_error(c->msg, SOUP_STATUS_BAD_REQUEST, "invalid_ask",
                       "\"query\" must be an object: {\"text\"}, {\"embedding\"} or {\"image\"}");
        return FALSE;
    }
    if (qn) {
        scd_frame_size frame = scd_stream_frame_size(st);
        if (!scd_http_query_from_json(c->app, c->msg, json_node_get_object(qn), enc,
                                      SP_EXEMPLAR_ALL, &frame, q))
            return FALSE;
        *with = g_strdup_printf("query: %s", (*q)->describe);
        return TRUE;
    }
    if (enc->backend == SCD_ENCODER_CLIP) { /* the question itself, through the text tower */
        JsonObject *text = json_object_new();
        json_object_set_string_member(text, "text", question);
        gboolean ok = scd_http_query_from_json(c->app, c->msg, text, enc, SP_EXEMPLAR_ALL, NULL, q);
        json_object_unref(text);
        if (!ok)
            return FALSE;
        *with = g_strdup("question");
        return TRUE;
    }
    /* No text tower (the patch encoder): the stream's own query, if it has one. */
    scd_query *own = scd_stream_query(st);
    *q = own ? scd_query_ref(own) : NULL;
    *with = g_strdup(own ? "stream query" : "none (the encoder has no text tower)");
    return TRUE;
}

void scd_route_stream_ask(scd_route_ctx *c) {
    scd_stream *st = scd_route_stream_or_404(c);
    if (!st)
        return;
    const scd_config *cfg = scd_app_config(c->app);
    if (!cfg->mllm.url[0]) {
        scd_http_error(c->msg, SOUP_STATUS_CONFLICT, "mllm_not_configured",
                       "no MLLM to ask: set mllm.url (an OpenAI-compatible chat completions URL)");
        return;
    }
    JsonParser *parser = NULL;
    JsonObject *o = scd_http_json_body(c->msg, &parser);
    if (!o)
        return;
    guint64 budget = scd_ask_default_budget(scd_stream_cfg_of(st));
    guint64 since = 0, until = G_MAXUINT64;
    const char *question = NULL;
    scd_query *q = NULL;
    char *with = NULL;
    if (!read_ask(c, o, &question, &since, &until, &budget) ||
        !selection_query(c, st, o, question, &q, &with)) {
        g_object_unref(parser);
        return;
    }
    ask *a = g_new0(ask, 1);
    a->selected_with = with;
    a->cancel = g_cancellable_new();
    scd_ask_step failed = 0;
    sp_error err;
    sp_error_clear(&err);
    sp_status rc = scd_ask_prepare(st, &cfg->mllm, q, (guint)budget, since, until, question,
                                   &a->req, &failed, &err);
    scd_query_unref(q);
    g_object_unref(parser); /* question is not used below */
    if (rc != SP_OK) {
        if (failed == SCD_ASK_SELECT)
            scd_http_error_status(c->msg, rc, "reselect_failed", err.message);
        else if (failed == SCD_ASK_EMPTY)
            scd_http_error(c->msg, SOUP_STATUS_CONFLICT, "no_tokens", "%s", err.message);
        else
            scd_http_error(c->msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal", "%s",
                           err.message);
        ask_free(a);
        return;
    }
    a->msg = c->msg;
    g_object_add_weak_pointer(G_OBJECT(a->msg), (gpointer *)&a->msg);
    a->finished_handler = g_signal_connect(a->msg, "finished", G_CALLBACK(on_client_gone), a);
    soup_server_message_pause(c->msg);
    scd_mllm_chat(c->app->mllm, &cfg->mllm, a->req.body, a->cancel, on_answer, a);
}
