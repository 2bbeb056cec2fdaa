/* Reading queries from HTTP requests (http_query.h). */
#include "http/http_query.h"

#include <errno.h>
#include <stdbool.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/http_util.h"
#include "media/image_decode.h"
#include "media/media_path.h"

enum { MAX_QUERY_ROWS = 65536, MAX_QUERY_WIDTH = 65536 };
/* An exemplar image read by path; uploads are bounded by server.max_body_bytes. */
enum { MAX_IMAGE_FILE = 64 << 20 };

static void query_error(SoupServerMessage *msg, sp_status st, const sp_error *err) {
    scd_http_error_status(msg, st, st == SP_ERR_UNSUPPORTED ? "unsupported_query" : "invalid_query",
                          err->message);
}

/* Rows of numbers from a JSON array (of arrays). Replies and returns FALSE when malformed. */
static gboolean floats_from_array(SoupServerMessage *msg, JsonArray *arr, float **rows, size_t *m,
                                  size_t *e) {
    guint n = json_array_get_length(arr);
    if (n == 0) {
        scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_query", "the embedding is empty");
        return FALSE;
    }
    JsonNode *first = json_array_get_element(arr, 0);
    bool one_row = JSON_NODE_HOLDS_VALUE(first);
    size_t nrows = one_row ? 1 : n;
    size_t width = one_row ? n : 0;
    if (!one_row) {
        if (!JSON_NODE_HOLDS_ARRAY(first)) {
            scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_query",
                           "embedding must be an array of numbers or of arrays of numbers");
            return FALSE;
        }
        width = json_array_get_length(json_node_get_array(first));
    }
    if (width == 0 || nrows > MAX_QUERY_ROWS || width > MAX_QUERY_WIDTH) {
        scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_query",
                       "the embedding's shape %zu x %zu is empty or too large", nrows, width);
        return FALSE;
    }
    float *out = g_new(float, nrows *width);
    for (size_t r = 0; r < nrows; r++) {
        JsonArray *row = arr;
        if (!one_row) {
            JsonNode *rn = json_array_get_element(arr, (guint)r);
            if (!JSON_NODE_HOLDS_ARRAY(rn) ||
                json_array_get_length(json_node_get_array(rn)) != width) {
                scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_query",
                               "embedding row %zu is not an array of %zu numbers", r, width);
                g_free(out);
                return FALSE;
            }
            row = json_node_get_array(rn);
        }
        for (size_t c = 0; c < width; c++) {
            JsonNode *v = json_array_get_element(row, (guint)c);
            GType t = JSON_NODE_HOLDS_VALUE(v) ? json_node_get_value_type(v) : G_TYPE_INVALID;
            if (t != G_TYPE_DOUBLE && t != G_TYPE_INT64) {
                scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_query",
                               "embedding value [%zu][%zu] is not a number", r, c);
                g_free(out);
                return FALSE;
            }
            double x = json_node_get_double(v);
            if (!isfinite((float)x)) {
                scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_query",
                               "embedding value [%zu][%zu] is not a finite float32", r, c);
                g_free(out);
                return FALSE;
            }
            out[r * width + c] = (float)x;
        }
    }
    *rows = out;
    *m = nrows;
    *e = width;
    return TRUE;
}

static gboolean floats_from_base64(SoupServerMessage *msg, JsonObject *o, float **rows, size_t *m,
                                   size_t *e) {
    const char *b64 = scd_json_string(o, "base64");
    gint64 nr = 0, nw = 0;
    scd_json_int(o, "rows", &nr);
    scd_json_int(o, "width", &nw);
    if (!b64 || nr < 1 || nw < 1 || nr > MAX_QUERY_ROWS || nw > MAX_QUERY_WIDTH) {
        scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_query",
                       "embedding object needs \"base64\" (string), \"rows\" and \"width\" "
                       "(integers >= 1)");
        return FALSE;
    }
    gsize len = 0;
    guchar *raw = g_base64_decode(b64, &len);
    if (len != (gsize)nr * (gsize)nw * sizeof(float)) {
        scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_query",
                       "the base64 data holds %zu bytes, not rows x width x 4 = %zu", len,
                       (gsize)nr * (gsize)nw * sizeof(float));
        g_free(raw);
        return FALSE;
    }
    float *out = g_new(float, (gsize)nr *(gsize)nw);
    for (gsize i = 0; i < (gsize)nr * (gsize)nw; i++) {
        guint32 bits;
        memcpy(&bits, raw + 4 * i, 4);
        bits = GUINT32_FROM_LE(bits);
        memcpy(&out[i], &bits, 4);
    }
    g_free(raw);
    *rows = out;
    *m = (size_t)nr;
    *e = (size_t)nw;
    return TRUE;
}

/* An exemplar image's bytes to rows. Not PNG or JPEG (by its first bytes): 415. */
static scd_query *from_image_data(scd_app *app, SoupServerMessage *msg, const scd_encoder_cfg *enc,
                                  const void *data, gsize len, sp_exemplar mode,
                                  const scd_frame_size *frame, const char *label) {
    if (len == 0) {
        scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_query", "the image is empty");
        return NULL;
    }
    if (scd_image_kind_of(data, len) == SCD_IMAGE_UNKNOWN) {
        scd_http_error(msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE, "unsupported_image",
                       "exemplar image %s: not a PNG or JPEG image (by its first bytes)", label);
        return NULL;
    }
    sp_error err;
    scd_query *q = NULL;
    sp_status st =
        scd_query_from_image_data(app->encoders, enc, data, len, mode, frame, label, &q, &err);
    if (st != SP_OK)
        query_error(msg, st == SP_ERR_IO || st == SP_ERR_NOT_FOUND ? SP_ERR_FORMAT : st, &err);
    return q;
}

/* The whole of a file opened under the media root; NULL after replying with an error. */
static GBytes *read_image_file(SoupServerMessage *msg, int fd, const char *path) {
    struct stat sb;
    if (fstat(fd, &sb) != 0 || sb.st_size > MAX_IMAGE_FILE) {
        scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_query",
                       "exemplar image '%s' is larger than %d MiB", path, MAX_IMAGE_FILE >> 20);
        return NULL;
    }
    GByteArray *buf = g_byte_array_sized_new((guint)sb.st_size);
    guint8 chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || buf->len + (gsize)n > MAX_IMAGE_FILE) {
            scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_query",
                           "exemplar image '%s' cannot be read: %s", path,
                           n < 0 ? g_strerror(errno) : "it keeps growing");
            g_byte_array_unref(buf);
            return NULL;
        }
        if (n == 0)
            break;
        g_byte_array_append(buf, chunk, (guint)n);
    }
    return g_byte_array_free_to_bytes(buf);
}

void scd_http_path_refused(SoupServerMessage *msg, scd_path_result pr, const char *why,
                           const char *invalid_code) {
    guint status = pr == SCD_PATH_MISSING                                ? SOUP_STATUS_NOT_FOUND
                   : pr == SCD_PATH_NOT_FILE || pr == SCD_PATH_MALFORMED ? SOUP_STATUS_BAD_REQUEST
                                                                         : SOUP_STATUS_FORBIDDEN;
    scd_http_error(msg, status,
                   status == SOUP_STATUS_NOT_FOUND     ? "not_found"
                   : status == SOUP_STATUS_BAD_REQUEST ? invalid_code
                                                       : "forbidden",
                   "%s", why);
}

gboolean scd_http_query_from_json(scd_app *app, SoupServerMessage *msg, JsonObject *o,
                                  const scd_encoder_cfg *enc, sp_exemplar mode,
                                  const scd_frame_size *frame, scd_query **out) {
    *out = NULL;
    if (!o)
        return TRUE;
    int kinds = json_object_has_member(o, "text") + json_object_has_member(o, "embedding") +
                json_object_has_member(o, "image");
    if (kinds != 1) {
        scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_query",
                       "a query has exactly one of \"text\", \"embedding\", \"image\"");
        return FALSE;
    }
    sp_error err;
    sp_status st;
    if (json_object_has_member(o, "text")) {
        const char *text = scd_json_string(o, "text");
        if (!text) {
            scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_query",
                           "\"text\" must be a string");
            return FALSE;
        }
        st = scd_query_from_text(app->encoders, enc, text, out, &err);
    } else if (json_object_has_member(o, "image")) {
        const char *path = scd_json_string(o, "image");
        if (!path) {
            scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_query",
                           "\"image\" must be a path (string) under the media root");
            return FALSE;
        }
        int fd = -1;
        char *why = NULL;
        scd_path_result pr =
            scd_media_open(scd_app_config(app)->server.media_root, path, &fd, &why);
        if (pr != SCD_PATH_OK) {
            scd_http_path_refused(msg, pr, why, "invalid_query");
            g_free(why);
            return FALSE;
        }
        GBytes *bytes = read_image_file(msg, fd, path);
        close(fd);
        if (bytes) {
            gsize len = 0;
            const void *data = g_bytes_get_data(bytes, &len);
            *out = from_image_data(app, msg, enc, data, len, mode, frame, path);
            g_bytes_unref(bytes);
        }
        return *out != NULL;
    } else {
        JsonNode *n = json_object_get_member(o, "embedding");
        float *rows = NULL;
        size_t m = 0, e = 0;
        gboolean ok;
        if (JSON_NODE_HOLDS_ARRAY(n))
            ok = floats_from_array(msg, json_node_get_array(n), &rows, &m, &e);
        else if (JSON_NODE_HOLDS_OBJECT(n))
            ok = floats_from_base64(msg, json_node_get_object(n), &rows, &m, &e);
        else {
            scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_query",
                           "\"embedding\" must be an array of rows or a base64 object");
            ok = FALSE;
        }
        if (!ok)
            return FALSE;
        st = scd_query_from_floats(app->encoders, enc, rows, m, e, out, &err);
        g_free(rows);
    }
    if (st != SP_OK) {
        query_error(msg, st, &err);
        return FALSE;
    }
    return TRUE;
}

static scd_query *from_image_bytes(scd_app *app, SoupServerMessage *msg, const scd_encoder_cfg *enc,
                                   GBytes *bytes, sp_exemplar mode, const scd_frame_size *frame,
                                   const char *label) {
    gsize len = 0;
    const void *data = g_bytes_get_data(bytes, &len);
    return from_image_data(app, msg, enc, data, len, mode, frame, label);
}

static scd_query *from_multipart(scd_app *app, SoupServerMessage *msg, const scd_encoder_cfg *enc,
                                 sp_exemplar mode, const scd_frame_size *frame) {
    SoupMessageBody *body = soup_server_message_get_request_body(msg);
    GBytes *all = soup_message_body_flatten(body);
    gsize total = g_bytes_get_size(all);
    SoupMultipart *mp =
        soup_multipart_new_from_message(soup_server_message_get_request_headers(msg), all);
    g_bytes_unref(all);
    if (!mp) {
        scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_query",
                       "the multipart/form-data body cannot be parsed");
        return NULL;
    }
    GBytes *image = NULL;
    char *label = NULL;
    for (int i = 0; i < soup_multipart_get_length(mp); i++) {
        SoupMessageHeaders *ph = NULL;
        GBytes *pb = NULL;
        if (!soup_multipart_get_part(mp, i, &ph, &pb))
            continue;
        /* libsoup 3.2 gives a part whose closing boundary follows its headers at once (no CRLF
         * before it) a length of (gsize)-2: such a part is refused, never read */
        if (!pb || g_bytes_get_size(pb) > total) {
            scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_query",
                           "the multipart/form-data body cannot be parsed: part %d has no "
                           "well-formed end (a CRLF before the next boundary)",
                           i + 1);
            g_clear_pointer(&image, g_bytes_unref);
            g_free(label);
            soup_multipart_free(mp);
            return NULL;
        }
        char *disposition = NULL;
        GHashTable *params = NULL;
        const char *name = NULL, *filename = NULL;
        if (soup_message_headers_get_content_disposition(ph, &disposition, &params)) {
            name = g_hash_table_lookup(params, "name");
            filename = g_hash_table_lookup(params, "filename");
        }
        const char *ct = soup_message_headers_get_content_type(ph, NULL);
        if (name && strcmp(name, "mode") == 0) {
            gsize n = 0;
            const char *v = g_bytes_get_data(pb, &n);
            char *s = g_strndup(v ? v : "", n);
            g_strstrip(s);
            if (!scd_exemplar_from_name(s, &mode)) {
                scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_query",
                               "mode must be pooled, mean or all, got '%s'", s);
                g_free(s);
                g_free(disposition);
                if (params)
                    g_hash_table_destroy(params);
                g_clear_pointer(&image, g_bytes_unref);
                g_free(label);
                soup_multipart_free(mp);
                return NULL;
            }
            g_free(s);
        } else if (!image && ((name && strcmp(name, "image") == 0) ||
                              (ct && g_str_has_prefix(ct, "image/")))) {
            image = g_bytes_ref(pb);
            label = g_strdup(filename ? filename : "upload");
        }
        g_free(disposition);
        if (params)
            g_hash_table_destroy(params);
    }
    soup_multipart_free(mp);
    if (!image) {
        scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_query",
                       "the form has no image part (name it \"image\")");
        g_free(label);
        return NULL;
    }
    scd_query *q = from_image_bytes(app, msg, enc, image, mode, frame, label);
    g_bytes_unref(image);
    g_free(label);
    return q;
}

scd_query *scd_http_read_query(scd_app *app, SoupServerMessage *msg, GHashTable *params,
                               const scd_encoder_cfg *enc, const scd_frame_size *frame) {
    sp_exemplar mode = SP_EXEMPLAR_ALL; /* an exemplar's parts (docs/streams.md, "Queries") */
    const char *m = params ? g_hash_table_lookup(params, "mode") : NULL;
    if (m && !scd_exemplar_from_name(m, &mode)) {
        scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_parameter",
                       "mode must be pooled, mean or all, got '%s'", m);
        return NULL;
    }
    char *ct = scd_http_content_type(msg);
    scd_query *q = NULL;
    if (g_str_has_prefix(ct, "image/")) {
        SoupMessageBody *body = soup_server_message_get_request_body(msg);
        GBytes *all = soup_message_body_flatten(body);
        q = from_image_bytes(app, msg, enc, all, mode, frame, "upload");
        g_bytes_unref(all);
    } else if (strcmp(ct, "multipart/form-data") == 0) {
        q = from_multipart(app, msg, enc, mode, frame);
    } else if (scd_http_is_json(msg, ct)) {
        JsonParser *parser = NULL;
        JsonObject *o = scd_http_json_body(msg, &parser);
        if (o) {
            scd_http_query_from_json(app, msg, o, enc, mode, frame, &q);
            g_object_unref(parser);
        }
    } else {
        scd_http_error(msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                       "a query is JSON, an image (image/*) or multipart/form-data, not '%s'", ct);
    }
    g_free(ct);
    return q;
}
