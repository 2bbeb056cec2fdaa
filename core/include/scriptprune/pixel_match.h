/* Pixel evidence for the temporal graph: per token cell, whether its pixels were in the previous
 * ENCODED frame, and where (a block-matching motion search, as video codecs do). The encoder sees
 * the pixels; a token's features may not tell two patches of grass apart, the pixels do.
 *
 * A matcher keeps a small thumbnail of the last frame it was given: the part of the frame the
 * encoder reads (sp_encoding.pre), at SP_PIXEL_MATCH_BLOCK x SP_PIXEL_MATCH_BLOCK R, G, B means
 * per grid cell. For each cell of the next frame it searches that thumbnail for the best-matching
 * block within 1.5 cells of the cell itself and of the frame's global shift (up to 3 cells each
 * way), to half a thumbnail pixel, and compares the best error (without the block's worst eighth
 * of pixels) with the frame's noise floor (a low percentile of the cells' best errors, capped:
 * sensor and compression noise, not content) and with the cell's own texture (its error against
 * itself moved by one thumbnail pixel: what a misalignment costs it). SEEN: within a few times the
 * noise or a quarter of the texture; NEW: clearly above both, for a textured cell (a smooth one is
 * left to the features); UNKNOWN otherwise, on the first frame,
 * after a change of frame size or plan, and for letterbox padding. A flat or striped cell, which
 * matches in many places, is SEEN only at the global shift or at a SEEN neighbour's displacement.
 * docs/streams.md ("Pixel evidence") has the rule and the measurements.
 *
 * Independent of the encoder's backend (it reads the frame, not the tokens) and of its batching:
 * keep one matcher per stream, give it every frame that is encoded and pushed, in order, and
 * nothing else. A frame the change gate skipped is not given: its tokens, the last encoded
 * frame's, are pushed again with sp_pixel_match_repeat's evidence (every cell seen in place),
 * which is what encoding the held picture gives, so the stream decides the frames after it as if
 * the held picture had been encoded again.
 *
 * Ownership: the matcher owns its thumbnails; images and results are borrowed for the call.
 * Thread-safety: one user thread per matcher; distinct matchers are independent. */
#ifndef SCRIPTPRUNE_PIXEL_MATCH_H
#define SCRIPTPRUNE_PIXEL_MATCH_H

#include "scriptprune/encode.h"
#include "scriptprune/error.h"
#include "scriptprune/frame.h"

#include "scriptprune/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Thumbnail pixels per cell side. */
#define SP_PIXEL_MATCH_BLOCK 8

typedef struct sp_pixel_match sp_pixel_match;

/* A matcher for the frames enc encodes (its grid and input side); SP_ERR_NOMEM, SP_ERR_INVALID. */
SP_API sp_status sp_pixel_match_new(const sp_encoder *enc, sp_pixel_match **out, sp_error *err);
SP_API void sp_pixel_match_free(sp_pixel_match *m);
/* Forgets the previous frame: the next one gets no evidence (a discontinuity, a new stream). */
SP_API void sp_pixel_match_reset(sp_pixel_match *m);

/* Compares img, which r is the encoding of (r->pre says what the encoder read of it), with the
 * previous frame given, fills r's evidence (r->n entries; sp_encoding_frame then passes it to the
 * stream) and keeps img's thumbnail for the next call. r must hold a successful encoding of img
 * (n > 0). */
SP_API sp_status sp_pixel_match_run(sp_pixel_match *m, const sp_image *img, sp_encoding *r,
                                    sp_error *err);

/* Fills r's evidence (r holds the last encoded frame's encoding) for a frame that carries r's
 * tokens again: every picture cell SEEN in place, letterbox padding UNKNOWN. The matcher's
 * reference stays the last encoded frame. SP_ERR_NOMEM, SP_ERR_INVALID (r empty). */
SP_API sp_status sp_pixel_match_repeat(sp_encoding *r, sp_error *err);

/* Statistics of the last run: the noise floor used (8-bit levels) and the cells per verdict. */
typedef struct sp_pixel_match_stats {
    float noise;
    size_t seen, fresh, unknown;
} sp_pixel_match_stats;
SP_API void sp_pixel_match_get_stats(const sp_pixel_match *m, sp_pixel_match_stats *out);

#ifdef __cplusplus
}
#endif
#endif
