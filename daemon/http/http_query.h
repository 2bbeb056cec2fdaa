/* Queries sent over HTTP, turned into scd_query rows with the target's encoder settings:
 *   Content-Type: application/json   {"text": "..."}
 *                                    {"embedding": [[f, ...], ...]}  (or one row: [f, ...])
 *                                    {"embedding": {"base64": "...", "rows": M, "width": E}}
 *                                       (little-endian float32, row-major)
 *                                    {"image": "PATH"}  (a file under server.media_root)
 *   Content-Type: image/...           the body is an exemplar image
 * Exemplar images are PNG or JPEG, told by their first bytes (anything else: 415
 * unsupported_image) and decoded by an image decoder only (image_decode.h).
 *   Content-Type: multipart/form-data  a part named "image" (or the first image part) is the
 *                                    exemplar; an optional "mode" field as below
 * Exemplars become rows by ?mode= (or the form's "mode"): pooled, mean or all (default), at the
 * scale they have in frames of *frame (fitted to the encoder's input when frame is NULL or
 * 0 x 0: runtime/query.h).
 * Main thread. On failure these functions reply to the message themselves. */
#ifndef SCRIPTD_HTTP_QUERY_H
#define SCRIPTD_HTTP_QUERY_H

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "app.h"
#include "media/media_path.h"
#include "runtime/query.h"

/* The query in the request body. NULL after replying with an error. */
scd_query *scd_http_read_query(scd_app *app, SoupServerMessage *msg, GHashTable *params,
                               const scd_encoder_cfg *enc, const scd_frame_size *frame);

/* The query in a JSON object (the body above, or a job's "query" member). *out = NULL with TRUE
 * when o is NULL. FALSE after replying with an error. */
gboolean scd_http_query_from_json(scd_app *app, SoupServerMessage *msg, JsonObject *o,
                                  const scd_encoder_cfg *enc, sp_exemplar mode,
                                  const scd_frame_size *frame, scd_query **out);

/* Replies to a path scd_media_open refused (why: its message): 404 not_found when missing under
 * the root, 400 invalid_code when malformed or not a regular file, 403 forbidden otherwise (the
 * same status and message for every path outside the root, existing or not). */
void scd_http_path_refused(SoupServerMessage *msg, scd_path_result pr, const char *why,
                           const char *invalid_code);

#endif
