/* Parallel file sampling: several FFmpeg samplers (sampler.h) on the same file, each decoding its
 * share of the keyframe segments on its own thread with a one-thread decoder, merged back into
 * the single sampler's output: the same frames, pts, instants and pixels, in the same order.
 *
 * Why: to return exact frames the sampler decodes every reference frame up to each instant, and
 * FFmpeg's frame threads stall at every seek (each flush empties their pipeline), so a file
 * sampled at 2 fps gains little from them. Whole GOPs decoded side by side do scale; a keyframe
 * segment holds at most a few sampled frames, which is all a worker buffers ahead.
 *
 * Falls back to one sampler (with opts.threads decoder threads) when workers is 1, or when the
 * file cannot be shared (not an MP4/MOV or Matroska/WebM file with an index and at least two
 * keyframes, or a live source).
 * Threads: one consumer thread calls next/progress/stats; abort may be called from any thread. */
#ifndef SCRIPTD_PARALLEL_SAMPLER_H
#define SCRIPTD_PARALLEL_SAMPLER_H

#include "media/sampler.h"

typedef struct scd_parallel_sampler scd_parallel_sampler;

/* Opens url with `workers` samplers (0: one per CPU, at most 4). o->share_* are ignored. The
 * errors are scd_sampler_open's, from the first sampler. */
sp_status scd_parallel_sampler_open(const char *url, const scd_sampler_opts *o, int workers,
                                    scd_parallel_sampler **out, sp_error *err);

/* As scd_sampler_next: the next frame in pts order (its rgb valid until the next call), or
 * *got = false at the end. A worker's error is returned once the frames before it are out. */
sp_status scd_parallel_sampler_next(scd_parallel_sampler *p, scd_sampled_frame *frame, bool *got,
                                    sp_error *err);

/* Fraction of the video returned so far, [0, 1]; -1 when the duration is unknown. */
double scd_parallel_sampler_progress(const scd_parallel_sampler *p);

/* The first sampler's info (info.shared tells whether the work is split). */
const scd_sampler_info *scd_parallel_sampler_get_info(const scd_parallel_sampler *p);
/* The workers' counters summed (frames_emitted: frames returned by next); a snapshot. */
scd_sampler_stats scd_parallel_sampler_get_stats(scd_parallel_sampler *p);
/* How many samplers decode (1 when the file could not be shared). */
int scd_parallel_sampler_workers(const scd_parallel_sampler *p);

/* Makes every worker stop promptly (any thread); next then returns SP_ERR_IO. */
void scd_parallel_sampler_abort(scd_parallel_sampler *p);

/* Stops and joins the workers and frees everything. NULL is fine. */
void scd_parallel_sampler_close(scd_parallel_sampler *p);

#endif
