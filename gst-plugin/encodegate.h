/* scriptencode's change gate: decides per sampled frame whether the encoder runs (core's
 * sp_change_gate against the last encoded frame) and keeps the last encoded frame's token
 * buffers, which a skipped frame carries again (by reference: no copy, the same bytes).
 *
 * Ownership: the gate holds one reference on the kept buffers until the next encoded frame or
 * encode_gate_clear. Thread-safety: everything runs on the streaming thread except
 * encode_gate_counts, which may be called from any thread (atomic counters). */
#ifndef GST_SCRIPT_ENCODE_GATE_H
#define GST_SCRIPT_ENCODE_GATE_H

#include <stdatomic.h>

#include <gst/gst.h>

#include "scriptprune/change_gate.h"
#include "scriptprune/encode.h"
#include "scriptprune/params.h"

G_BEGIN_DECLS

typedef enum {
    GST_SCRIPT_SKIP_AUTO = SP_SKIP_AUTO, /* on for the clip backend, off for patch */
    GST_SCRIPT_SKIP_TRUE = SP_SKIP_ON,
    GST_SCRIPT_SKIP_FALSE = SP_SKIP_OFF,
} GstScriptSkipUnchanged;

GType gst_script_skip_unchanged_get_type(void);
#define GST_TYPE_SCRIPT_SKIP_UNCHANGED (gst_script_skip_unchanged_get_type())

typedef struct EncodeGate {
    gboolean enabled;
    sp_change_gate_params params; /* threshold and max_skip; region and grid per frame size */
    sp_change_gate *gate;         /* made at the first frame, remade when the frame size changes */
    guint width, height;          /* the frame size gate was made for */
    GstBuffer *tokens, *embed;    /* the last encoded frame's (embed NULL when it aliases) */
    atomic_uint_fast64_t encoded; /* frames the encoder ran on */
    atomic_uint_fast64_t skipped; /* frames that carried the last tokens again */
} EncodeGate;

void encode_gate_init(EncodeGate *g);
/* Arms the gate for a run: enabled resolves `skip` against the backend; threshold in 8-bit
 * levels, max_skip_s in seconds (the parameter table's ranges). Counters restart at 0. */
void encode_gate_start(EncodeGate *g, GstScriptSkipUnchanged skip, gboolean clip_backend,
                       gfloat threshold, gdouble max_skip_s);
/* Drops the kept buffers and the gate (stop, or before a restart). */
void encode_gate_clear(EncodeGate *g);
/* The next frame is encoded whatever it shows (flush, new segment, failed encode). */
void encode_gate_reset(EncodeGate *g);

/* Should the encoder run on img at stream time t (ns; GST_CLOCK_TIME_NONE always encodes)?
 * *run is TRUE when it must; FALSE means the kept buffers stand for this frame. FALSE with err
 * filled when the gate cannot be made or the image is refused. */
gboolean encode_gate_decide(EncodeGate *g, const sp_encoder *enc, const sp_image *img,
                            GstClockTime t, gboolean *run, sp_error *err);
/* Records the buffers of a frame the encoder just produced (takes new references). */
void encode_gate_keep(EncodeGate *g, GstBuffer *tokens, GstBuffer *embed);

void encode_gate_counts(EncodeGate *g, guint64 *encoded, guint64 *skipped);

G_END_DECLS

#endif
