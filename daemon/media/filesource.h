/* The `file:` source of a run: a thread that reads a video with the FFmpeg sampler (exact pts,
 * skipping what it does not sample; several side by side, parallel_sampler.h) and pushes each
 * sampled frame as RGB (rows padded to 4 bytes, GStreamer's layout) with its pts into an appsrc.
 * The appsrc blocks when its small queue is full, so the sampler never runs ahead of the encoder by
 * more than a few frames.
 *
 * Failures (missing file, not a video, I/O error) are posted as ERROR messages from the appsrc,
 * so the run's bus watch handles them like any pipeline error. The end of the file sends EOS,
 * also when the file ended early (then scd_filesrc_early_end says so, for the owner to judge).
 *
 * Threads: start/stop/finish/free from the main thread; the counters from any thread. */
#ifndef SCRIPTD_FILESOURCE_H
#define SCRIPTD_FILESOURCE_H

#include <gst/gst.h>
#include <stdint.h>

typedef struct scd_filesrc scd_filesrc;

/* Starts the reader thread on path at fps with `workers` parallel samplers (parallel_sampler.h; 0 =
 * one per CPU) and `threads` decoder threads (0 = automatic); the appsrc gets a reference. fd >= 0:
 * read that open file instead of opening path (which then only names it); the source keeps a
 * duplicate, so the caller may close fd at once. */
scd_filesrc *scd_filesrc_start(GstElement *appsrc, const char *path, int fd, double fps,
                               int threads, int workers);
/* Asks the thread to stop reading and send EOS (a drain); returns at once. */
void scd_filesrc_finish(scd_filesrc *f);
/* Makes the thread stop at once (aborts blocking I/O); returns at once. Set the pipeline to NULL
 * afterwards to release a push blocked in the appsrc, then free. */
void scd_filesrc_abort(scd_filesrc *f);
/* Joins the thread and frees. NULL is fine. */
void scd_filesrc_free(scd_filesrc *f);

/* After EOS: why the file ended before the end its index announces (g_free), or NULL when it
 * was read to its end. The frames read before were sent as usual. */
char *scd_filesrc_early_end(scd_filesrc *f);
/* After EOS: damaged packets or frames the decoder skipped (the file still ended at its end). */
uint64_t scd_filesrc_damaged(scd_filesrc *f);

/* Fraction of the file read, [0, 1]; -1 while unknown. */
double scd_filesrc_progress(const scd_filesrc *f);

#endif
