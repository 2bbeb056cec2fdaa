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

#endif
