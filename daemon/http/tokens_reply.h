/* Replies carrying a token set (a stream's reselection, a job's result) in the format the
 * request's `format` parameter names. Main thread. */
#ifndef SCRIPTD_TOKENS_REPLY_H
#define SCRIPTD_TOKENS_REPLY_H

#include <libsoup/soup.h>

#include "config/config.h"

/* `format=safetensors` (default): the bytes as they are, offered as `filename`;
 * `format=vllm-chat`: an OpenAI-compatible chat request body with one image_embeds part per
 * stretch of hop frames and the `question` parameter as the last text part (vllm_chat.h), with
 * mllm's model and embeddings encoding. An unknown format gets 400 invalid_parameter. */
void scd_http_reply_tokens(SoupServerMessage *msg, GHashTable *query, GBytes *safetensors,
                           const char *filename, guint hop, const scd_mllm_cfg *mllm);

#endif
