/* FFmpeg reading one local video file and nothing else.
 *
 * The file is read through an AVIOContext over a descriptor the caller opened (pread, so several
 * readers of one descriptor keep their own positions). No URL is ever opened: the format
 * context's io_open callback refuses every request, which is how a demuxer would open a second
 * file (HLS segments, concat entries, image sequences, MOV references, ...), and the protocol
 * allow-list names no protocol, for any open that would bypass io_open. On top of that only
 * the demuxers of self-contained video files are allowed: the format is probed from the bytes
 * alone (never from the name) and a refused one is not asked to read its header, so its error
 * says nothing about other files. */
#ifndef SCRIPTD_LOCAL_INPUT_H
#define SCRIPTD_LOCAL_INPUT_H

#include <libavformat/avformat.h>

#include "scriptprune/error.h"

/* The allowed demuxers, as FFmpeg's comma-separated list of format names: MP4/MOV,
 * Matroska/WebM, AVI, MPEG-TS, MPEG-PS, FLV, ASF/WMV, IVF, Y4M and the H.264, HEVC, MPEG-4 part
 * 2, MPEG-1/2 and AV1 elementary streams. */
extern const char scd_video_formats[];

typedef struct scd_local_input scd_local_input;

/* Opens *fmt (allocated by the caller, interrupt callback set) on the regular file `fd` (dup'ed:
 * the caller keeps and closes its own); `name` names it in messages and becomes fmt->url. On
 * failure *fmt has been freed, as avformat_open_input does. Errors: SP_ERR_FORMAT (not a media
 * file, or a refused format: the message names it), SP_ERR_IO, SP_ERR_NOMEM. */
sp_status scd_local_input_open(AVFormatContext **fmt, int fd, const char *name,
                               scd_local_input **out, sp_error *err);

/* Opens and closes the file as scd_local_input_open would (probe, allow-list, header), so a
 * request can be refused before it is accepted. Same errors. *width x *height: the video's
 * picture size as the header states it, 0 x 0 when it does not. */
sp_status scd_local_input_check(int fd, const char *name, int *width, int *height, sp_error *err);

/* Frees the input; call after avformat_close_input of its format context. NULL is fine. */
void scd_local_input_free(scd_local_input *in);

#endif
