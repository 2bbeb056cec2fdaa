/* A core view (sp_packet) of a GstScriptPacket read from scriptprune's meta or packet event, so
 * that core's writers (wire format, safetensors) can take packets coming out of a pipeline: used
 * by scriptsink and by the daemon (its own static library, so the daemon does not link elements).
 *
 * The view maps the packet's token and provenance tensors read-only and converts the provenance
 * rows (INT64 [count, 6]) into sp_token_info records. It borrows from the packet: keep the packet
 * (and so its buffers) alive until script_packet_view_release. One thread at a time. */
#ifndef GST_SCRIPT_PACKETVIEW_H
#define GST_SCRIPT_PACKETVIEW_H

#include <gst/script/script.h>
#include <stdbool.h>

#include "scriptprune/error.h"
#include "scriptprune/wire.h"

typedef struct {
    sp_packet packet; /* valid after a successful map, until release */
    sp_token_info *info;
    size_t info_cap;
    GstBuffer *tok_buf, *prov_buf; /* the mapped buffers (NULL when not mapped) */
    GstMapInfo tok_map, prov_map;
} ScriptPacketView;

void script_packet_view_init(ScriptPacketView *v);

/* Maps p. empty_d is the token width given to a packet of zero tokens, which carries none (0
 * refuses empty packets). Fails with SP_ERR_FORMAT when the tensors disagree with the counts. */
sp_status script_packet_view_map(ScriptPacketView *v, const GstScriptPacket *p, size_t empty_d,
                                 sp_error *err);
void script_packet_view_release(ScriptPacketView *v);
void script_packet_view_free(ScriptPacketView *v);

/* The wire-format stream header for packets like p (dtype F16 or F32). Fails for a packet that
 * carries no token width or a grid the format cannot hold. */
sp_status script_packet_wire_header(const GstScriptPacket *p, sp_dtype dtype, sp_wire_header *h,
                                    sp_error *err);

#endif
