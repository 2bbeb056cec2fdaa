/* One question over a stretch of a stream's tokens, made into a chat request: the tokens are
 * reselected with the question's query (runtime/streams.h), then built into an OpenAI-compatible
 * chat body (http/vllm_chat.h) with the question last. Shared by POST /v1/streams/{id}/ask and
 * the standing questions of streams[].watch (runtime/watch.h); the caller sends the body with
 * the MLLM client (runtime/mllm_client.h). Main thread. */
#ifndef SCRIPTD_ASK_FLOW_H
#define SCRIPTD_ASK_FLOW_H

#include <glib.h>

#include "config/config.h"
#include "http/vllm_chat.h"
#include "runtime/query.h"
#include "runtime/streams.h"

/* The step that failed. */
typedef enum scd_ask_step {
    SCD_ASK_SELECT = 1, /* the reselection (err says why; SP_ERR_STATE: no pipeline) */
    SCD_ASK_EMPTY,      /* no token in the time range */
    SCD_ASK_BUILD,      /* the chat body */
} scd_ask_step;

typedef struct scd_ask_request {
    GBytes *body;             /* the chat request (JSON) */
    scd_chat_summary summary; /* its windows and each token's span and position */
    guint tokens;
    double select_ms, build_ms;
} scd_ask_request;

/* The packet budget of the stream (window_budget, or frame_budget with emit: frame): what an ask
 * or a standing question reselects when it names no budget. */
guint scd_ask_default_budget(const scd_stream_cfg *c);

/* Reselects `budget` tokens of st in [since_ns, until_ns] (G_MAXUINT64: open) with q (NULL: pure
 * diversity) and builds the chat body for question with mllm's settings. On failure *failed
 * says which step and err why; out is then empty. */
sp_status scd_ask_prepare(scd_stream *st, const scd_mllm_cfg *mllm, const scd_query *q,
                          guint budget, guint64 since_ns, guint64 until_ns, const char *question,
                          scd_ask_request *out, scd_ask_step *failed, sp_error *err);
/* Frees what out holds (idempotent). */
void scd_ask_request_clear(scd_ask_request *r);

#endif
