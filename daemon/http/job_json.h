/* The JSON view of a job (GET /v1/jobs, /v1/jobs/{id}): its request, state, counters and, once
 * done, its result. Main thread. */
#ifndef SCRIPTD_JOB_JSON_H
#define SCRIPTD_JOB_JSON_H

#include <json-glib/json-glib.h>

#include "runtime/jobs.h"

/* Adds one object to b. */
void scd_job_to_json(scd_job *job, JsonBuilder *b);
/* Every job's JSON, in submission order, as array elements of b. */
void scd_jobs_each_json(scd_jobs *j, JsonBuilder *b);

#endif
