/* Queries sent over HTTP, turned into scd_query rows with the target's encoder settings:
 *   Content-Type: application/json   {"text": "..."}
 *                                    {"embedding": [[f, ...], ...]}  (or one row: [f, ...])
 *                                    {"embedding": {"base64": "...", "rows": M, "width": E}}
 *                                       (little-endian float32, row-major)
 *                                    {"image": "PATH"}  (a file under server.media_root)
 *   Content-Type: image/...           the body is an exemplar image (PNG, JPEG, ...)
 *   Content-Type: multipart/form-data  a part named "image" (or the first image part) is the
 *                                    exemplar; an optional "mode" field as below
 * Exemplars become rows by ?mode= (or the form's "mode"): pooled (default), mean or all.
 * Main thread. On failure these functions reply to the message themselves. */
#ifndef SCRIPTD_HTTP_QUERY_H
#define SCRIPTD_HTTP_QUERY_H

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "app.h"
#include "query.h"

/* The query in the request body. NULL after replying with an error. */
scd_query *scd_http_read_query(scd_app *app, SoupServerMessage *msg, GHashTable *params,
                               const scd_encoder_cfg *enc);

/* The query in a JSON object (the body above, or a job's "query" member). *out = NULL with TRUE
 * when o is NULL. FALSE after replying with an error. */
gboolean scd_http_query_from_json(scd_app *app, SoupServerMessage *msg, JsonObject *o,
                                  const scd_encoder_cfg *enc, sp_exemplar mode, scd_query **out);

#endif
