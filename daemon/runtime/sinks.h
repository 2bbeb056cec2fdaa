/* The sinks the daemon writes itself (scriptsink branches are written by the element):
 *   safetensors_dir  one safetensors file per packet, written atomically (temporary file, then
 *                    rename), named STREAM-RUN-wWINDOW.safetensors, where RUN identifies the
 *                    pipeline run (UTC start time and a counter) so that a restarted stream, whose
 *                    window ids start again at 0, never overwrites earlier files;
 *   overlay_dir      the PNG that scriptoverlay drew of each frame completing an emission, named
 *                    STREAM-RUN-PTS_MS.png, also written atomically.
 * Both are called on the app branch's streaming thread; they do plain file I/O. */
#ifndef SCRIPTD_SINKS_H
#define SCRIPTD_SINKS_H

#include <gst/gst.h>

#include "scriptprune/error.h"
#include "scriptprune/wire.h"

/* Creates dir (and parents) when missing; fails when it cannot or it is not a directory. */
sp_status scd_sink_prepare_dir(const char *dir, sp_error *err);

/* Writes p (tokens F32, pts, frame, yx, packets + metadata) to dir. *path_out (may be NULL)
 * receives the file's path (g_free). */
sp_status scd_sink_write_safetensors(const char *dir, const char *stream, const char *run_tag,
                                     const char *method, const sp_packet *p, char **path_out,
                                     sp_error *err);

/* Writes the PNG bytes of buf to dir. */
sp_status scd_sink_write_png(const char *dir, const char *stream, const char *run_tag,
                             GstBuffer *buf, char **path_out, sp_error *err);

/* Writes len bytes to path atomically (PATH.tmp-PID then rename). */
sp_status scd_write_file_atomic(const char *path, const void *data, size_t len, sp_error *err);

/* At start-up, before anything is written: removes the temporary files (NAME.tmp-PID, or
 * NAME.tmp.PID of older versions) that a killed process left in dir, when PID is this process or
 * none running. only_prefix (may be NULL): only names
 * starting with it. Returns how many were removed; a missing dir is fine. */
guint scd_remove_stale_temp_files(const char *dir, const char *only_prefix);

#endif
