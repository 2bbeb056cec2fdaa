/* One local file for FFmpeg, and nothing else (local_input.h). */
#include "media/local_input.h"

#include <errno.h>
#include <fcntl.h>
#include <libavutil/avstring.h>
#include <libavutil/mem.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Playlists (hls, dash), lists of files (concat), image sequences (image2), demuxers that follow
 * references (mov with drefs is off by default, and io_open below refuses it anyway) are absent. */
const char scd_video_formats[] = "mov,mp4,matroska,webm,avi,mpegts,mpeg,flv,asf,ivf,yuv4mpegpipe,"
                                 "h264,hevc,m4v,mpegvideo,obu";

enum { IO_BUFFER = 64 * 1024 };

struct scd_local_input {
    int fd;
    int64_t pos;
    AVIOContext *avio;
    AVIOInterruptCB interrupt; /* the format context's: polled before every read */
};

static int read_cb(void *opaque, uint8_t *buf, int size) {
    scd_local_input *in = opaque;
    if (in->interrupt.callback && in->interrupt.callback(in->interrupt.opaque))
        return AVERROR_EXIT; /* as FFmpeg's file protocol does: abort and deadlines hold */
    ssize_t n;
    do
        n = pread(in->fd, buf, (size_t)size, in->pos);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return AVERROR(errno);
    if (n == 0)
        return AVERROR_EOF;
    in->pos += n;
    return (int)n;
}

static int64_t seek_cb(void *opaque, int64_t offset, int whence) {
    scd_local_input *in = opaque;
    struct stat sb;
    whence &= ~AVSEEK_FORCE;
    if (whence == AVSEEK_SIZE || whence == SEEK_END) {
        if (fstat(in->fd, &sb) != 0)
            return AVERROR(errno);
        if (whence == AVSEEK_SIZE)
            return sb.st_size;
        offset += sb.st_size;
    } else if (whence == SEEK_CUR) {
        offset += in->pos;
    } else if (whence != SEEK_SET) {
        return AVERROR(EINVAL);
    }
    if (offset < 0)
        return AVERROR(EINVAL);
    in->pos = offset;
    return offset;
}

/* Every other file or URL a demuxer asks for. */
static int refuse_io_open(AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                          AVDictionary **options) {
    (void)s;
    (void)url;
    (void)flags;
    (void)options;
    *pb = NULL;
    return AVERROR(EPERM);
}

void scd_local_input_free(scd_local_input *in) {
    if (!in)
        return;
    if (in->avio) {
        av_freep(&in->avio->buffer);
        avio_context_free(&in->avio);
    }
    if (in->fd >= 0)
        close(in->fd);
    av_free(in);
}

static sp_status open_error(const char *name, const char *what, int code, sp_error *err) {
    if (code == AVERROR(ENOMEM))
        return sp_error_set(err, SP_ERR_NOMEM, "%s: %s: out of memory", name, what);
    if (code == AVERROR_INVALIDDATA || code == AVERROR_EOF)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: %s: not a recognised media file", name, what);
    char eb[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(code, eb, sizeof eb);
    return sp_error_set(err, SP_ERR_IO, "%s: %s: %s", name, what, eb);
}

sp_status scd_local_input_open(AVFormatContext **fmt, int fd, const char *name,
                               scd_local_input **out, sp_error *err) {
    *out = NULL;
    sp_status st = SP_OK;
    AVDictionary *opts = NULL;
    scd_local_input *in = av_mallocz(sizeof *in);
    uint8_t *buf = av_malloc(IO_BUFFER);
    if (in)
        in->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (!in || !buf || in->fd < 0) {
        st = in && buf ? sp_error_set(err, SP_ERR_IO, "%s: cannot open: %s", name, strerror(errno))
                       : sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", name);
        goto fail;
    }
    in->avio = avio_alloc_context(buf, IO_BUFFER, 0, in, read_cb, NULL, seek_cb);
    if (!in->avio) {
        st = sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", name);
        goto fail;
    }
    buf = NULL; /* the AVIOContext's now */
    in->interrupt = (*fmt)->interrupt_callback;
    (*fmt)->pb = in->avio;
    (*fmt)->io_open = refuse_io_open;
    /* The format from the bytes alone (no name: an extension must not pick the demuxer). */
    const AVInputFormat *ifmt = NULL;
    int ret = av_probe_input_buffer2(in->avio, &ifmt, "", *fmt, 0, 0);
    if (ret < 0) {
        st = open_error(name, "cannot open", ret, err);
        goto fail;
    }
    if (av_match_list(ifmt->name, scd_video_formats, ',') <= 0) {
        st = sp_error_set(err, SP_ERR_FORMAT,
                          "%s: cannot open: not a video file scriptd reads (the '%s' format is "
                          "refused; MP4/MOV, Matroska/WebM, AVI, MPEG-TS/PS, FLV, ASF, IVF, Y4M "
                          "and H.264/HEVC/MPEG/AV1 elementary streams are read)",
                          name, ifmt->name);
        goto fail;
    }
    /* Checked again by FFmpeg itself, for this context and any it nests. No protocol is named
     * "none": a demuxer that opened a URL directly, not through io_open, would be refused too. */
    av_dict_set(&opts, "format_whitelist", scd_video_formats, 0);
    av_dict_set(&opts, "protocol_whitelist", "none", 0);
    ret = avformat_open_input(fmt, name, ifmt, &opts);
    av_dict_free(&opts);
    if (ret < 0) {
        /* avformat_open_input freed *fmt */
        st = open_error(name, "cannot open", ret, err);
        scd_local_input_free(in);
        return st;
    }
    *out = in;
    return SP_OK;

fail:
    av_dict_free(&opts);
    avformat_free_context(*fmt);
    *fmt = NULL;
    av_free(buf);
    scd_local_input_free(in);
    return st;
}

sp_status scd_local_input_check(int fd, const char *name, int *width, int *height, sp_error *err) {
    *width = *height = 0;
    AVFormatContext *fmt = avformat_alloc_context();
    if (!fmt)
        return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", name);
    scd_local_input *in = NULL;
    sp_status st = scd_local_input_open(&fmt, fd, name, &in, err);
    if (st != SP_OK)
        return st; /* fmt was freed */
    /* The header's size only (no decoding): elementary streams may not state it. */
    int idx = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (idx >= 0 && fmt->streams[idx]->codecpar->width > 0 &&
        fmt->streams[idx]->codecpar->height > 0) {
        *width = fmt->streams[idx]->codecpar->width;
        *height = fmt->streams[idx]->codecpar->height;
    }
    avformat_close_input(&fmt);
    scd_local_input_free(in);
    return SP_OK;
}
