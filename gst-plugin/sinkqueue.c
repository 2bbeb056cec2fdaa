/* Bounded packet queue with a drop policy. */
#include "sinkqueue.h"

void sink_queue_init(SinkQueue *q) {
    g_queue_init(&q->items);
    q->bytes = 0;
}

void sink_item_free(SinkItem *item) {
    if (!item)
        return;
    gst_script_packet_clear(&item->packet);
    g_free(item);
}

guint sink_queue_clear(SinkQueue *q) {
    guint n = 0;
    SinkItem *it;
    while ((it = g_queue_pop_head(&q->items))) {
        sink_item_free(it);
        n++;
    }
    q->bytes = 0;
    return n;
}

static gsize packet_bytes(const GstScriptPacket *p) {
    gsize b = 0;
    if (p->tokens.data)
        b += gst_buffer_get_size(p->tokens.data);
    if (p->provenance.data)
        b += gst_buffer_get_size(p->provenance.data);
    return b;
}

static gboolean full(const SinkQueue *q, gsize extra) {
    return q->items.length + 1 > q->max_packets || (guint64)(q->bytes + extra) > q->max_bytes;
}

guint sink_queue_push(SinkQueue *q, const GstScriptPacket *p) {
    gsize bytes = packet_bytes(p);
    guint dropped = 0;
    while (q->items.length > 0 && full(q, bytes)) {
        if (q->policy == GST_SCRIPT_DROP_NEWEST)
            return 1;
        sink_item_free(sink_queue_pop(q));
        dropped++;
    }
    SinkItem *it = g_new0(SinkItem, 1);
    gst_script_packet_init(&it->packet);
    gst_script_packet_copy_into(&it->packet, p);
    it->bytes = bytes;
    g_queue_push_tail(&q->items, it);
    q->bytes += bytes;
    return dropped;
}

SinkItem *sink_queue_pop(SinkQueue *q) {
    SinkItem *it = g_queue_pop_head(&q->items);
    if (it)
        q->bytes -= it->bytes;
    return it;
}

void sink_queue_requeue(SinkQueue *q, SinkItem *item) {
    g_queue_push_head(&q->items, item);
    q->bytes += item->bytes;
}
