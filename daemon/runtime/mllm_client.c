/* The MLLM client (mllm_client.h), on libsoup's client session. */
#include "runtime/mllm_client.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

struct scd_mllm {
    SoupSession *session;
    GCancellable *all; /* cancelled by scd_mllm_free */
};

typedef struct call {
    scd_mllm_done_fn done;
    void *user;
    GCancellable *cancel; /* ours: cancelled by the deadline, the caller's or the client's */
    GCancellable *caller; /* the caller's, or NULL */
    gulong caller_handler, all_handler;
    GCancellable *all;
    SoupMessage *msg;
    guint deadline;
    gboolean timed_out;
    gint64 started_us;
} call;

scd_mllm *scd_mllm_new(void) {
    scd_mllm *m = g_new0(scd_mllm, 1);
    /* Chat completions can be long: the deadline is ours (per request), not the session's. */
    m->session = soup_session_new_with_options("timeout", 0, "idle-timeout", 60, "user-agent",
                                               "scriptd/" SCRIPTD_VERSION, NULL);
    m->all = g_cancellable_new();
    return m;
}

void scd_mllm_free(scd_mllm *m) {
    if (!m)
        return;
    g_cancellable_cancel(m->all);
    g_object_unref(m->all);
    g_object_unref(m->session);
    g_free(m);
}

static void finish(call *c, scd_mllm_result *r) {
    r->elapsed_ms = (double)(g_get_monotonic_time() - c->started_us) / 1000.0;
    if (c->deadline)
        g_source_remove(c->deadline);
    if (c->caller)
        g_cancellable_disconnect(c->caller, c->caller_handler);
    g_cancellable_disconnect(c->all, c->all_handler);
    c->done(c->user, r);
    if (c->caller)
        g_object_unref(c->caller);
    g_object_unref(c->all);
    g_object_unref(c->cancel);
    if (c->msg)
        g_object_unref(c->msg);
    g_free(c);
}

static gboolean on_deadline(gpointer data) {
    call *c = data;
    c->deadline = 0;
    c->timed_out = TRUE;
    g_cancellable_cancel(c->cancel);
    return G_SOURCE_REMOVE;
}

static void on_cancelled(GCancellable *from, gpointer data) {
    (void)from;
    g_cancellable_cancel(data);
}

/* choices[0].message.content and model of a chat completion; FALSE when it is not one. */
static gboolean parse_completion(GBytes *bytes, char **answer, char **model, char **why) {
    JsonParser *p = json_parser_new();
    gsize len = 0;
    const char *data = g_bytes_get_data(bytes, &len);
    GError *gerr = NULL;
    gboolean ok = json_parser_load_from_data(p, data, (gssize)len, &gerr);
    JsonNode *root = ok ? json_parser_get_root(p) : NULL;
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        *why = g_strdup_printf("the reply is not a JSON object%s%s", gerr ? ": " : "",
                               gerr ? gerr->message : "");
        g_clear_error(&gerr);
        g_object_unref(p);
        return FALSE;
    }
    JsonObject *o = json_node_get_object(root);
    JsonArray *choices = json_object_has_member(o, "choices") &&
                                 JSON_NODE_HOLDS_ARRAY(json_object_get_member(o, "choices"))
                             ? json_object_get_array_member(o, "choices")
                             : NULL;
    JsonNode *first =
        choices && json_array_get_length(choices) > 0 ? json_array_get_element(choices, 0) : NULL;
    JsonObject *message =
        first && JSON_NODE_HOLDS_OBJECT(first) &&
                json_object_has_member(json_node_get_object(first), "message") &&
                JSON_NODE_HOLDS_OBJECT(
                    json_object_get_member(json_node_get_object(first), "message"))
            ? json_object_get_object_member(json_node_get_object(first), "message")
            : NULL;
    JsonNode *content = message && json_object_has_member(message, "content")
                            ? json_object_get_member(message, "content")
                            : NULL;
    if (!content || json_node_get_value_type(content) != G_TYPE_STRING) {
        *why = g_strdup("the reply has no choices[0].message.content string");
        g_object_unref(p);
        return FALSE;
    }
    *answer = g_strdup(json_node_get_string(content));
    JsonNode *mn = json_object_has_member(o, "model") ? json_object_get_member(o, "model") : NULL;
    *model = mn && json_node_get_value_type(mn) == G_TYPE_STRING
                 ? g_strdup(json_node_get_string(mn))
                 : NULL;
    g_object_unref(p);
    return TRUE;
}

/* The server's own words from an error body: error.message, message or the text's start. */
static char *upstream_words(GBytes *bytes) {
    gsize len = 0;
    const char *data = bytes ? g_bytes_get_data(bytes, &len) : NULL;
    if (!data || len == 0)
        return g_strdup("(empty body)");
    JsonParser *p = json_parser_new();
    char *out = NULL;
    if (json_parser_load_from_data(p, data, (gssize)len, NULL) &&
        JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p))) {
        JsonObject *o = json_node_get_object(json_parser_get_root(p));
        JsonNode *e =
            json_object_has_member(o, "error") ? json_object_get_member(o, "error") : NULL;
        JsonObject *eo = e && JSON_NODE_HOLDS_OBJECT(e) ? json_node_get_object(e) : o;
        JsonNode *mn =
            json_object_has_member(eo, "message") ? json_object_get_member(eo, "message") : NULL;
        if (mn && json_node_get_value_type(mn) == G_TYPE_STRING)
            out = g_strdup(json_node_get_string(mn));
        else if (e && json_node_get_value_type(e) == G_TYPE_STRING)
            out = g_strdup(json_node_get_string(e));
    }
    g_object_unref(p);
    if (!out)
        out = g_utf8_make_valid(data, (gssize)MIN(len, (gsize)300));
    return out;
}

static void on_sent(GObject *source, GAsyncResult *res, gpointer data) {
    call *c = data;
    GError *gerr = NULL;
    GBytes *bytes = soup_session_send_and_read_finish(SOUP_SESSION(source), res, &gerr);
    scd_mllm_result r = {0};
    char *msg = NULL, *answer = NULL, *model = NULL;
    if (!bytes) {
        if (c->timed_out) {
            r.outcome = SCD_MLLM_TIMEOUT;
        } else if (g_error_matches(gerr, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
            r.outcome = SCD_MLLM_CANCELLED;
        } else {
            r.outcome = SCD_MLLM_UNREACHABLE;
            msg = g_strdup(gerr ? gerr->message : "no connection");
        }
        g_clear_error(&gerr);
    } else {
        r.upstream_status = soup_message_get_status(c->msg);
        if (!SOUP_STATUS_IS_SUCCESSFUL(r.upstream_status)) {
            r.outcome = SCD_MLLM_UPSTREAM;
            msg = upstream_words(bytes);
        } else if (!parse_completion(bytes, &answer, &model, &msg)) {
            r.outcome = SCD_MLLM_UPSTREAM;
        } else {
            r.outcome = SCD_MLLM_OK;
        }
        g_bytes_unref(bytes);
    }
    r.message = msg;
    r.answer = answer;
    r.model = model;
    finish(c, &r);
    g_free(msg);
    g_free(answer);
    g_free(model);
}

/* Fails a call from the main loop (done is never called from within scd_mllm_chat). */
typedef struct failed {
    call *c;
    scd_mllm_outcome outcome;
    char *message;
} failed;

static gboolean on_failed(gpointer data) {
    failed *f = data;
    scd_mllm_result r = {.outcome = f->outcome, .message = f->message};
    finish(f->c, &r);
    g_free(f->message);
    g_free(f);
    return G_SOURCE_REMOVE;
}

void scd_mllm_chat(scd_mllm *m, const scd_mllm_cfg *cfg, GBytes *body, GCancellable *cancel,
                   scd_mllm_done_fn done, void *user) {
    call *c = g_new0(call, 1);
    c->done = done;
    c->user = user;
    c->started_us = g_get_monotonic_time();
    c->cancel = g_cancellable_new();
    c->all = g_object_ref(m->all);
    c->all_handler = g_cancellable_connect(m->all, G_CALLBACK(on_cancelled), c->cancel, NULL);
    if (cancel) {
        c->caller = g_object_ref(cancel);
        c->caller_handler =
            g_cancellable_connect(cancel, G_CALLBACK(on_cancelled), c->cancel, NULL);
    }
    char *token = NULL;
    if (cfg->token_file && cfg->token_file[0]) {
        GError *gerr = NULL;
        if (!g_file_get_contents(cfg->token_file, &token, NULL, &gerr)) {
            failed *f = g_new0(failed, 1);
            *f = (failed){c, SCD_MLLM_LOCAL, g_strdup_printf("mllm.token_file: %s", gerr->message)};
            g_error_free(gerr);
            g_idle_add(on_failed, f);
            return;
        }
        g_strstrip(token);
    }
    c->msg = soup_message_new("POST", cfg->url);
    if (!c->msg) { /* checked by the config reader: only a changed file gets here */
        failed *f = g_new0(failed, 1);
        *f = (failed){c, SCD_MLLM_LOCAL, g_strdup_printf("mllm.url '%s' is not a URL", cfg->url)};
        g_free(token);
        g_idle_add(on_failed, f);
        return;
    }
    soup_message_set_request_body_from_bytes(c->msg, "application/json", body);
    SoupMessageHeaders *h = soup_message_get_request_headers(c->msg);
    soup_message_headers_replace(h, "Accept", "application/json");
    if (token) {
        char *auth = g_strdup_printf("Bearer %s", token);
        soup_message_headers_replace(h, "Authorization", auth);
        g_free(auth);
        g_free(token);
    }
    c->deadline = g_timeout_add((guint)(cfg->timeout_s * 1000), on_deadline, c);
    soup_session_send_and_read_async(m->session, c->msg, G_PRIORITY_DEFAULT, c->cancel, on_sent, c);
}
