/* The client of the multimodal LLM downstream: one chat request (an OpenAI-compatible
 * /v1/chat/completions body) sent to mllm.url, asynchronously on the main loop, with the bearer
 * token of mllm.token_file and a deadline of mllm.timeout_s. Nothing waits for it: streams keep
 * running, and the caller gets the outcome in a callback. Main thread. */
#ifndef SCRIPTD_MLLM_CLIENT_H
#define SCRIPTD_MLLM_CLIENT_H

#include <gio/gio.h>

#include "config/config.h"

typedef enum scd_mllm_outcome {
    SCD_MLLM_OK = 0,      /* an answer */
    SCD_MLLM_UPSTREAM,    /* the server answered with an error, or not with a chat completion */
    SCD_MLLM_UNREACHABLE, /* no connection (refused, name unknown, reset) */
    SCD_MLLM_TIMEOUT,     /* no answer within mllm.timeout_s */
    SCD_MLLM_LOCAL,       /* our side: the token file cannot be read */
    SCD_MLLM_CANCELLED,   /* the caller cancelled (its client went away) */
} scd_mllm_outcome;

typedef struct scd_mllm_result {
    scd_mllm_outcome outcome;
    guint upstream_status; /* the HTTP status the server sent, 0 when none */
    const char *message;   /* what went wrong (with the server's own words), or NULL */
    const char *answer;    /* choices[0].message.content (SCD_MLLM_OK) */
    const char *model;     /* the model the server named, or NULL */
    double elapsed_ms;
} scd_mllm_result;

/* Receives the outcome once; the result is valid during the call only. */
typedef void (*scd_mllm_done_fn)(void *user, const scd_mllm_result *r);

typedef struct scd_mllm scd_mllm;

scd_mllm *scd_mllm_new(void);
/* Cancels what is in flight (callbacks run with SCD_MLLM_CANCELLED later on the main loop, so
 * call before the main loop's last iterations). NULL is accepted. */
void scd_mllm_free(scd_mllm *m);

/* Sends body (a JSON chat request) to cfg->url. cancel may be NULL. done is always called
 * exactly once, from the main loop, never from within this call. */
void scd_mllm_chat(scd_mllm *m, const scd_mllm_cfg *cfg, GBytes *body, GCancellable *cancel,
                   scd_mllm_done_fn done, void *user);

#endif
