/* The ask flow (ask_flow.h). */
#include "runtime/ask_flow.h"

guint scd_ask_default_budget(const scd_stream_cfg *c) {
    const scd_pruning_cfg *p = &c->pruning;
    return (guint)(p->emit == SCD_EMIT_FRAME ? p->frame_budget : p->window_budget);
}

sp_status scd_ask_prepare(scd_stream *st, const scd_mllm_cfg *mllm, const scd_query *q,
                          guint budget, guint64 since_ns, guint64 until_ns, const char *question,
                          scd_ask_request *out, scd_ask_step *failed, sp_error *err) {
    *out = (scd_ask_request){0};
    gint64 t0 = g_get_monotonic_time();
    GBytes *tokens = NULL;
    guint count = 0;
    sp_status rc =
        scd_stream_reselect_with(st, q, budget, since_ns, until_ns, &tokens, &count, err);
    if (rc != SP_OK) {
        *failed = SCD_ASK_SELECT;
        return rc;
    }
    if (count == 0) {
        g_bytes_unref(tokens);
        *failed = SCD_ASK_EMPTY;
        return sp_error_set(err, SP_ERR_NOT_FOUND,
                            "stream '%s' has no tokens in that time range to ask about",
                            scd_stream_id(st));
    }
    gint64 t1 = g_get_monotonic_time();
    const scd_pruning_cfg *p = &scd_stream_cfg_of(st)->pruning;
    out->body = scd_vllm_chat_request(tokens, (guint)p->hop, mllm, question, mllm->max_tokens,
                                      &out->summary, err);
    g_bytes_unref(tokens);
    if (!out->body) {
        scd_ask_request_clear(out);
        *failed = SCD_ASK_BUILD;
        return err->status != SP_OK ? err->status : SP_ERR_INVALID;
    }
    out->tokens = count;
    out->select_ms = (double)(t1 - t0) / 1000.0;
    out->build_ms = (double)(g_get_monotonic_time() - t1) / 1000.0;
    return SP_OK;
}

void scd_ask_request_clear(scd_ask_request *r) {
    if (r->body)
        g_bytes_unref(r->body);
    r->body = NULL;
    scd_chat_summary_clear(&r->summary);
}
