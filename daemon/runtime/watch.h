/* Standing questions of a live stream (streams[].watch, docs/mllm.md): every N-th packet the
 * stream emits, the question is asked of the MLLM over the latest N packets' time span: the
 * tokens are reselected with the question (its text through the encoder's text tower, encoded
 * once), built into a chat request and sent with the asynchronous MLLM client. The answer, or
 * the upstream's error or timeout, becomes an event record of the stream's follow clients that
 * asked for watch events (follow_event.h), a log line and counts in /metrics.
 *
 * At most one request per question is in flight: a question that falls due while its previous
 * one awaits the answer is skipped and counted. The streaming thread only notes the packet's
 * span and, when a question is due, posts it to the main thread: it never waits for the
 * encoder, the reselection or the MLLM.
 *
 * Threads: scd_watches_packet from the streaming thread; everything else from the main thread.
 * Reference-counted inside, so questions due or in flight outlive a stream that is removed. */
#ifndef SCRIPTD_WATCH_H
#define SCRIPTD_WATCH_H

#include <gst/script/script.h>

#include "app.h"

struct scd_stream;
typedef struct scd_watches scd_watches;

/* The standing questions of st (its config's watch list), or NULL when it has none. */
scd_watches *scd_watches_new(scd_app *app, struct scd_stream *st);
/* Main thread, when the stream starts: encodes every question now, so a model that cannot encode
 * text is reported when the stream starts rather than at the first due question. NULL when all
 * are ready (or w is NULL), else what went wrong (g_free it); the questions that failed are then
 * reported as local errors each time they fall due. */
char *scd_watches_prepare(scd_watches *w);
/* Streaming thread: a packet the stream emitted (window or frame packets). */
void scd_watches_packet(scd_watches *w, const GstScriptPacket *p);
/* A new pipeline run: counts and spans start over (its times may start over too). */
void scd_watches_new_run(scd_watches *w);
/* Cancels what is in flight, forgets what is due, and releases w (NULL is accepted). The
 * stream may be freed right after. */
void scd_watches_free(scd_watches *w);

#endif
