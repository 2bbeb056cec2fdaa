/* GET /healthz and GET /metrics. */
#include "http/http_routes.h"
#include "http/http_util.h"
#include "runtime/jobs.h"
#include "runtime/streams.h"

void scd_route_healthz(scd_route_ctx *c) {
    scd_app *app = c->app;
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "status");
    json_builder_add_string_value(b, app->stopping     ? "stopping"
                                     : app->ready_sent ? "ok"
                                                       : "starting");
    json_builder_set_member_name(b, "version");
    json_builder_add_string_value(b, SCRIPTD_VERSION);
    json_builder_set_member_name(b, "uptime_seconds");
    json_builder_add_double_value(b, (double)(g_get_monotonic_time() - app->started_us) / 1e6);
    json_builder_set_member_name(b, "streams");
    json_builder_begin_object(b);
    for (int s = SCD_STREAM_STARTING; s <= SCD_STREAM_FAILED; s++) {
        guint n = 0;
        for (guint i = 0; i < scd_streams_count(app->streams); i++) {
            scd_stream_summary sm;
            scd_stream_get_summary(scd_streams_at(app->streams, i), &sm);
            n += sm.state == (scd_stream_state)s;
        }
        json_builder_set_member_name(b, scd_stream_state_name((scd_stream_state)s));
        json_builder_add_int_value(b, n);
    }
    json_builder_end_object(b);
    json_builder_end_object(b);
    /* 503 while stopping, so that a load balancer stops sending work. */
    scd_http_reply_json(c->msg, app->stopping ? SOUP_STATUS_SERVICE_UNAVAILABLE : SOUP_STATUS_OK,
                        b);
    g_object_unref(b);
}

void scd_route_metrics(scd_route_ctx *c) {
    scd_streams_refresh_metrics(c->app->streams);
    scd_jobs_refresh_metrics(c->app->jobs);
    GString *out = g_string_new(NULL);
    scd_metrics_render(c->app->m->reg, out);
    soup_server_message_set_status(c->msg, SOUP_STATUS_OK, NULL);
    gsize len = out->len;
    soup_server_message_set_response(c->msg, SCD_METRICS_CONTENT_TYPE, SOUP_MEMORY_TAKE,
                                     g_string_free(out, FALSE), len);
}
