/* Token sets in the requested format (tokens_reply.h). */
#include "http/tokens_reply.h"

#include <string.h>

#include "http/http_util.h"
#include "http/vllm_chat.h"

void scd_http_reply_tokens(SoupServerMessage *msg, GHashTable *query, GBytes *safetensors,
                           const char *filename, guint hop, const scd_mllm_cfg *mllm) {
    const char *format = query ? g_hash_table_lookup(query, "format") : NULL;
    if (!format || strcmp(format, "safetensors") == 0) {
        char *disp = g_strdup_printf("attachment; filename=\"%s\"", filename);
        soup_message_headers_replace(soup_server_message_get_response_headers(msg),
                                     "Content-Disposition", disp);
        g_free(disp);
        scd_http_reply_bytes(msg, SOUP_STATUS_OK, "application/octet-stream", safetensors);
        return;
    }
    if (strcmp(format, "vllm-chat") != 0) {
        scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_parameter",
                       "format '%s': expected safetensors or vllm-chat", format);
        return;
    }
    const char *question = g_hash_table_lookup(query, "question");
    sp_error err;
    sp_error_clear(&err);
    GBytes *body = scd_vllm_chat_body(safetensors, hop, mllm, question, &err);
    if (!body) {
        scd_http_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal", "%s", err.message);
        return;
    }
    scd_http_reply_bytes(msg, SOUP_STATUS_OK, "application/json", body);
    g_bytes_unref(body);
}
