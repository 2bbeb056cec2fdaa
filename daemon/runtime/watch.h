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
 * The streams runtime knows the questions only as its stream observer (streams.h): the process
 * registers scd_watches_observer with scd_streams_set_observer, and every stream with a watch list
 * gets its questions when it is created. They are encoded then, so a model that cannot encode
 * text is reported when the stream starts (in its last_error) rather than at the first due
 * question; a question that failed is then reported as a local error each time it falls due.
 *
 * Threads: the packet hook runs on the streaming thread; everything else on the main thread.
 * Reference-counted inside, so questions due or in flight outlive a stream that is removed. */
#ifndef SCRIPTD_WATCH_H
#define SCRIPTD_WATCH_H

#include "app.h"
#include "runtime/streams.h"

/* The standing questions as the observer of app's streams (streams.h), into *out. */
void scd_watches_observer(scd_app *app, scd_stream_observer *out);

#endif
