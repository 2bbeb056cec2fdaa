/* Standing questions (watch.h). */
#include "runtime/watch.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "runtime/ask_flow.h"
#include "runtime/follow.h"
#include "runtime/mllm_client.h"
#include "runtime/streams.h"
#include "telemetry/log.h"

/* One packet of the stream, as a question's span needs it. */
typedef struct seen_packet {
    guint64 window_id;
    GstClockTime pts_first, pts_last;
} seen_packet;

typedef struct watch {
    guint index;
    char label[16]; /* the metric label: the index in streams[].watch */
    char *question;
    guint every, budget;
    /* Streaming side (owner's lock). */
    seen_packet *ring; /* the last `every` packets */
    guint64 packets;   /* of the current run */
    /* Main thread. */
    scd_query *query; /* the question through the text tower, encoded on first use */
    gboolean in_flight;
    gboolean query_error_logged;
} watch;

/* The standing questions of one stream. */
typedef struct scd_watches scd_watches;
struct scd_watches {
    scd_app *app;
    struct scd_stream *st; /* NULL once freed by its stream */
    char *stream_id;
    scd_follow *follow; /* a reference, or NULL when the stream has no follow sink */
    GCancellable *cancel;
    GMutex lock;
    watch *items;
    guint n;
};

/* A question fell due: posted from the streaming thread. */
typedef struct due {
    scd_watches *w;
    guint index;
    seen_packet first, last;
} due;

/* A question awaiting its answer. */
typedef struct asked {
    scd_watches *w;
    guint index;
    seen_packet first, last;
    scd_ask_request req;
} asked;

static void watches_clear(gpointer data) {
    scd_watches *w = data;
    for (guint i = 0; i < w->n; i++) {
        g_free(w->items[i].question);
        g_free(w->items[i].ring);
        scd_query_unref(w->items[i].query);
    }
    g_free(w->items);
    scd_follow_unref(w->follow);
    g_object_unref(w->cancel);
    g_mutex_clear(&w->lock);
    g_free(w->stream_id);
}

static scd_watches *watches_ref(scd_watches *w) {
    return g_atomic_rc_box_acquire(w);
}

static void watches_unref(scd_watches *w) {
    g_atomic_rc_box_release_full(w, watches_clear);
}

/* The standing questions of st (its config's watch list), or NULL when it has none. */
static scd_watches *watches_new(scd_app *app, struct scd_stream *st) {
    const scd_stream_cfg *c = scd_stream_cfg_of(st);
    if (c->n_watch == 0)
        return NULL;
    scd_watches *w = g_atomic_rc_box_new0(scd_watches);
    w->app = app;
    w->st = st;
    w->stream_id = g_strdup(c->id);
    scd_follow *f = scd_stream_follow(st);
    w->follow = f ? scd_follow_ref(f) : NULL;
    w->cancel = g_cancellable_new();
    g_mutex_init(&w->lock);
    w->n = (guint)c->n_watch;
    w->items = g_new0(watch, w->n);
    guint stream_budget = scd_ask_default_budget(c);
    for (guint i = 0; i < w->n; i++) {
        watch *x = &w->items[i];
        const scd_watch_cfg *wc = &c->watch[i];
        x->index = i;
        g_snprintf(x->label, sizeof x->label, "%u", i);
        x->question = g_strdup(wc->question);
        x->every = (guint)wc->every_windows;
        x->budget = wc->budget > 0 ? (guint)wc->budget : stream_budget;
        x->ring = g_new0(seen_packet, x->every);
        /* The counters exist (at 0) from the start, so a scrape shows every question. */
        const char *l[] = {w->stream_id, x->label};
        scd_metric_counter_add(app->m->watch_asked, l, 0);
        scd_metric_counter_add(app->m->watch_answered, l, 0);
        scd_metric_counter_add(app->m->watch_skipped, l, 0);
    }
    return w;
}

/* Cancels what is in flight, forgets what is due, and releases w (NULL is accepted). The stream may
 * be freed right after. */
static void watches_free(scd_watches *w) {
    if (!w)
        return;
    w->st = NULL;
    g_cancellable_cancel(w->cancel); /* answers in flight come back CANCELLED, and are dropped */
    watches_unref(w);
}

/* A new pipeline run: counts and spans start over (its times may start over too). */
static void watches_new_run(scd_watches *w) {
    if (!w)
        return;
    g_mutex_lock(&w->lock);
    for (guint i = 0; i < w->n; i++)
        w->items[i].packets = 0;
    g_mutex_unlock(&w->lock);
}

/* ---- the answer (main thread) --------------------------------------------------------------- */

static const char *failure_reason(scd_mllm_outcome o) {
    switch (o) {
        case SCD_MLLM_UPSTREAM:
        case SCD_MLLM_UNREACHABLE:
            return "upstream_error";
        case SCD_MLLM_TIMEOUT:
            return "upstream_timeout";
        default:
            return "local";
    }
}

static void member_seconds(JsonBuilder *b, const char *name, gint64 ns) {
    json_builder_set_member_name(b, name);
    json_builder_add_double_value(b, (double)ns / 1e9);
}

static void member_ms(JsonBuilder *b, const char *name, double ms) {
    json_builder_set_member_name(b, name);
    json_builder_add_double_value(b, round(ms * 10) / 10);
}

static void member_string(JsonBuilder *b, const char *name, const char *value) {
    json_builder_set_member_name(b, name);
    if (value)
        json_builder_add_string_value(b, value);
    else
        json_builder_add_null_value(b);
}

/* The windows the question was asked over and the windows the tokens came from. */
static void add_span(JsonBuilder *b, const seen_packet *first, const seen_packet *last,
                     const scd_ask_request *req) {
    json_builder_set_member_name(b, "window_first");
    json_builder_add_int_value(b, (gint64)first->window_id);
    json_builder_set_member_name(b, "window_last");
    json_builder_add_int_value(b, (gint64)last->window_id);
    member_seconds(b, "pts_first", (gint64)first->pts_first);
    member_seconds(b, "pts_last", (gint64)last->pts_last);
    json_builder_set_member_name(b, "tokens");
    json_builder_add_int_value(b, req ? req->tokens : 0);
    json_builder_set_member_name(b, "windows");
    json_builder_begin_array(b);
    for (guint i = 0; req && req->summary.windows && i < req->summary.windows->len; i++) {
        const scd_chat_window *cw = &g_array_index(req->summary.windows, scd_chat_window, i);
        json_builder_begin_object(b);
        member_seconds(b, "pts_first", cw->pts_first);
        member_seconds(b, "pts_last", cw->pts_last);
        json_builder_set_member_name(b, "tokens");
        json_builder_add_int_value(b, cw->tokens);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

/* The event record's JSON: the question, its span, and the answer or what went wrong. */
static char *event_json(scd_watches *w, const watch *x, const seen_packet *first,
                        const seen_packet *last, const scd_ask_request *req,
                        const scd_mllm_result *r, const char *reason, const char *message,
                        gsize *len) {
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    member_string(b, "event", "watch");
    member_string(b, "stream", w->stream_id);
    json_builder_set_member_name(b, "watch");
    json_builder_add_int_value(b, x->index);
    member_string(b, "question", x->question);
    add_span(b, first, last, req);
    member_string(b, "outcome", reason ? "error" : "answer");
    if (!reason) {
        member_string(b, "answer", r->answer);
        member_string(b, "model", r->model);
    } else {
        json_builder_set_member_name(b, "error");
        json_builder_begin_object(b);
        member_string(b, "code", reason);
        json_builder_set_member_name(b, "status");
        json_builder_add_int_value(b, r ? r->upstream_status : 0);
        member_string(b, "message", message);
        json_builder_end_object(b);
    }
    json_builder_set_member_name(b, "latency_ms");
    json_builder_begin_object(b);
    member_ms(b, "select", req ? req->select_ms : 0);
    member_ms(b, "build", req ? req->build_ms : 0);
    member_ms(b, "mllm", r ? r->elapsed_ms : 0);
    json_builder_end_object(b);
    json_builder_end_object(b);
    JsonGenerator *g = json_generator_new();
    JsonNode *root = json_builder_get_root(b);
    json_generator_set_root(g, root);
    char *text = json_generator_to_data(g, len);
    json_node_unref(root);
    g_object_unref(g);
    g_object_unref(b);
    return text;
}

/* Tells the follow clients, the log and the metrics how a question ended. reason NULL: r holds
 * an answer. */
static void report(scd_watches *w, watch *x, const seen_packet *first, const seen_packet *last,
                   const scd_ask_request *req, const scd_mllm_result *r, const char *reason,
                   const char *message) {
    const char *l[] = {w->stream_id, x->label};
    if (reason) {
        const char *lr[] = {w->stream_id, x->label, reason};
        scd_metric_counter_add(w->app->m->watch_failed, lr, 1);
        scd_log(SCD_LOG_WARNING, "watch",
                "%s: question %u (windows %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
                ", %.3f-%.3f s): %s: %s",
                w->stream_id, x->index, first->window_id, last->window_id,
                (double)first->pts_first / 1e9, (double)last->pts_last / 1e9, reason, message);
    } else {
        scd_metric_counter_add(w->app->m->watch_answered, l, 1);
        scd_log(SCD_LOG_INFO, "watch",
                "%s: question %u (windows %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
                ", %.3f-%.3f s, %u tokens, %.0f ms): %s",
                w->stream_id, x->index, first->window_id, last->window_id,
                (double)first->pts_first / 1e9, (double)last->pts_last / 1e9, req->tokens,
                r->elapsed_ms, r->answer);
    }
    if (!w->follow)
        return;
    gsize len = 0;
    char *json = event_json(w, x, first, last, req, r, reason, message, &len);
    GBytes *record = NULL;
    sp_error err;
    if (scd_follow_event_encode(SCD_FOLLOW_EVENT_WATCH, json, len, &record, &err) == SP_OK) {
        scd_follow_event(w->follow, SCD_FOLLOW_EVENT_WATCH, record);
        g_bytes_unref(record);
    } else {
        scd_log(SCD_LOG_WARNING, "watch", "%s: question %u: event not sent: %s", w->stream_id,
                x->index, err.message);
    }
    g_free(json);
}

static void on_answer(void *user, const scd_mllm_result *r) {
    asked *a = user;
    scd_watches *w = a->w;
    watch *x = &w->items[a->index];
    x->in_flight = FALSE;
    if (w->st && r->outcome != SCD_MLLM_CANCELLED) {
        char *message = NULL;
        const char *reason = NULL;
        if (r->outcome == SCD_MLLM_UPSTREAM)
            message = g_strdup_printf("the MLLM answered %u: %s", r->upstream_status,
                                      r->message ? r->message : "");
        else if (r->outcome == SCD_MLLM_UNREACHABLE)
            message =
                g_strdup_printf("the MLLM could not be reached: %s", r->message ? r->message : "");
        else if (r->outcome == SCD_MLLM_TIMEOUT)
            message = g_strdup_printf("the MLLM did not answer within mllm.timeout_s (%.3g s)",
                                      r->elapsed_ms / 1000.0);
        else if (r->outcome != SCD_MLLM_OK)
            message = g_strdup(r->message ? r->message : "the request failed");
        if (r->outcome != SCD_MLLM_OK)
            reason = failure_reason(r->outcome);
        report(w, x, &a->first, &a->last, &a->req, r, reason, message);
        g_free(message);
    }
    scd_ask_request_clear(&a->req);
    watches_unref(w);
    g_free(a);
}

/* ---- a question falls due (main thread) ----------------------------------------------------- */

/* The question through the text tower, encoded once and kept; a failure is logged at error level
 * the first time only (a later due question reports it as a local error event instead). */
static sp_status encode_question(scd_watches *w, watch *x, sp_error *err) {
    if (x->query)
        return SP_OK;
    sp_error_clear(err);
    const scd_encoder_cfg *enc = &scd_stream_cfg_of(w->st)->encoder;
    sp_status st = scd_query_from_text(w->app->encoders, enc, x->question, &x->query, err);
    if (st != SP_OK && !x->query_error_logged) {
        scd_log(SCD_LOG_ERROR, "watch",
                "%s: question %u cannot be encoded: %s (it is reported as a local error each "
                "time it falls due)",
                w->stream_id, x->index, err->message);
        x->query_error_logged = TRUE;
    }
    return st;
}

/* The question's query when it falls due; NULL after reporting why not. */
static scd_query *question_query(scd_watches *w, watch *x, const seen_packet *first,
                                 const seen_packet *last) {
    sp_error err;
    if (encode_question(w, x, &err) == SP_OK)
        return x->query;
    char *message = g_strdup_printf("the question cannot be encoded: %s", err.message);
    report(w, x, first, last, NULL, NULL, "local", message);
    g_free(message);
    return NULL;
}

/* Encodes every question now. NULL when all are ready (or w is NULL), else what went wrong (g_free
 * it). */
static char *watches_prepare(scd_watches *w) {
    if (!w)
        return NULL;
    GString *problems = NULL;
    for (guint i = 0; i < w->n; i++) {
        sp_error err;
        if (encode_question(w, &w->items[i], &err) == SP_OK)
            continue;
        if (!problems)
            problems = g_string_new(NULL);
        else
            g_string_append(problems, "; ");
        g_string_append_printf(problems, "watch[%u]: %s", i, err.message);
    }
    return problems ? g_string_free(problems, FALSE) : NULL;
}

static void ask_now(scd_watches *w, watch *x, const seen_packet *first, const seen_packet *last) {
    const char *l[] = {w->stream_id, x->label};
    if (x->in_flight) {
        scd_metric_counter_add(w->app->m->watch_skipped, l, 1);
        scd_log(SCD_LOG_DEBUG, "watch",
                "%s: question %u skipped at window %" G_GUINT64_FORMAT
                ": the previous one awaits its answer",
                w->stream_id, x->index, last->window_id);
        return;
    }
    scd_query *q = question_query(w, x, first, last);
    if (!q)
        return;
    const scd_config *cfg = scd_app_config(w->app);
    asked *a = g_new0(asked, 1);
    a->index = x->index;
    a->first = *first;
    a->last = *last;
    scd_ask_step failed = 0;
    sp_error err;
    sp_error_clear(&err);
    if (scd_ask_prepare(w->st, &cfg->mllm, q, x->budget, first->pts_first, last->pts_last,
                        x->question, &a->req, &failed, &err) != SP_OK) {
        report(w, x, first, last, NULL, NULL, "local", err.message);
        g_free(a);
        return;
    }
    a->w = watches_ref(w);
    x->in_flight = TRUE;
    scd_metric_counter_add(w->app->m->watch_asked, l, 1);
    scd_mllm_chat(w->app->mllm, &cfg->mllm, a->req.body, w->cancel, on_answer, a);
}

static gboolean on_due(gpointer data) {
    due *d = data;
    scd_watches *w = d->w;
    if (w->st) /* else the stream is gone */
        ask_now(w, &w->items[d->index], &d->first, &d->last);
    return G_SOURCE_REMOVE;
}

static void due_free(gpointer data) {
    due *d = data;
    watches_unref(d->w);
    g_free(d);
}

/* ---- the streaming thread ------------------------------------------------------------------- */

/* A packet the stream emitted (window or frame packets). */
static void watches_packet(scd_watches *w, const GstScriptPacket *p) {
    if (!w || p->kind == GST_SCRIPT_PACKET_KIND_RESELECT)
        return;
    seen_packet now = {p->window_id, p->pts_first, p->pts_last};
    g_mutex_lock(&w->lock);
    for (guint i = 0; i < w->n; i++) {
        watch *x = &w->items[i];
        x->ring[x->packets % x->every] = now;
        x->packets++;
        if (x->packets % x->every != 0)
            continue;
        due *d = g_new0(due, 1);
        d->w = watches_ref(w);
        d->index = i;
        d->first = x->ring[x->packets % x->every]; /* the oldest of the last `every` */
        d->last = now;
        /* An idle source runs in the thread of the main loop; the stream goes on at once. */
        g_idle_add_full(G_PRIORITY_DEFAULT, on_due, d, due_free);
    }
    g_mutex_unlock(&w->lock);
}

/* ---- the stream observer (streams.h) -------------------------------------------------------- */

static void *observer_attach(void *user, scd_stream *st, char **problem) {
    scd_watches *w = watches_new(user, st);
    char *problems = watches_prepare(w);
    if (problems)
        *problem = g_strdup_printf("standing questions: %s", problems);
    g_free(problems);
    return w;
}

static void observer_packet(void *state, const GstScriptPacket *p) {
    watches_packet(state, p);
}

static void observer_new_run(void *state) {
    watches_new_run(state);
}

static void observer_detach(void *state) {
    watches_free(state); /* questions in flight are cancelled */
}

void scd_watches_observer(scd_app *app, scd_stream_observer *out) {
    *out = (scd_stream_observer){.attach = observer_attach,
                                 .packet = observer_packet,
                                 .new_run = observer_new_run,
                                 .detach = observer_detach,
                                 .user = app};
}
