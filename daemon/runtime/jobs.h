/* Jobs: long-video questions over files (POST /v1/jobs). A job samples a file under the media
 * root at its fps with the FFmpeg sampler, runs the stream tail (scriptencode, scriptprune with
 * the config's defaults) to the end, then reselects `budget` tokens over the whole video with the
 * job's query: the result is one safetensors file and a summary.
 *
 * At most server.max_running_jobs run at once; the others wait in submission order. Finished
 * jobs stay (with their result) until server.max_jobs forces the oldest out. A running job's
 * pipeline is freed as soon as it ends.
 *
 * Threads: main thread, except the frame counters the pipeline updates. */
#ifndef SCRIPTD_JOBS_H
#define SCRIPTD_JOBS_H

#include "app.h"
#include "runtime/query.h"

typedef enum scd_job_state {
    SCD_JOB_QUEUED = 0,
    SCD_JOB_RUNNING,
    SCD_JOB_DONE,
    SCD_JOB_FAILED,
    SCD_JOB_CANCELLED,
} scd_job_state;

const char *scd_job_state_name(scd_job_state s);

typedef struct scd_job_request {
    int fd;           /* the video, opened under the media root by the caller (scd_media_open);
                       * the job owns it and closes it when it finishes. -1: none */
    char *path_shown; /* as the client wrote it (also names the file in messages) */
    double fps;
    guint budget;     /* tokens in the result */
    scd_query *query; /* may be NULL: a diversity selection */
} scd_job_request;

typedef struct scd_job scd_job;
typedef struct scd_jobs scd_jobs;

scd_jobs *scd_jobs_new(scd_app *app);
/* Stops running jobs and frees everything. */
void scd_jobs_free(scd_jobs *j);

/* Queues a job (takes ownership of req's contents and clears it). SP_ERR_STATE when the job
 * table is full of unfinished jobs. *id_out: the job id (borrowed from the job). */
sp_status scd_jobs_submit(scd_jobs *j, scd_job_request *req, const char **id_out, sp_error *err);
scd_job *scd_jobs_find(scd_jobs *j, const char *id);
/* Cancels a queued or running job (no-op for finished ones); returns its state afterwards. */
scd_job_state scd_jobs_cancel(scd_jobs *j, scd_job *job);
/* Forgets a job (cancelling it first). */
void scd_jobs_remove(scd_jobs *j, scd_job *job);

scd_job_state scd_job_state_of(const scd_job *job);
const char *scd_job_id(const scd_job *job);
/* The result safetensors (borrowed) of a DONE job, else NULL. */
GBytes *scd_job_tokens(const scd_job *job);

/* What a view shows of a job (http/job_json.c). Strings are borrowed from the job (valid until
 * it is removed); frame_times is a copy (seconds of the sampled frames, done jobs only, else
 * NULL): free it with scd_job_summary_clear. Main thread. */
typedef struct scd_job_summary {
    const char *id, *path, *query, *error; /* query: its description, NULL = none */
    scd_job_state state;
    double fps, progress; /* progress: 0 .. 1 */
    guint budget, result_tokens;
    uint64_t frames, tokens_in, tokens_out, windows;
    uint64_t temporal_drops, spatial_drops;
    double wall_seconds, selection_ms_per_frame, video_seconds_sampled;
    GArray *frame_times; /* double */
} scd_job_summary;

void scd_job_get_summary(scd_job *job, scd_job_summary *out);
void scd_job_summary_clear(scd_job_summary *s);
/* The jobs in submission order: n of them, the i-th (borrowed). */
guint scd_jobs_count(const scd_jobs *j);
scd_job *scd_jobs_nth(scd_jobs *j, guint i);

/* True when no job is queued or running. */
gboolean scd_jobs_idle(scd_jobs *j);
void scd_jobs_refresh_metrics(scd_jobs *j);

#endif
