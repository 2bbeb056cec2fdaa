#include "process/status.h"

#include "http/http.h"
#include "runtime/jobs.h"
#include "runtime/streams.h"

char *scd_app_status_text(scd_app *app) {
    char *streams = scd_streams_status(app->streams);
    GString *g = g_string_new(streams);
    g_free(streams);
    if (!scd_jobs_idle(app->jobs))
        g_string_append(g, "; jobs running");
    const char *addr = app->http ? scd_http_tcp_address(app->http) : "";
    if (addr[0])
        g_string_append_printf(g, "; API on %s", addr);
    const char *sock = scd_app_config(app)->server.unix_socket;
    if (sock[0])
        g_string_append_printf(g, "%s%s", addr[0] ? " and " : "; API on ", sock);
    return g_string_free(g, FALSE);
}
