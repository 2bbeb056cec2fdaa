/* Vision encoders: turn an RGB frame of any size into the N x D tokens (and N x E joint-space
 * embeddings) that selection works on, and turn a text or an exemplar image into query rows in the
 * same joint space. Two backends behind one interface:
 *   patch  built in, no weights: resize, cut P x P patches, hand-made similarity-preserving
 *          features, a seeded orthogonal projection; bit-for-bit deterministic on every machine.
 *   clip   a Hugging Face CLIP or SigLIP folder (model.safetensors + config.json + ...), vision
 *          and text towers in float32 on OpenBLAS; or a LLaVA folder, whose tokens are its vision
 *          tower's features after its multimodal projector (the language model's input space).
 * Thread-safety: an sp_encoder is immutable after open and may be shared; each thread encodes
 * through its own sp_encode_ctx (scratch memory); sp_encode_batch encodes several frames in one
 * forward pass. docs/encoders.md describes both backends. */
#ifndef SCRIPTPRUNE_ENCODE_H
#define SCRIPTPRUNE_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scriptprune/error.h"
#include "scriptprune/frame.h"

#include "scriptprune/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Frames ---------------------------------------------------------------------------------- */

/* Packed 8-bit pixel layouts, bytes in memory order. X is a padding byte; an alpha channel in that
 * place is ignored (not composited). Planar YUV (I420, NV12) is not accepted here: convert it to
 * one of these first (GStreamer: videoconvert). */
typedef enum sp_pixfmt {
    SP_PIXFMT_RGB = 0, /* 3 bytes per pixel: R G B */
    SP_PIXFMT_BGR,     /* 3 bytes: B G R */
    SP_PIXFMT_RGBX,    /* 4 bytes: R G B X (also RGBA) */
    SP_PIXFMT_BGRX,    /* 4 bytes: B G R X (also BGRA) */
    SP_PIXFMT_XRGB,    /* 4 bytes: X R G B (also ARGB) */
    SP_PIXFMT_XBGR,    /* 4 bytes: X B G R (also ABGR) */
    SP_PIXFMT_COUNT
} sp_pixfmt;

/* A borrowed view of one frame; the caller keeps data alive during the call. */
typedef struct sp_image {
    const uint8_t *data; /* first byte of the top row */
    uint32_t width;      /* pixels, >= 1 */
    uint32_t height;     /* pixels, >= 1 */
    size_t stride; /* bytes from one row to the next, >= width * bytes per pixel (any value) */
    sp_pixfmt format;
} sp_image;

/* Bytes per pixel of f (3 or 4), 0 for a value outside the enum. */
SP_API size_t sp_pixfmt_bpp(sp_pixfmt f);
/* GStreamer spelling ("RGB", "BGRx", ...); "?" for a value outside the enum. Static storage. */
SP_API const char *sp_pixfmt_name(sp_pixfmt f);
/* Parses the GStreamer spellings (RGBA/BGRA/ARGB/ABGR map to the X forms). Known but unsupported
 * formats (I420, NV12, YUY2, GRAY8, ...) fail with SP_ERR_UNSUPPORTED and say what to convert to.
 */
SP_API sp_status sp_pixfmt_from_name(const char *name, sp_pixfmt *out, sp_error *err);
/* Checks format, sizes, stride and that height * stride fits size_t. */
SP_API sp_status sp_image_validate(const sp_image *img, sp_error *err);

/* ---- Opening an encoder ---------------------------------------------------------------------- */

typedef enum sp_encoder_kind {
    SP_ENCODER_PATCH = 0, /* built-in patch encoder (the default) */
    SP_ENCODER_CLIP = 1,  /* CLIP, SigLIP or LLaVA weights from a Hugging Face folder */
} sp_encoder_kind;

/* How a frame of another aspect ratio becomes the S x S model input. */
typedef enum sp_fit {
    SP_FIT_AUTO = 0,  /* patch: letterbox; clip: what preprocessor_config.json does (CLIP crop,
                         SigLIP stretch) */
    SP_FIT_LETTERBOX, /* whole frame, aspect kept, centred, padded to whole patches (LLaVA "pad") */
    SP_FIT_CROP,      /* shorter side scaled to S, centre square kept (CLIP's resize + crop) */
    SP_FIT_STRETCH,   /* both sides scaled to S independently (SigLIP's processor) */
} sp_fit;

/* Resampling filter of the resize. All filters widen with the downscale factor (antialiased). */
typedef enum sp_resample {
    SP_RESAMPLE_AREA = 0, /* exact pixel-area average when shrinking, bilinear when enlarging */
    SP_RESAMPLE_BILINEAR, /* triangle filter (PIL BILINEAR, torch antialias=True bilinear) */
    SP_RESAMPLE_BICUBIC,  /* cubic a = -0.5 (PIL BICUBIC, torch antialias=True bicubic) */
} sp_resample;

#define SP_PATCH_DEFAULT_SEED UINT64_C(0x5C121D5EED000001)

/* sp_encoder_config.layer: the model's own choice (LLaVA: config.json vision_feature_layer;
 * CLIP/SigLIP: -2, the penultimate layer, as LLaVA uses). */
#define SP_LAYER_MODEL INT32_MIN

typedef struct sp_encoder_config {
    sp_encoder_kind kind; /* default SP_ENCODER_PATCH */
    sp_fit fit;           /* default SP_FIT_AUTO */
    uint32_t image_size;  /* model input side S in pixels; 0 = backend default (patch 336, clip
                             the model's own vision_config.image_size, reported as
                             sp_encoder_info.model_image_size; other sizes interpolate position
                             embeddings) */
    /* patch backend */
    uint32_t patch_size; /* P in pixels, default 14; S must be a multiple of P */
    uint32_t dim;        /* token width D, default 256 */
    uint64_t seed;       /* projection seed, default SP_PATCH_DEFAULT_SEED */
    bool patch_local;    /* only the 33 features of the patch itself, chroma weighted as luma:
                            the tokens of the encoder before the neighbourhood layout, byte for
                            byte when dim >= 81 (to compare with old results); default false */
    /* clip backend */
    const char *model_dir; /* folder with model.safetensors, config.json, ... (or the path of the
                              weights file inside it); read during open */
    int layer;             /* hidden state whose patch tokens are returned: < 0 counts back from the
                              last layer (-1 last, -2 penultimate), 0 = the embeddings, L = layer
                              L; default SP_LAYER_MODEL */
    bool text;             /* load the text tower and tokenizer when present; default true */
    bool projector;        /* LLaVA folders: tokens pass through the multimodal projector (default
                              true); false returns the vision features themselves */
    const char *text_model_dir; /* optional CLIP or SigLIP folder (or its weights file) that gives
                                   the joint space: its vision tower computes embed and pooled on
                                   the same input, its text tower encodes text queries. Needed for
                                   text queries on a LLaVA folder, which has no text tower. NULL:
                                   the model's own joint space (LLaVA: the tokens themselves) */
} sp_encoder_config;

/* Fills c with the defaults above. */
SP_API void sp_encoder_config_init(sp_encoder_config *c);

typedef struct sp_encoder sp_encoder;

/* Opens an encoder from c (validated; messages name the field or file). For clip, every tensor is
 * checked against config.json and converted to float32 once; the files are not kept open. On
 * error *out is NULL. The encoder is immutable afterwards and may be shared between threads. */
SP_API sp_status sp_encoder_open(const sp_encoder_config *c, sp_encoder **out, sp_error *err);

/* The clip backend's files as in-memory images (e.g. a model built in memory, or read by the
 * caller); borrowed for the duration of the open only. NULL/0 marks an absent optional file. */
typedef struct sp_model_blobs {
    const uint8_t *safetensors; /* required */
    size_t safetensors_len;
    const char *config_json; /* required */
    size_t config_json_len;
    const char *preprocessor_json; /* optional: the model type's defaults when absent */
    size_t preprocessor_json_len;
    const char *vocab_json; /* optional, with merges_txt: CLIP byte-level BPE */
    size_t vocab_json_len;
    const char *merges_txt;
    size_t merges_txt_len;
    const char *tokenizer_json; /* optional alternative to vocab_json + merges_txt */
    size_t tokenizer_json_len;
} sp_model_blobs;

/* Like sp_encoder_open with c->kind == SP_ENCODER_CLIP, reading the files from memory
 * (c->model_dir is ignored). */
SP_API sp_status sp_encoder_open_blobs(const sp_encoder_config *c, const sp_model_blobs *blobs,
                                       sp_encoder **out, sp_error *err);

/* Frees an encoder and its weights (NULL is a no-op); no context of it may be in use. */
SP_API void sp_encoder_free(sp_encoder *enc);

/* What an encoder produces and how it preprocesses. */
typedef struct sp_encoder_info {
    const char *backend; /* "patch", "clip", "siglip" or "llava"; static storage */
    size_t n;            /* tokens per frame (grid_h * grid_w) */
    size_t d;            /* token width (LLaVA with projector: the language model's hidden size) */
    size_t e;            /* joint-space width (patch, and LLaVA without text_model_dir: e == d) */
    uint32_t grid_h, grid_w;
    uint32_t image_size;       /* S */
    uint32_t patch_size;       /* P */
    int layer;                 /* resolved hidden-state index of the tokens (clip), 0 for patch */
    uint32_t layers;           /* transformer layers of the vision tower (0 for patch) */
    sp_fit fit;                /* resolved (never AUTO) */
    sp_resample resample;      /* resize filter */
    float mean[3], std[3];     /* pixel normalisation: (v / 255 - mean) / std, per R, G, B */
    bool has_text;             /* the model has a text tower: sp_encode_text_ids works */
    bool has_tokenizer;        /* ... and its tokenizer files load: sp_encode_text works */
    size_t context_length;     /* text tokens per query including start/end, 0 without text */
    uint32_t model_image_size; /* clip: the model's own input side (vision_config.image_size),
                                  the default of image_size; patch: 336 */
    bool projector;            /* tokens are the LLaVA multimodal projector's output */
    size_t vision_d;           /* width of the vision tower's features (d without projector) */
    bool cls_token;            /* sp_encoding.cls holds the class token (LLaVA "full" strategy) */
    bool embed_is_tokens;      /* the joint space is the token space (embed aliases tokens) */
    size_t own_d; /* tokens' dimensions [0, own_d) describe the cell itself, the rest its
                     surroundings (sp_frame.own_d); 0: not split (clip) */
} sp_encoder_info;

/* Fills info (strings are static); thread-safe, the encoder is read only. */
SP_API void sp_encoder_get_info(const sp_encoder *enc, sp_encoder_info *info);

/* Where a frame lands in the S x S model input (depends only on the frame size). */
typedef struct sp_preprocess {
    sp_fit fit; /* resolved */
    sp_resample resample;
    double src_x, src_y, src_w, src_h; /* region of the frame used, in frame pixels */
    uint32_t dst_x, dst_y, dst_w,
        dst_h; /* where it lands in the S x S input; the rest is padding */
    uint32_t grid_x, grid_y, grid_w, grid_h; /* patches fully inside the landed region */
    float pad[3];                            /* R, G, B in [0, 1] of the padding */
} sp_preprocess;

/* The preprocessing sp_encode applies to a width x height frame (width, height >= 1). */
SP_API void sp_encoder_plan(const sp_encoder *enc, uint32_t width, uint32_t height,
                            sp_preprocess *out);

/* ---- Encoding ----------------------------------------------------------------------------------
 */

/* The result of one encode. Owned by the caller: sp_encoding_init before first use, reuse across
 * calls (buffers grow as needed), sp_encoding_free at the end. */
typedef struct sp_encoding {
    size_t n, d, e;
    uint32_t grid_h, grid_w;
    float *tokens; /* n x d row-major; token i at grid row i / grid_w, column i % grid_w */
    float *embed;  /* n x e joint-space embeddings; aliases tokens for the patch backend */
    float *pooled; /* e floats: the whole-image embedding (CLIP: projected class token; SigLIP:
                      attention-pooling head; patch: normalised mean token; LLaVA without
                      text_model_dir: mean token) */
    float *cls;    /* d floats: the class token, which has no grid position, when the model keeps
                      it (info.cls_token: LLaVA's "full" select strategy, placed before the patch
                      tokens by LLaVA); otherwise NULL */
    sp_preprocess pre;
    size_t own_d; /* as sp_encoder_info.own_d */
    /* Pixel evidence, n entries, when has_evidence: filled by sp_pixel_match_run
     * (scriptprune/pixel_match.h) after the encode; sp_encode clears has_evidence. */
    sp_pixel_evidence *evidence;
    bool has_evidence;
    size_t tokens_cap, embed_cap, pooled_cap, cls_cap, evidence_cap; /* internal */
} sp_encoding;

/* Owned by the caller: init before first use, reuse across sp_encode calls, free at the end. */
SP_API void sp_encoding_init(sp_encoding *r);
SP_API void sp_encoding_free(sp_encoding *r);
/* A borrowed sp_frame view of r (embeddings omitted when they alias the tokens) at time pts; its
 * picture rectangle (image_*) is the preprocess grid, so a stream never emits letterbox padding. */
SP_API void sp_encoding_frame(const sp_encoding *r, int64_t pts, sp_frame *out);

/* The split of a backend's d-wide tokens into the cell's own dimensions and its surroundings'
 * (sp_frame.own_d) at the default configuration: d / 2 for "patch" when d >= 96, else 0. For
 * consumers that know the backend by name only (the GStreamer meta). */
SP_API size_t sp_encoder_own_dims(const char *backend, size_t d);

/* Per-thread scratch memory of an encoder. The encoder must outlive it. */
typedef struct sp_encode_ctx sp_encode_ctx;

/* A new context in *out (free with sp_encode_ctx_free; NULL is a no-op); SP_ERR_NOMEM. */
SP_API sp_status sp_encode_ctx_new(const sp_encoder *enc, sp_encode_ctx **out, sp_error *err);
SP_API void sp_encode_ctx_free(sp_encode_ctx *ctx);

/* Encodes one frame into out. Safe in parallel on distinct contexts. */
SP_API sp_status sp_encode(sp_encode_ctx *ctx, const sp_image *img, sp_encoding *out,
                           sp_error *err);

/* Most frames sp_encode_batch takes in one call. */
#define SP_ENCODE_MAX_BATCH 64

/* Encodes `count` frames (1..SP_ENCODE_MAX_BATCH) in one forward pass: imgs[i] into *outs[i] (the
 * outs distinct). Frames may differ in size and format: each is preprocessed on its own to the
 * S x S model input, so all of them make sequences of the same length. The clip backend then runs
 * the transformer's linear layers as GEMMs over the stacked count x T tokens, reading the weights
 * once for the batch (attention stays within each frame); the patch backend encodes the frames one
 * after the other. Each result equals sp_encode of that frame up to float rounding: the same
 * arithmetic per row, but a BLAS may split a product between its kernels and threads differently
 * for another row count and so sum in another order (OpenBLAS does: relative differences of about
 * 1e-6), so a frame's last bits can depend on the frames batched with it. A batch of one is
 * sp_encode, bit for bit; the patch backend is bit for bit in any batch. The context's buffers grow
 * to the largest batch it has seen. Every frame is checked before any work: an invalid one fails
 * the call with a message naming its index, and on any error no out holds a result (n == 0). Safe
 * in parallel on distinct contexts. */
SP_API sp_status sp_encode_batch(sp_encode_ctx *ctx, const sp_image *imgs, size_t count,
                                 sp_encoding *const *outs, sp_error *err);

/* ---- Queries ------------------------------------------------------------------------------------
 */

/* Query rows in the joint space (width e), owned by the caller: init, reuse, free. The query
 * functions APPEND rows, so several texts or exemplars make one multi-row query;
 * sp_query_rows_clear empties it. Warnings (not errors: the query is still usable) are counted and
 * the first one is kept as a message; no query function raises one today (long texts are split
 * into segments, not cut). */
typedef struct sp_query_rows {
    float *rows; /* m x e */
    size_t m, e;
    unsigned warnings;          /* warnings since the last clear */
    char warning[SP_ERROR_MAX]; /* the first of them, "" when none */
    size_t cap;                 /* internal */
} sp_query_rows;

SP_API void sp_query_rows_init(sp_query_rows *q);
SP_API void sp_query_rows_clear(sp_query_rows *q);
SP_API void sp_query_rows_free(sp_query_rows *q);
/* A borrowed sp_query view of q. */
SP_API sp_query sp_query_rows_view(const sp_query_rows *q);

typedef enum sp_exemplar {
    SP_EXEMPLAR_POOLED = 0, /* one row: the encoding's pooled embedding */
    SP_EXEMPLAR_MEAN,       /* one row: the mean of its token embeddings */
    SP_EXEMPLAR_ALL,        /* one row per token embedding of the picture (letterbox padding left
                               out): the exemplar's parts */
} sp_exemplar;

/* Encodes an exemplar image the same way as frames and appends rows per mode. */
SP_API sp_status sp_encode_exemplar(sp_encode_ctx *ctx, const sp_image *img, sp_exemplar mode,
                                    sp_query_rows *out, sp_error *err);

/* The same for an exemplar cut from footage of frame_w x frame_h pixels, at the scale it has
 * there: encoded in the middle of a frame of that size (its border pixels repeated outwards),
 * its rows are the cells wholly inside it (mean: their mean; the one cell most inside it when
 * none is). Pooled mode, frame_w or frame_h 0, or an exemplar larger than the frame:
 * sp_encode_exemplar. Costs one frame encode; the context is used as by sp_encode. */
SP_API sp_status sp_encode_exemplar_at(sp_encode_ctx *ctx, const sp_image *img, sp_exemplar mode,
                                       uint32_t frame_w, uint32_t frame_h, sp_query_rows *out,
                                       sp_error *err);

/* Tokenizes UTF-8 text (len bytes) with the model's tokenizer, runs the text tower and appends
 * one row (the projected text embedding, not normalised) per segment: a text longer than the
 * context (77 tokens for CLIP, start and end included) is split into consecutive segments of a
 * context each, as the published Script code does, giving M rows. SP_ERR_UNSUPPORTED when the
 * encoder has no text tower. */
SP_API sp_status sp_encode_text(sp_encode_ctx *ctx, const char *text, size_t len,
                                sp_query_rows *out, sp_error *err);

/* The same from token ids the caller produced (for a tokenizer scriptd lacks): ids must include
 * the start/end tokens the model expects; at most context_length ids. */
SP_API sp_status sp_encode_text_ids(sp_encode_ctx *ctx, const int32_t *ids, size_t n,
                                    sp_query_rows *out, sp_error *err);

/* Appends the rows of an m x e float matrix (e.g. read from a .npy embedding file) after checking
 * its width against the encoder's e and its values for NaN/Inf. */
SP_API sp_status sp_query_rows_append(const sp_encoder *enc, const float *rows, size_t m, size_t e,
                                      sp_query_rows *out, sp_error *err);

/* Appends the rows of an embedding file: a 2-D (m x e) or 1-D (e) float32/float16 .npy, checked
 * like sp_query_rows_append; messages name the file. */
SP_API sp_status sp_query_rows_append_npy(const sp_encoder *enc, const char *path,
                                          sp_query_rows *out, sp_error *err);

#ifdef __cplusplus
}
#endif
#endif
