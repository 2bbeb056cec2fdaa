/* The `follow` sink: GET /v1/streams/{id}/follow answers with a chunked body in the token-stream
 * wire format (docs/wire-format.md): the stream header, then every packet as it is emitted.
 *
 * Packets are encoded once, on the streaming thread, by one wire writer per pipeline run; the
 * bytes go to the main thread (g_main_context_invoke), which appends them to every client's
 * response. A client whose unsent bytes would exceed the queue bound is disconnected and counted
 * instead: the pipeline never waits for a reader. When a stream's pipeline is restarted a new
 * wire stream begins (window ids start again), so the clients of the old one are finished
 * cleanly and may reconnect.
 *
 * Threads: scd_follow_packet and scd_follow_new_run from streaming/any threads; everything else
 * from the main thread. Reference-counted, so bytes in flight to the main thread outlive the
 * stream that produced them. */
#ifndef SCRIPTD_FOLLOW_H
#define SCRIPTD_FOLLOW_H

#include <gst/script/script.h>
#include <libsoup/soup.h>
#include <stdint.h>

#include "runtime/follow_event.h"
#include "telemetry/metric_families.h"

#define SCD_FOLLOW_CONTENT_TYPE "application/vnd.scriptd.tokens"

typedef struct scd_follow scd_follow;

scd_follow *scd_follow_new(const char *stream_id, uint64_t queue_limit, scd_metric_families *m);
scd_follow *scd_follow_ref(scd_follow *f);
/* Main thread: the last unref also finishes the responses of remaining clients. */
void scd_follow_unref(scd_follow *f);

/* Any thread: the next packet starts a new wire stream (a new pipeline run). */
void scd_follow_new_run(scd_follow *f);
/* Streaming thread: encodes p and hands it to the clients. */
void scd_follow_packet(scd_follow *f, const GstScriptPacket *p);

/* Main thread. */
void scd_follow_set_limit(scd_follow *f, uint64_t queue_limit);
/* Turns msg into a chunked response that receives the stream from now on. sock is the socket of
 * msg's connection (scd_http_message_socket(), may be NULL): a client that falls too far behind
 * is disconnected by shutting it down. events: the event kinds (SCD_FOLLOW_EVENT_BIT of
 * follow_event.h) whose records the client asked for; 0 = packets only, a plain token stream. */
void scd_follow_attach(scd_follow *f, SoupServerMessage *msg, GSocket *sock, guint events);
/* Main thread: hands an event record (scd_follow_event_encode) of that kind to the clients that
 * asked for it and already have the stream header (events are never sent before it). */
void scd_follow_event(scd_follow *f, unsigned kind, GBytes *record);
/* Ends every client's response (stream stopped or daemon shutting down). */
void scd_follow_close_all(scd_follow *f);
guint scd_follow_clients(scd_follow *f);
uint64_t scd_follow_queued_bytes(scd_follow *f);

#endif
