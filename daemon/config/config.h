/* scriptd's configuration: the typed result of reading a YAML file, and the reader's API.
 *
 * Every key is declared once, in the table of config_schema.c (type, default, range, doc); that
 * table drives the reader, the defaults, --print-config (scd_config_to_yaml) and the generated
 * reference (scd_config_reference_markdown, committed as docs/config.md). The reader is strict:
 * unknown and duplicate keys, anchors, aliases, explicit tags, several documents, nesting deeper
 * than SCD_CONFIG_MAX_DEPTH, null values and loose YAML 1.1 spellings are errors. Errors name the
 * file, the 1-based line and column and the key, and echo the line with a caret under the column.
 *
 * Memory: strings are GLib allocations (GLib aborts the process when out of memory, the daemon's
 * policy). A scd_config is immutable after loading and may be read from any thread. */
#ifndef SCRIPTD_CONFIG_H
#define SCRIPTD_CONFIG_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "telemetry/log.h"
#include "scriptprune/error.h"
#include "scriptprune/params.h"
#include "scriptprune/select.h"

#define SCD_CONFIG_MAX_BYTES (1024 * 1024) /* larger files are refused before parsing */
#define SCD_CONFIG_MAX_DEPTH 8             /* mappings/sequences nested deeper are refused */
#define SCD_CONFIG_MAX_STREAMS 256
#define SCD_CONFIG_MAX_SINKS 16
#define SCD_CONFIG_MAX_WATCHES 16
#define SCD_STREAM_ID_MAX 64

typedef enum scd_log_format_cfg {
    SCD_LOG_FORMAT_AUTO = 0, /* journal prefixes when stderr is the journal, else plain */
    SCD_LOG_FORMAT_JOURNAL,
    SCD_LOG_FORMAT_PLAIN,
} scd_log_format_cfg;

typedef enum scd_encoder_backend { SCD_ENCODER_PATCH = 0, SCD_ENCODER_CLIP } scd_encoder_backend;
typedef enum scd_emit { SCD_EMIT_FRAME = 0, SCD_EMIT_WINDOW } scd_emit;
/* Values in the order of the config's choices: snapshot, delta (core's sp_packet_mode). */
typedef enum scd_packet_mode { SCD_PACKET_SNAPSHOT = 0, SCD_PACKET_DELTA } scd_packet_mode;
typedef enum scd_source_kind {
    SCD_SOURCE_URI = 0,
    SCD_SOURCE_PIPELINE,
    SCD_SOURCE_FILE
} scd_source_kind;
typedef enum scd_query_kind {
    SCD_QUERY_NONE = 0,
    SCD_QUERY_TEXT,
    SCD_QUERY_EMBEDDING,
    SCD_QUERY_IMAGE,
} scd_query_kind;
typedef enum scd_sink_kind {
    SCD_SINK_SCRIPTSINK = 0,
    SCD_SINK_SAFETENSORS_DIR,
    SCD_SINK_FOLLOW,
    SCD_SINK_OVERLAY_DIR,
    SCD_SINK_REDIS,
} scd_sink_kind;
typedef enum scd_wire_dtype { SCD_WIRE_F32 = 0, SCD_WIRE_F16 } scd_wire_dtype;

typedef struct scd_server_cfg {
    char *listen;      /* "host:port" as written, "" = no TCP listener */
    char *listen_host; /* parsed host ("::1" without brackets), NULL when listen is "" */
    int listen_port;   /* 0 = any free port */
    char *unix_socket; /* "" = none */
    char *token_file;  /* "" = no authentication */
    uint64_t max_body_bytes;
    double header_timeout_s;     /* a connection must send its whole request head within this */
    double body_timeout_s;       /* and its whole body within this after the head */
    int max_connections;         /* open HTTP connections; more get 503 */
    char *media_root;            /* "" = jobs refused */
    int blas_threads;            /* 0 = OpenBLAS decides (default 1) */
    uint64_t follow_queue_bytes; /* unsent bytes a follow client may lag before it is dropped */
    double restart_min_s;        /* first delay before a failed source is restarted */
    double restart_max_s;        /* the delay doubles up to this */
    int max_jobs;                /* jobs kept (queued, running and finished) */
    int max_running_jobs;        /* jobs decoding at the same time */
    scd_log_level log_level;
    scd_log_format_cfg log_format;
} scd_server_cfg;

typedef struct scd_encoder_cfg {
    scd_encoder_backend backend;
    char *model; /* "" = none (the patch encoder needs no weights) */
    char
        *text_model; /* "" = none; clip with a LLaVA model: CLIP/SigLIP folder of the joint space */
    int image_size;  /* 0 = the backend's default (patch 336, clip the model's own) */
    int patch_size;
    int output_layer;
    int threads;   /* 0 = automatic */
    int max_batch; /* clip: most frames of the sharing streams per forward pass */
    /* The change gate before the encoder (core's scriptprune/change_gate.h). */
    int skip_unchanged;      /* sp_skip_unchanged: auto (on for clip), true, false */
    double change_threshold; /* 8-bit levels */
    double max_skip_s;       /* seconds; 0 = every sampled frame is encoded */
} scd_encoder_cfg;

typedef struct scd_pruning_cfg {
    sp_method method;
    scd_emit emit;
    scd_packet_mode packet_mode;
    int frame_budget;
    int window; /* sampled frames per window */
    int hop;    /* sampled frames between window starts */
    int window_budget;
    double tau;
    double temporal_tau;
    int temporal_radius;
    bool match_all;
    double cut_fraction;
    uint64_t history_bytes;
    double history_max_age_s; /* 0 = no age limit */
    sp_graph graph;
    double gsp_keep; /* `rho` in older configs */
    int k_min;
    double gamma;
    double kernel_sigma;
    double mass_gamma;
    double query_kernel_sigma;
    int window_max_tokens;
    int reselect_max;
    uint64_t seed;
} scd_pruning_cfg;

/* The value of parameter id of core's table in p, in the table's unit (history_max_age_s as
 * nanoseconds); false when the config has no key for it. */
bool scd_pruning_param(const scd_pruning_cfg *p, sp_param_id id, double *out);

typedef struct scd_query_cfg {
    scd_query_kind kind;
    char *text;      /* kind TEXT */
    char *embedding; /* kind EMBEDDING: path to a .npy */
    char *image;     /* kind IMAGE: path to an exemplar image */
} scd_query_cfg;

typedef struct scd_sink_cfg {
    scd_sink_kind kind;
    char *scriptsink;      /* file:///path, unix:///path or tcp://host:port */
    char *safetensors_dir; /* one safetensors file per window */
    bool follow;           /* HTTP /v1/streams/{id}/follow enabled */
    char *overlay_dir;     /* PNG of the overlay of each frame that completed an emission */
    /* redis: one XADD per packet (redis_sink.h); the keys below apply to redis sinks only. */
    char *redis;          /* redis://[:password@]host:port[/db] or unix:///path[?db=N] */
    char *key;            /* stream key; "{stream}" is replaced by the stream id */
    uint64_t maxlen;      /* XADD MAXLEN ~ maxlen; 0 = no trimming */
    char *password_file;  /* "" = the URL's password, if any */
    uint64_t queue_bytes; /* packets held while Redis is slow or away; oldest dropped beyond */
    int dtype;            /* scd_wire_dtype of the token values in the wire bytes */
} scd_sink_cfg;

/* A standing question (runtime/watch.h): asked of the MLLM over the latest windows of a stream. */
typedef struct scd_watch_cfg {
    char *question;    /* sent as the chat's question and encoded by the text tower */
    int every_windows; /* asked on every N-th emitted packet, over the latest N */
    int budget;        /* tokens reselected over those packets; 0 = the stream's packet budget */
} scd_watch_cfg;

typedef struct scd_stream_cfg {
    char *id;
    scd_source_kind source_kind;
    char *uri;      /* SCD_SOURCE_URI */
    char *pipeline; /* SCD_SOURCE_PIPELINE */
    char *file;     /* SCD_SOURCE_FILE (absolute after loading from a file) */
    double fps;
    int decode_threads;      /* file: FFmpeg decoder threads, 0 = automatic */
    int decode_workers;      /* file: parallel samplers, 0 = one per CPU (at most 4) */
    scd_encoder_cfg encoder; /* defaults.encoder with this stream's overrides merged in */
    scd_pruning_cfg pruning; /* defaults.pruning with this stream's overrides merged in */
    scd_query_cfg query;
    scd_sink_cfg *sinks;
    size_t n_sinks;
    scd_watch_cfg *watch;
    size_t n_watch;
} scd_stream_cfg;

typedef enum scd_cameras_from { SCD_CAMERAS_CONFIG = 0, SCD_CAMERAS_REDIS } scd_cameras_from;

/* Many nodes sharing the cameras (cluster.h): "" redis = this node runs every stream itself. */
typedef struct scd_cluster_cfg {
    char *redis;         /* Redis URL holding the node and camera leases */
    char *node;          /* this node's name; "" = the host name */
    int lease_ms;        /* node and camera lease time */
    char *password_file; /* "" = the URL's password, if any */
    int cameras;         /* scd_cameras_from: the config's streams, or the hash cameras_key */
    char *cameras_key;   /* Redis hash: stream id -> YAML of one stream */
} scd_cluster_cfg;

/* What the multimodal LLM downstream takes (docs/mllm.md): the chat payloads scriptd builds. */
typedef struct scd_mllm_cfg {
    char *url;         /* an OpenAI-compatible /v1/chat/completions URL; "" = no `ask` */
    char *token_file;  /* "" = no Authorization header */
    double timeout_s;  /* deadline of one chat request */
    int max_tokens;    /* the answer's length limit sent with each request */
    char *model;       /* the "model" of chat requests ("" = left to the server) */
    int embeds_format; /* sp_embeds_format of image_embeds parts */
    int embeds_dtype;  /* SCD_WIRE_F32 or SCD_WIRE_F16: their values */
} scd_mllm_cfg;

typedef struct scd_config {
    char *source_name; /* the file path, or the name given to scd_config_load_string */
    scd_server_cfg server;
    scd_cluster_cfg cluster;
    scd_mllm_cfg mllm;
    scd_encoder_cfg encoder; /* defaults.encoder */
    scd_pruning_cfg pruning; /* defaults.pruning */
    scd_stream_cfg *streams;
    size_t n_streams;
} scd_config;

enum { SCD_CONFIG_ERROR_MAX = 2048 };

/* A reader error. line/column are 1-based (0 when the error has no position, e.g. an unreadable
 * file); key is the dotted path ("streams[1].pruning.hop") or "" when no key applies. message is
 * the whole report: "FILE:LINE:COL: key 'K': REASON", then the offending line and a caret. */
typedef struct scd_config_error {
    sp_status status;
    unsigned line;
    unsigned column;
    char key[256];
    char reason[512];
    char message[SCD_CONFIG_ERROR_MAX];
} scd_config_error;

/* Reads and validates the file at path. Relative paths inside the file are resolved against the
 * file's directory. On success *out owns a new config (free with scd_config_free). */
sp_status scd_config_load_file(const char *path, scd_config **out, scd_config_error *err);

/* Reads len bytes of YAML text. name is used in messages (e.g. "<string>"); relative paths inside
 * are resolved against base_dir, or kept relative when base_dir is NULL. */
sp_status scd_config_load_string(const char *text, size_t len, const char *name,
                                 const char *base_dir, scd_config **out, scd_config_error *err);

/* A config with every default and no streams (what an empty file gives). */
scd_config *scd_config_new_default(void);
void scd_config_free(scd_config *cfg);

/* The stream with this id, or NULL. */
const scd_stream_cfg *scd_config_find_stream(const scd_config *cfg, const char *id);

/* The effective config as YAML with every key (per-stream encoder and pruning fully merged);
 * reading it back gives the same config. Returned string is g_free'd by the caller. */
char *scd_config_to_yaml(const scd_config *cfg);

/* --check: the files the config names (server.token_file, file: sources, query images and
 * embeddings, encoder models: weights file or folder) exist and are readable now. Each problem is
 * appended to out as a reader error ("FILE:LINE:COL: key 'K': REASON" and the line with a caret);
 * text and len are the config's text, for the positions. Returns the number of problems. */
unsigned scd_config_check_files(const scd_config *cfg, const char *text, size_t len, GString *out);

/* The reference of every key as Markdown (docs/config.md is this text). g_free the result. */
char *scd_config_reference_markdown(void);

/* The same table alone, for the README section between its markers. g_free the result. */
char *scd_config_reference_table(void);

#endif
