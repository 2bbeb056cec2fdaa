/* Chat request bodies for OpenAI-compatible servers that take precomputed image embeddings
 * (vLLM started with --enable-mm-embeds; docs/mllm.md): the tokens of a reselection or a job, as
 * one user message of `image_embeds` parts, one per stretch of `hop` frames in time order, each
 * preceded by a text part with its time span, then the question. Main thread. */
#ifndef SCRIPTD_VLLM_CHAT_H
#define SCRIPTD_VLLM_CHAT_H

#include <glib.h>

#include "config/config.h"
#include "scriptprune/error.h"

/* The chat body (JSON) for the tokens in `safetensors` (the reselection / job format: `tokens`
 * F32 [k, D], `pts` I64 [k], `frame` I32 [k], optionally `last_pts` I64 [k]). Tokens are grouped
 * by frame / hop; a group's text part is "<t=A-Bs>" (first pts to last sighting, seconds).
 * question: "" or NULL for none. NULL with err on a malformed input. */
GBytes *scd_vllm_chat_body(GBytes *safetensors, guint hop, const scd_mllm_cfg *m,
                           const char *question, sp_error *err);

/* What a chat body holds, for `ask`'s reply: its windows and each token's span and position. */
typedef struct scd_chat_window {
    gint64 pts_first, pts_last; /* ns */
    guint tokens;
} scd_chat_window;

typedef struct scd_chat_evidence {
    gint64 pts, last_pts; /* ns */
    gint y, x;            /* grid position; -1 when the token set has no yx */
} scd_chat_evidence;

typedef struct scd_chat_summary {
    GArray *windows;  /* scd_chat_window, in time order */
    GArray *evidence; /* scd_chat_evidence, in the body's order */
} scd_chat_summary;

void scd_chat_summary_clear(scd_chat_summary *s);

/* scd_vllm_chat_body with `max_tokens` (0: left out) and, when summary is not NULL, what went
 * into it (clear it with scd_chat_summary_clear). */
GBytes *scd_vllm_chat_request(GBytes *safetensors, guint hop, const scd_mllm_cfg *m,
                              const char *question, int max_tokens, scd_chat_summary *summary,
                              sp_error *err);

#endif
