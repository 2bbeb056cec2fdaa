/* A core view (sp_packet) of a GstScriptPacket read from scriptprune's meta or packet event, so
 * that core's writers (wire format, safetensors) can take packets coming out of a pipeline.
 *
 * The view maps the packet's token and provenance tensors read-only and converts the provenance
 * rows (INT64 [count, 6]) into sp_token_info records. It borrows from the packet: keep the packet
 * (and so its buffers) alive until scd_packet_view_release. One thread at a time. */
#ifndef SCRIPTD_PACKET_VIEW_H
#define SCRIPTD_PACKET_VIEW_H

#include <gst/script/script.h>
#include <stdbool.h>

#include "scriptprune/error.h"
#include "scriptprune/wire.h"

typedef struct scd_packet_view {
    sp_packet packet; /* valid after a successful map, until release */
    sp_token_info *info;
    size_t info_cap;
    GstBuffer *tok_buf, *prov_buf; /* the mapped buffers (NULL when not mapped) */
    GstMapInfo tok_map, prov_map;
} scd_packet_view;

void scd_packet_view_init(scd_packet_view *v);

/* Maps p. empty_d is the token width given to a packet of zero tokens, which carries none (0
 * refuses empty packets). Fails with SP_ERR_FORMAT when the tensors disagree with the counts. */
sp_status scd_packet_view_map(scd_packet_view *v, const GstScriptPacket *p, size_t empty_d,
                              sp_error *err);
void scd_packet_view_release(scd_packet_view *v);
void scd_packet_view_free(scd_packet_view *v);

/* The wire-format stream header for packets like p (dtype F16 or F32). Fails for a packet that
 * carries no token width or a grid the format cannot hold. */
sp_status scd_packet_wire_header(const GstScriptPacket *p, sp_dtype dtype, sp_wire_header *h,
                                 sp_error *err);

#endif
