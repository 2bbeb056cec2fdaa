/* The JSON view of a job (job_json.h), built from what the runtime exposes. */
#include "http/job_json.h"

#include "http/json_members.h"

static void result_to_json(const scd_job_summary *s, JsonBuilder *b) {
    json_builder_set_member_name(b, "result");
    json_builder_begin_object(b);
    scd_json_member_u64(b, "tokens", s->result_tokens);
    scd_json_member_u64(b, "frames", s->frames);
    scd_json_member_u64(b, "tokens_in", s->tokens_in);
    scd_json_member_double(
        b, "reduction", s->tokens_in ? 1.0 - (double)s->result_tokens / (double)s->tokens_in : 0);
    scd_json_member_u64(b, "temporal_drops", s->temporal_drops);
    scd_json_member_u64(b, "spatial_drops", s->spatial_drops);
    scd_json_member_u64(b, "windows", s->windows);
    scd_json_member_double(b, "wall_seconds", s->wall_seconds);
    scd_json_member_double(b, "selection_ms_per_frame", s->selection_ms_per_frame);
    scd_json_member_double(b, "video_seconds_sampled", s->video_seconds_sampled);
    json_builder_set_member_name(b, "frame_times");
    json_builder_begin_array(b);
    for (guint i = 0; s->frame_times && i < s->frame_times->len; i++)
        json_builder_add_double_value(b, g_array_index(s->frame_times, double, i));
    json_builder_end_array(b);
    json_builder_set_member_name(b, "tokens_url");
    char *url = g_strdup_printf("/v1/jobs/%s/tokens", s->id);
    json_builder_add_string_value(b, url);
    g_free(url);
    json_builder_end_object(b);
}

void scd_job_to_json(scd_job *job, JsonBuilder *b) {
    scd_job_summary s;
    scd_job_get_summary(job, &s);
    json_builder_begin_object(b);
    scd_json_member_str(b, "id", s.id);
    scd_json_member_str(b, "state", scd_job_state_name(s.state));
    scd_json_member_str(b, "path", s.path);
    scd_json_member_double(b, "fps", s.fps);
    scd_json_member_u64(b, "budget", s.budget);
    scd_json_member_str(b, "query", s.query);
    scd_json_member_double(b, "progress", s.progress);
    scd_json_member_u64(b, "frames", s.frames);
    scd_json_member_u64(b, "tokens_in", s.tokens_in);
    scd_json_member_u64(b, "tokens_out", s.tokens_out);
    if (s.error)
        scd_json_member_str(b, "error", s.error);
    if (s.state == SCD_JOB_DONE)
        result_to_json(&s, b);
    json_builder_end_object(b);
    scd_job_summary_clear(&s);
}

void scd_jobs_each_json(scd_jobs *j, JsonBuilder *b) {
    for (guint i = 0; i < scd_jobs_count(j); i++)
        scd_job_to_json(scd_jobs_nth(j, i), b);
}
