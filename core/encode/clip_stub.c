/* Placeholder until the clip backend lands. */
#include "clip.h"

sp_status clip_open(const sp_encoder_config *c, const sp_model_blobs *blobs, sp_encoder *enc,
                    sp_error *err) {
    (void)c;
    (void)blobs;
    (void)enc;
    return sp_error_set(err, SP_ERR_UNSUPPORTED, "clip backend: not built yet");
}
void clip_model_free(clip_model *m) {
    (void)m;
}
sp_status clip_scratch_new(const clip_model *m, clip_scratch **out, sp_error *err) {
    (void)m;
    *out = NULL;
    return sp_error_set(err, SP_ERR_UNSUPPORTED, "clip backend: not built yet");
}
void clip_scratch_free(clip_scratch *s) {
    (void)s;
}
sp_status clip_encode_image(const clip_model *m, clip_scratch *s, const float *planes,
                            float *tokens, float *embed, float *pooled, sp_error *err) {
    (void)m, (void)s, (void)planes, (void)tokens, (void)embed, (void)pooled;
    return sp_error_set(err, SP_ERR_UNSUPPORTED, "clip backend: not built yet");
}
sp_status clip_encode_text(const clip_model *m, clip_scratch *s, const char *text, size_t len,
                           float *out, int *warned, char *warning, size_t warning_size,
                           sp_error *err) {
    (void)m, (void)s, (void)text, (void)len, (void)out, (void)warned, (void)warning,
        (void)warning_size;
    return sp_error_set(err, SP_ERR_UNSUPPORTED, "clip backend: not built yet");
}
sp_status clip_encode_text_ids(const clip_model *m, clip_scratch *s, const int32_t *ids, size_t n,
                               float *out, sp_error *err) {
    (void)m, (void)s, (void)ids, (void)n, (void)out;
    return sp_error_set(err, SP_ERR_UNSUPPORTED, "clip backend: not built yet");
}
