/* /v1/jobs, /v1/jobs/{id}, /v1/jobs/{id}/tokens. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "http/http_query.h"
#include "http/http_routes.h"
#include "http/http_util.h"
#include "http/job_json.h"
#include "http/tokens_reply.h"
#include "media/local_input.h"
#include "runtime/jobs.h"

static const char *const job_members[] = {"path", "fps", "budget", "query", "mode", NULL};

static scd_job *job_or_404(scd_route_ctx *c) {
    scd_job *job = scd_jobs_find(c->app->jobs, c->id);
    if (!job)
        scd_http_error(c->msg, SOUP_STATUS_NOT_FOUND, "not_found", "no job '%s'", c->id);
    return job;
}

static void reply_job(scd_route_ctx *c, scd_job *job, guint status) {
    JsonBuilder *b = json_builder_new();
    scd_job_to_json(job, b);
    scd_http_reply_json(c->msg, status, b);
    g_object_unref(b);
}

/* Members of the POST body, checked strictly (an unknown member is a typo to report). */
static gboolean read_request(scd_route_ctx *c, JsonObject *o, scd_job_request *req) {
    const scd_config *cfg = scd_app_config(c->app);
    GList *names = json_object_get_members(o);
    for (GList *it = names; it; it = it->next)
        if (!g_strv_contains(job_members, it->data)) {
            scd_http_error(c->msg, SOUP_STATUS_BAD_REQUEST, "invalid_job",
                           "unknown member '%s' (a job has: path, fps, budget, query, mode)",
                           (const char *)it->data);
            g_list_free(names);
            return FALSE;
        }
    g_list_free(names);
    const char *path = scd_json_string(o, "path");
    if (!path) {
        scd_http_error(c->msg, SOUP_STATUS_BAD_REQUEST, "invalid_job",
                       "\"path\" (a string: a file under the media root) is required");
        return FALSE;
    }
    double fps = 1.0;
    if (json_object_has_member(o, "fps") &&
        (!scd_json_number(o, "fps", &fps) || !isfinite(fps) || fps <= 0 || fps > 240)) {
        scd_http_error(c->msg, SOUP_STATUS_BAD_REQUEST, "invalid_job",
                       "\"fps\" must be a number in (0, 240]");
        return FALSE;
    }
    gint64 budget = cfg->pruning.window_budget;
    if (json_object_has_member(o, "budget") &&
        (!scd_json_int(o, "budget", &budget) || budget < 1 || budget > 1000000)) {
        scd_http_error(c->msg, SOUP_STATUS_BAD_REQUEST, "invalid_job",
                       "\"budget\" must be an integer in [1, 1000000]");
        return FALSE;
    }
    sp_exemplar mode = SP_EXEMPLAR_ALL;
    const char *mode_name = scd_json_string(o, "mode");
    if ((json_object_has_member(o, "mode") && !mode_name) ||
        (mode_name && !scd_exemplar_from_name(mode_name, &mode))) {
        scd_http_error(c->msg, SOUP_STATUS_BAD_REQUEST, "invalid_job",
                       "\"mode\" must be pooled, mean or all");
        return FALSE;
    }
    JsonNode *qn = json_object_get_member(o, "query");
    if (qn && !JSON_NODE_HOLDS_OBJECT(qn) && !JSON_NODE_HOLDS_NULL(qn)) {
        scd_http_error(c->msg, SOUP_STATUS_BAD_REQUEST, "invalid_job",
                       "\"query\" must be an object: {\"text\"}, {\"embedding\"} or {\"image\"}");
        return FALSE;
    }
    /* Opened here, once: the job reads this descriptor, whatever happens to the path later. */
    int fd = -1;
    char *why = NULL;
    scd_path_result pr = scd_media_open(cfg->server.media_root, path, &fd, &why);
    if (pr != SCD_PATH_OK) {
        scd_http_path_refused(c->msg, pr, why, "invalid_job");
        g_free(why);
        return FALSE;
    }
    /* What the job would find out first is said now: a playlist, a refused format or a file
     * that is no video is refused here, not accepted and failed later. */
    sp_error ferr;
    int fw = 0, fh = 0;
    sp_status fst = scd_local_input_check(fd, path, &fw, &fh, &ferr);
    if (fst != SP_OK) {
        close(fd);
        if (fst == SP_ERR_FORMAT)
            scd_http_error(c->msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE, "unsupported_media", "%s",
                           ferr.message);
        else
            scd_http_error(c->msg, SOUP_STATUS_UNPROCESSABLE_ENTITY, "unreadable_media", "%s",
                           ferr.message);
        return FALSE;
    }
    /* The job's frames have the file's size: an exemplar is encoded at its scale there. */
    scd_frame_size frame = {(unsigned)fw, (unsigned)fh};
    scd_query *q = NULL;
    if (qn && JSON_NODE_HOLDS_OBJECT(qn) &&
        !scd_http_query_from_json(c->app, c->msg, json_node_get_object(qn), &cfg->encoder, mode,
                                  &frame, &q)) {
        close(fd);
        return FALSE;
    }
    req->fd = fd;
    req->path_shown = g_strdup(path);
    req->fps = fps;
    req->budget = (guint)budget;
    req->query = q;
    return TRUE;
}

void scd_route_jobs(scd_route_ctx *c) {
    if (strcmp(c->method, "GET") == 0) {
        JsonBuilder *b = json_builder_new();
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "jobs");
        json_builder_begin_array(b);
        scd_jobs_each_json(c->app->jobs, b);
        json_builder_end_array(b);
        json_builder_end_object(b);
        scd_http_reply_json(c->msg, SOUP_STATUS_OK, b);
        g_object_unref(b);
        return;
    }
    if (c->app->stopping) {
        scd_http_error(c->msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "unavailable",
                       "scriptd is shutting down");
        return;
    }
    JsonParser *parser = NULL;
    JsonObject *o = scd_http_json_body(c->msg, &parser);
    if (!o)
        return;
    scd_job_request req = {.fd = -1};
    gboolean ok = read_request(c, o, &req);
    g_object_unref(parser);
    if (!ok)
        return;
    const char *id = NULL;
    sp_error err;
    if (scd_jobs_submit(c->app->jobs, &req, &id, &err) != SP_OK) {
        scd_http_error(c->msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "unavailable", "%s", err.message);
        return;
    }
    char *url = g_strdup_printf("/v1/jobs/%s", id);
    soup_message_headers_replace(soup_server_message_get_response_headers(c->msg), "Location", url);
    g_free(url);
    reply_job(c, scd_jobs_find(c->app->jobs, id), SOUP_STATUS_ACCEPTED);
}

void scd_route_job(scd_route_ctx *c) {
    scd_job *job = job_or_404(c);
    if (!job)
        return;
    if (strcmp(c->method, "DELETE") == 0) {
        JsonBuilder *b = json_builder_new();
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "id");
        json_builder_add_string_value(b, scd_job_id(job));
        json_builder_set_member_name(b, "state");
        scd_job_state s = scd_jobs_cancel(c->app->jobs, job);
        json_builder_add_string_value(b, scd_job_state_name(s));
        json_builder_set_member_name(b, "removed");
        json_builder_add_boolean_value(b, TRUE);
        json_builder_end_object(b);
        scd_jobs_remove(c->app->jobs, job);
        scd_http_reply_json(c->msg, SOUP_STATUS_OK, b);
        g_object_unref(b);
        return;
    }
    reply_job(c, job, SOUP_STATUS_OK);
}

void scd_route_job_tokens(scd_route_ctx *c) {
    scd_job *job = job_or_404(c);
    if (!job)
        return;
    GBytes *tokens = scd_job_tokens(job);
    if (!tokens) {
        scd_http_error(c->msg, SOUP_STATUS_CONFLICT, "not_ready",
                       "job '%s' is %s: tokens exist once it is done", scd_job_id(job),
                       scd_job_state_name(scd_job_state_of(job)));
        return;
    }
    char *name = g_strdup_printf("%s.safetensors", scd_job_id(job));
    const scd_config *cfg = scd_app_config(c->app);
    scd_http_reply_tokens(c->msg, c->query, tokens, name, (guint)cfg->pruning.hop, &cfg->mllm);
    g_free(name);
}
