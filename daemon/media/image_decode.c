/* PNG and JPEG decoding without a demuxer (image_decode.h). */
#include "media/image_decode.h"

#include <libavcodec/avcodec.h>
#include <string.h>

scd_image_kind scd_image_kind_of(const uint8_t *data, size_t len) {
    static const uint8_t png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len >= sizeof png && memcmp(data, png, sizeof png) == 0)
        return SCD_IMAGE_PNG;
    if (len >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
        return SCD_IMAGE_JPEG;
    return SCD_IMAGE_UNKNOWN;
}

static sp_status decode_error(const char *name, const char *what, int code, sp_error *err) {
    if (code == AVERROR(ENOMEM))
        return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", name);
    char eb[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(code, eb, sizeof eb);
    return sp_error_set(err, SP_ERR_FORMAT, "%s: %s: %s", name, what, eb);
}

/* The whole file as one packet, then a flush: the first picture it holds. */
static sp_status decode_first(AVCodecContext *dec, const uint8_t *data, size_t len,
                              const char *name, AVFrame *frame, sp_error *err) {
    AVPacket *pkt = av_packet_alloc();
    if (!pkt || av_new_packet(pkt, (int)len) < 0) {
        av_packet_free(&pkt);
        return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", name);
    }
    memcpy(pkt->data, data, len);
    pkt->flags |= AV_PKT_FLAG_KEY;
    int ret = avcodec_send_packet(dec, pkt);
    av_packet_free(&pkt);
    if (ret < 0)
        return decode_error(name, "the image cannot be decoded", ret, err);
    ret = avcodec_send_packet(dec, NULL);
    if (ret < 0 && ret != AVERROR_EOF)
        return decode_error(name, "the image cannot be decoded", ret, err);
    ret = avcodec_receive_frame(dec, frame);
    if (ret == AVERROR_EOF || ret == AVERROR(EAGAIN))
        return sp_error_set(err, SP_ERR_FORMAT, "%s: the image holds no picture", name);
    if (ret < 0)
        return decode_error(name, "the image cannot be decoded", ret, err);
    if (frame->width <= 0 || frame->height <= 0)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: the image holds no picture", name);
    return SP_OK;
}

sp_status scd_image_decode(const uint8_t *data, size_t len, const char *name, scd_image *out,
                           sp_error *err) {
    memset(out, 0, sizeof *out);
    scd_image_kind kind = scd_image_kind_of(data, len);
    if (kind == SCD_IMAGE_UNKNOWN)
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "%s: not a PNG or JPEG image (by its first bytes)", name);
    if (len > INT32_MAX - AV_INPUT_BUFFER_PADDING_SIZE)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: the image file is too large", name);
    const AVCodec *codec =
        avcodec_find_decoder(kind == SCD_IMAGE_PNG ? AV_CODEC_ID_PNG : AV_CODEC_ID_MJPEG);
    if (!codec)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: this FFmpeg has no %s decoder", name,
                            kind == SCD_IMAGE_PNG ? "PNG" : "JPEG");
    sp_status st = SP_OK;
    AVFrame *frame = av_frame_alloc();
    AVCodecContext *dec = avcodec_alloc_context3(codec);
    if (!frame || !dec) {
        st = sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", name);
        goto end;
    }
    dec->thread_count = 1;
    dec->max_pixels = SCD_IMAGE_MAX_PIXELS;
    int ret = avcodec_open2(dec, codec, NULL);
    if (ret < 0) {
        st = decode_error(name, "opening the image decoder", ret, err);
        goto end;
    }
    st = decode_first(dec, data, len, name, frame, err);
    if (st)
        goto end;
    int w = 0, h = 0;
    st = scd_rgb_convert(&out->conv, frame, 0, name, &w, &h, err);
    if (st)
        goto end;
    out->width = w;
    out->height = h;
    out->stride = (size_t)w * 3;
    out->rgb = out->conv.rgb;
end:
    avcodec_free_context(&dec);
    av_frame_free(&frame);
    return st;
}

void scd_image_clear(scd_image *img) {
    scd_rgb_conv_clear(&img->conv);
    memset(img, 0, sizeof *img);
}
