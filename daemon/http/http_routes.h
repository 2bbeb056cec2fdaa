/* The HTTP API's route handlers (one file per resource: http_routes_misc.c, _streams.c,
 * _jobs.c). The server (http_server.c) has resolved the route, checked authentication and the
 * body size; a handler sets the status and the body. Main thread. */
#ifndef SCRIPTD_HTTP_ROUTES_H
#define SCRIPTD_HTTP_ROUTES_H

#include <libsoup/soup.h>

#include "app.h"

typedef struct scd_route_ctx {
    scd_app *app;
    SoupServerMessage *msg;
    const char *method; /* "GET", "POST", ... ("HEAD" arrives as "GET") */
    const char *id;     /* the {id} segment, or NULL */
    GHashTable *query;  /* decoded query string, may be NULL */
} scd_route_ctx;

/* The stream {id} names, or NULL after replying 404 with the streams there are. */
struct scd_stream *scd_route_stream_or_404(scd_route_ctx *c);

void scd_route_healthz(scd_route_ctx *c);
void scd_route_metrics(scd_route_ctx *c);
void scd_route_streams(scd_route_ctx *c);
void scd_route_stream(scd_route_ctx *c);
void scd_route_stream_query(scd_route_ctx *c);
void scd_route_stream_tokens(scd_route_ctx *c);
void scd_route_stream_follow(scd_route_ctx *c);
void scd_route_stream_ask(scd_route_ctx *c);
void scd_route_jobs(scd_route_ctx *c);
void scd_route_job(scd_route_ctx *c);
void scd_route_job_tokens(scd_route_ctx *c);

#endif
