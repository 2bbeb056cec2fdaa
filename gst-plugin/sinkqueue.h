/* scriptsink's bounded packet queue: at most max_packets packets and max_bytes bytes of tensor
 * data; when full, the drop policy removes the oldest queued packet or refuses the new one. Not
 * locked: the element holds its lock around every call. */
#ifndef GST_SCRIPT_SINKQUEUE_H
#define GST_SCRIPT_SINKQUEUE_H

#include <gst/script/script.h>

#include "enums.h"

G_BEGIN_DECLS

typedef struct {
    GstScriptPacket packet;
    gsize bytes;
} SinkItem;

typedef struct {
    GQueue items; /* SinkItem*, oldest first */
    gsize bytes;
    guint max_packets;
    guint64 max_bytes;
    GstScriptDropPolicy policy;
} SinkQueue;

void sink_queue_init(SinkQueue *q);
/* Frees every item; returns how many there were. */
guint sink_queue_clear(SinkQueue *q);
/* Queues a copy of p (data shared). Returns the packets dropped to make room (or the new one, for
 * policy newest). A packet larger than max_bytes is queued alone. */
guint sink_queue_push(SinkQueue *q, const GstScriptPacket *p);
/* Takes the oldest item (NULL when empty); the caller frees it with sink_item_free or gives it
 * back with sink_queue_requeue. */
SinkItem *sink_queue_pop(SinkQueue *q);
/* Puts an item back at the head (a failed write is retried first). */
void sink_queue_requeue(SinkQueue *q, SinkItem *item);
void sink_item_free(SinkItem *item);

G_END_DECLS

#endif
