/* --exit-when-done report (summary.h). */
#include "process/summary.h"

#include <inttypes.h>
#include <json-glib/json-glib.h>

#include "http/stream_json.h"
#include "runtime/streams.h"

static const char *source_text(const scd_stream_cfg *c) {
    switch (c->source_kind) {
        case SCD_SOURCE_URI:
            return c->uri;
        case SCD_SOURCE_PIPELINE:
            return c->pipeline;
        default:
            return c->file;
    }
}

static const char *source_kind(const scd_stream_cfg *c) {
    return c->source_kind == SCD_SOURCE_URI        ? "uri"
           : c->source_kind == SCD_SOURCE_PIPELINE ? "pipeline"
                                                   : "file";
}

void scd_print_summary(scd_app *app, FILE *out) {
    for (guint i = 0; i < scd_streams_count(app->streams); i++) {
        scd_stream *st = scd_streams_at(app->streams, i);
        const scd_stream_cfg *c = scd_stream_cfg_of(st);
        scd_stream_summary s;
        scd_stream_get_summary(st, &s);
        fprintf(out, "stream %s (%s %s, %g fps, %s encoder): %s\n", scd_stream_id(st),
                source_kind(c), source_text(c), c->fps,
                c->encoder.backend == SCD_ENCODER_CLIP ? "clip" : "patch",
                scd_stream_state_name(s.state));
        if (scd_stream_last_error(st))
            fprintf(out, "  last error  %s\n", scd_stream_last_error(st));
        scd_query *q = scd_stream_query(st);
        fprintf(out, "  query       %s\n", q ? q->describe : "none (diversity)");
        if (c->source_kind == SCD_SOURCE_FILE)
            fprintf(out, "  frames      %" PRIu64 " sampled by the FFmpeg sampler\n", s.frames);
        else
            fprintf(out, "  frames      %" PRIu64 " sampled of %" PRIu64 " decoded\n", s.frames,
                    s.frames_seen);
        fprintf(out,
                "  encoder     frames_encoded %" PRIu64 ", frames_skipped %" PRIu64
                " (unchanged: the last tokens stood for them)\n",
                s.frames_encoded, s.frames_skipped);
        double reduction = s.tokens_in ? 100.0 * (1.0 - (double)s.tokens_out / s.tokens_in) : 0;
        fprintf(out,
                "  tokens      %" PRIu64 " in -> %" PRIu64 " out in %" PRIu64
                " packets (%.1f%% fewer)\n",
                s.tokens_in, s.tokens_out, s.packets, reduction);
        fprintf(out,
                "  dropped     %" PRIu64 " as temporal repeats, %" PRIu64
                " by GSP before the query DPP\n",
                s.temporal_drops, s.spatial_drops);
        fprintf(out,
                "  selection   %.2f ms per frame, %.2f ms per packet (mean), %.2f ms at most\n",
                s.frames ? (double)s.select_ns_total / 1e6 / (double)s.frames : 0.0,
                s.emissions ? (double)s.select_ns_total / 1e6 / (double)s.emissions : 0.0,
                (double)s.select_ns_max / 1e6);
        char *last_st = scd_stream_last_safetensors(st);
        char *last_png = scd_stream_last_png(st);
        if (s.st_files)
            fprintf(out, "  safetensors %" PRIu64 " files, newest %s\n", s.st_files, last_st);
        if (s.png_files)
            fprintf(out, "  overlay     %" PRIu64 " PNG files, newest %s\n", s.png_files, last_png);
        if (s.sink_errors)
            fprintf(out, "  sink errors %" PRIu64 "\n", s.sink_errors);
        if (s.restarts)
            fprintf(out, "  restarts    %u\n", s.restarts);
        if (s.damaged)
            fprintf(out, "  damaged     %" PRIu64 " packets or frames skipped\n", s.damaged);
        g_free(last_st);
        g_free(last_png);
    }
    fflush(out);
}

void scd_print_summary_json(scd_app *app, FILE *out) {
    for (guint i = 0; i < scd_streams_count(app->streams); i++) {
        JsonBuilder *b = json_builder_new();
        scd_stream_to_json(scd_streams_at(app->streams, i), b);
        JsonNode *root = json_builder_get_root(b);
        JsonGenerator *gen = json_generator_new();
        json_generator_set_root(gen, root);
        gchar *text = json_generator_to_data(gen, NULL);
        fprintf(out, "%s\n", text);
        g_free(text);
        g_object_unref(gen);
        json_node_unref(root);
        g_object_unref(b);
    }
    fflush(out);
}
