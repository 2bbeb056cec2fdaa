/* THE table: every key of scriptd's config, declared once. The reader (config_parse.c), the
 * defaults, --print-config and the reference in docs/config.md (config_emit.c) all read it, so a
 * key added here is parsed, range-checked, printed and documented without further edits.
 * Defaults are written as they would be in a config file and go through the same parser, so a
 * default outside its own range fails the unit tests rather than shipping. */
#include <stddef.h>

#include <string.h>

#include "config/config_internal.h"
#include "scriptprune/params.h"

#define SRV(f) offsetof(scd_server_cfg, f)
#define ENC(f) offsetof(scd_encoder_cfg, f)
#define PRU(f) offsetof(scd_pruning_cfg, f)
#define STR(f) offsetof(scd_stream_cfg, f)
#define QRY(f) offsetof(scd_query_cfg, f)
#define SNK(f) offsetof(scd_sink_cfg, f)
#define CFG(f) offsetof(scd_config, f)
#define CLU(f) offsetof(scd_cluster_cfg, f)
#define MLM(f) offsetof(scd_mllm_cfg, f)
#define WCH(f) offsetof(scd_watch_cfg, f)
#define PARAM(id) ((id) + 1)

static const char *const log_levels[] = {"debug", "info", "warning", "error", NULL};
static const int log_level_values[] = {SCD_LOG_DEBUG, SCD_LOG_INFO, SCD_LOG_WARNING, SCD_LOG_ERROR};
static const char *const log_formats[] = {"auto", "journal", "plain", NULL};
static const char *const backends[] = {"patch", "clip", NULL};
static const char *const wire_dtypes[] = {"f32", "f16", NULL};
static const char *const camera_sources[] = {"config", "redis", NULL};
static const char *const embeds_formats[] = {"npy", "torch", NULL}; /* sp_embeds_format order */

static const cfg_key keys[] = {
    /* ---- top level ---- */
    {.section = SEC_ROOT,
     .name = "server",
     .type = T_SECTION,
     .offset = CFG(server),
     .child = SEC_SERVER,
     .doc = "HTTP API, logging and process settings."},
    {.section = SEC_ROOT,
     .name = "cluster",
     .type = T_SECTION,
     .offset = CFG(cluster),
     .child = SEC_CLUSTER,
     .doc = "Many nodes sharing the cameras through Redis leases (docs/scale-out.md)."},
    {.section = SEC_ROOT,
     .name = "mllm",
     .type = T_SECTION,
     .offset = CFG(mllm),
     .child = SEC_MLLM,
     .doc = "The multimodal LLM downstream: how chat payloads for it are built (docs/mllm.md)."},
    {.section = SEC_ROOT,
     .name = "defaults",
     .type = T_SECTION,
     .offset = 0,
     .child = SEC_DEFAULTS,
     .doc = "Encoder and pruning settings every stream starts from."},
    {.section = SEC_ROOT,
     .name = "streams",
     .type = T_LIST,
     .offset = CFG(streams),
     .count_offset = CFG(n_streams),
     .elem_size = sizeof(scd_stream_cfg),
     .max_items = SCD_CONFIG_MAX_STREAMS,
     .child = SEC_STREAM,
     .doc = "The video sources to prune; may be empty (a jobs-only service)."},

    /* ---- server ---- */
    {.section = SEC_SERVER,
     .name = "listen",
     .type = T_LISTEN,
     .offset = SRV(listen),
     .def = "127.0.0.1:8470",
     .doc = "TCP address of the HTTP API: `host:port` or `[ipv6]:port`; port 0 picks a free port; "
            "`\"\"` disables TCP (then `unix_socket` is required)."},
    {.section = SEC_SERVER,
     .name = "unix_socket",
     .type = T_PATH,
     .offset = SRV(unix_socket),
     .def = "",
     .max = 107,
     .doc = "Also serve the HTTP API on this UNIX socket (e.g. under `$RUNTIME_DIRECTORY`)."},
    {.section = SEC_SERVER,
     .name = "token_file",
     .type = T_PATH,
     .offset = SRV(token_file),
     .def = "",
     .max = 4096,
     .doc = "File holding a bearer token; when set, every request but `/healthz` must send "
            "`Authorization: Bearer TOKEN`."},
    {.section = SEC_SERVER,
     .name = "max_body_bytes",
     .type = T_SIZE,
     .offset = SRV(max_body_bytes),
     .def = "16MiB",
     .min = 1024,
     .max = 1073741824.0,
     .doc = "Largest accepted HTTP request body; larger requests get 413."},
    {.section = SEC_SERVER,
     .name = "header_timeout_s",
     .type = T_FLOAT,
     .offset = SRV(header_timeout_s),
     .def = "10",
     .min = 0.1,
     .max = 3600,
     .doc = "A connection that has not sent a complete request head (request line and headers) "
            "this long after it was accepted is closed, so idle or half-sent connections do not "
            "hold descriptors."},
    {.section = SEC_SERVER,
     .name = "body_timeout_s",
     .type = T_FLOAT,
     .offset = SRV(body_timeout_s),
     .def = "30",
     .min = 0.1,
     .max = 86400,
     .doc = "A request whose body (`Content-Length` or chunked) is not complete this long after "
            "its head gets 400 and its connection is closed."},
    {.section = SEC_SERVER,
     .name = "max_connections",
     .type = T_INT,
     .offset = SRV(max_connections),
     .def = "512",
     .min = 1,
     .max = 100000,
     .doc = "HTTP connections open at the same time (follow sessions included); a connection "
            "beyond this gets 503 and is closed. Keep it well below the process's descriptor limit "
            "(`ulimit -n`, 1024 by default)."},
    {.section = SEC_SERVER,
     .name = "media_root",
     .type = T_PATH,
     .offset = SRV(media_root),
     .def = "",
     .max = 4096,
     .doc = "Directory that `POST /v1/jobs` paths must lie under; `\"\"` refuses every job."},
    {.section = SEC_SERVER,
     .name = "blas_threads",
     .type = T_INT,
     .offset = SRV(blas_threads),
     .def = "1",
     .min = 0,
     .max = 256,
     .doc = "OpenBLAS threads for selection products (process-wide); 0 = OpenBLAS's own choice "
            "(`OPENBLAS_NUM_THREADS`, else one per CPU). 1 is the default because every stream "
            "already runs on its own thread next to the decoders: on 2 cores, one BLAS thread "
            "made selection 4-6x faster end to end than one per CPU (bench/run_e2e.sh)."},
    {.section = SEC_SERVER,
     .name = "follow_queue_bytes",
     .type = T_SIZE,
     .offset = SRV(follow_queue_bytes),
     .def = "8MiB",
     .min = 65536,
     .max = 1073741824.0,
     .doc = "Bytes of token packets a `follow` client may have waiting to be sent; a client that "
            "falls further behind is disconnected (counted in `/metrics`), so a slow reader never "
            "holds up the pipeline."},
    {.section = SEC_SERVER,
     .name = "restart_min_s",
     .type = T_FLOAT,
     .offset = SRV(restart_min_s),
     .def = "1",
     .min = 0.01,
     .max = 3600,
     .doc = "Delay before a failed live source (`uri:` camera or HTTP, `pipeline:`) is started "
            "again; it doubles after each failure in a row and starts over only after a run that "
            "gave frames for 10 x `restart_min_s`. `file:` sources are never restarted: an "
            "unreadable file ends its stream `failed`."},
    {.section = SEC_SERVER,
     .name = "restart_max_s",
     .type = T_FLOAT,
     .offset = SRV(restart_max_s),
     .def = "60",
     .min = 0.01,
     .max = 86400,
     .doc = "Longest delay between restarts of a failing source; at least `restart_min_s`."},
    {.section = SEC_SERVER,
     .name = "max_jobs",
     .type = T_INT,
     .offset = SRV(max_jobs),
     .def = "64",
     .min = 1,
     .max = 100000,
     .doc = "Jobs (`POST /v1/jobs`) kept in memory, queued, running or finished; when full, the "
            "oldest finished job is forgotten, and with none finished new jobs get 503."},
    {.section = SEC_SERVER,
     .name = "max_running_jobs",
     .type = T_INT,
     .offset = SRV(max_running_jobs),
     .def = "1",
     .min = 1,
     .max = 256,
     .doc = "Jobs decoded at the same time; the others wait in order."},
    {.section = SEC_SERVER,
     .name = "log_level",
     .type = T_ENUM,
     .offset = SRV(log_level),
     .def = "info",
     .choices = log_levels,
     .choice_values = log_level_values,
     .doc = "Least severe level written to stderr."},
    {.section = SEC_SERVER,
     .name = "log_format",
     .type = T_ENUM,
     .offset = SRV(log_format),
     .def = "auto",
     .choices = log_formats,
     .doc = "`journal`: sd-daemon `<N>` priority prefixes; `plain`: time and level words; `auto`: "
            "journal when stderr is connected to the journal."},

    /* ---- mllm ---- */
    {.section = SEC_MLLM,
     .name = "url",
     .type = T_STRING,
     .offset = MLM(url),
     .def = "",
     .max = 4096,
     .doc = "An OpenAI-compatible chat completions URL that takes image embeddings (vLLM with "
            "`--enable-mm-embeds`: `http://host:8000/v1/chat/completions`) for `POST "
            "/v1/streams/{id}/ask`; `\"\"`: no `ask`."},
    {.section = SEC_MLLM,
     .name = "token_file",
     .type = T_PATH,
     .offset = MLM(token_file),
     .def = "",
     .max = 4096,
     .doc = "File whose content (trimmed) is sent as `Authorization: Bearer ...`; read on every "
            "request, so it can be rotated; `\"\"`: none."},
    {.section = SEC_MLLM,
     .name = "timeout_s",
     .type = T_FLOAT,
     .offset = MLM(timeout_s),
     .def = "60",
     .min = 0,
     .max = 3600,
     .flags = KEY_MIN_EXCLUSIVE,
     .doc = "Deadline of one chat request; past it `ask` answers 504 `upstream_timeout`."},
    {.section = SEC_MLLM,
     .name = "max_tokens",
     .type = T_INT,
     .offset = MLM(max_tokens),
     .def = "256",
     .min = 1,
     .max = 1000000,
     .doc = "`max_tokens` of each chat request (the answer's length limit)."},
    {.section = SEC_MLLM,
     .name = "model",
     .type = T_STRING,
     .offset = MLM(model),
     .def = "",
     .max = 512,
     .doc = "The `model` of the chat requests `format=vllm-chat` returns (the name the server "
            "was started with, e.g. `llava-hf/llava-1.5-7b-hf`); `\"\"` leaves it out."},
    {.section = SEC_MLLM,
     .name = "embeds_format",
     .type = T_ENUM,
     .offset = MLM(embeds_format),
     .def = "npy",
     .choices = embeds_formats,
     .doc = "Encoding of each `image_embeds` part (base64): `npy` (NumPy .npy; vLLM loads bytes "
            "with the NumPy magic with np.load) or `torch` (the archive torch.save writes, "
            "loaded with torch.load(weights_only=True) by older vLLM)."},
    {.section = SEC_MLLM,
     .name = "embeds_dtype",
     .type = T_ENUM,
     .offset = MLM(embeds_dtype),
     .def = "f16",
     .choices = wire_dtypes,
     .doc = "Values of the `image_embeds` tensors: `f16` (half the bytes; engines run in half "
            "precision) or `f32`."},

    /* ---- cluster ---- */
    {.section = SEC_CLUSTER,
     .name = "redis",
     .type = T_STRING,
     .offset = CLU(redis),
     .def = "",
     .max = 4096,
     .doc = "Redis holding the node and camera leases (`redis://...` or `unix:///...`); `\"\"`: "
            "this node runs every configured stream itself. With it, each node runs the cameras "
            "a rendezvous hash over the live node names gives it, under a per-camera lease."},
    {.section = SEC_CLUSTER,
     .name = "node",
     .type = T_STRING,
     .offset = CLU(node),
     .def = "",
     .max = 64,
     .doc = "This node's name (unique among the nodes); `\"\"` = the host name."},
    {.section = SEC_CLUSTER,
     .name = "lease_ms",
     .type = T_INT,
     .offset = CLU(lease_ms),
     .def = "5000",
     .min = 1000,
     .max = 600000,
     .doc = "Lease of a node (`scriptd:nodes:NAME`) and of each camera it runs "
            "(`scriptd:lease:ID`), refreshed every second: a dead node's cameras move to the "
            "others within about one lease, and a node that cannot reach Redis stops its cameras "
            "after half a lease, so no camera runs on two nodes for longer than one lease."},
    {.section = SEC_CLUSTER,
     .name = "password_file",
     .type = T_PATH,
     .offset = CLU(password_file),
     .def = "",
     .max = 4096,
     .doc = "File whose first line is the Redis password; wins over a password in the URL."},
    {.section = SEC_CLUSTER,
     .name = "cameras",
     .type = T_ENUM,
     .offset = CLU(cameras),
     .def = "config",
     .choices = camera_sources,
     .doc = "Where the camera list comes from: `config` (this file's `streams`, the same on "
            "every node) or `redis` (the hash `cameras_key`: stream id -> YAML of one stream)."},
    {.section = SEC_CLUSTER,
     .name = "cameras_key",
     .type = T_STRING,
     .offset = CLU(cameras_key),
     .def = "scriptd:cameras",
     .min = 1,
     .max = 512,
     .flags = KEY_NON_EMPTY,
     .doc = "`cameras: redis`: the hash whose fields are stream ids and values the YAML of the "
            "rest of one `streams[]` item (without `id`)."},

    /* ---- defaults ---- */
    {.section = SEC_DEFAULTS,
     .name = "encoder",
     .type = T_SECTION,
     .offset = CFG(encoder),
     .child = SEC_ENCODER,
     .doc = "Vision encoder; each stream may override any key."},
    {.section = SEC_DEFAULTS,
     .name = "pruning",
     .type = T_SECTION,
     .offset = CFG(pruning),
     .child = SEC_PRUNING,
     .doc = "Token selection; each stream may override any key."},

    /* ---- encoder (defaults.encoder and streams[].encoder) ---- */
    {.section = SEC_ENCODER,
     .name = "backend",
     .type = T_ENUM,
     .offset = ENC(backend),
     .def = "patch",
     .choices = backends,
     .doc = "`patch`: weight-free patch embedding; `clip`: CLIP/SigLIP ViT from `model`."},
    {.section = SEC_ENCODER,
     .name = "model",
     .type = T_PATH,
     .offset = ENC(model),
     .def = "",
     .max = 4096,
     .doc = "`clip`: the Hugging Face folder (or safetensors file) of a CLIP, SigLIP or LLaVA "
            "model (LLaVA: its vision tower and multimodal projector; docs/encoders.md); required "
            "by `clip`."},
    {.section = SEC_ENCODER,
     .name = "text_model",
     .type = T_PATH,
     .offset = ENC(text_model),
     .def = "",
     .max = 4096,
     .doc =
         "`clip` with a LLaVA `model`: a CLIP or SigLIP folder whose towers give the joint space "
         "for relevance and text queries, as the published Script code; `\"\"`: the tokens "
         "themselves (no text queries)."},
    {.section = SEC_ENCODER,
     .name = "image_size",
     .type = T_INT,
     .offset = ENC(image_size),
     .def = "0",
     .min = 0,
     .max = 4096,
     .doc = "Side of the square encoder input in pixels, a multiple of `patch_size`; `0`: the "
            "backend's own (`patch` 336, `clip` the model's `vision_config.image_size`)."},
    {.section = SEC_ENCODER,
     .name = "patch_size",
     .type = T_INT,
     .offset = ENC(patch_size),
     .def = "14",
     .min = 1,
     .max = 256,
     .doc = "Side of one patch (one token) in pixels."},
    {.section = SEC_ENCODER,
     .name = "output_layer",
     .type = T_INT,
     .offset = ENC(output_layer),
     .def = "-2",
     .min = -64,
     .max = 64,
     .doc = "Transformer layer whose tokens are taken; negative counts from the end (-2 = the "
            "penultimate layer, as LLaVA does)."},
    {.section = SEC_ENCODER,
     .name = "threads",
     .type = T_INT,
     .offset = ENC(threads),
     .def = "0",
     .min = 0,
     .max = 256,
     .doc = "Encoder threads; 0 = automatic."},
    {.section = SEC_ENCODER,
     .name = "max_batch",
     .type = T_INT,
     .offset = ENC(max_batch),
     .def = "8",
     .min = 1,
     .max = 64,
     .doc = "`clip`: streams with the same encoder settings share one encoder, and its worker "
            "encodes the frames they have waiting together in one forward pass of at most this "
            "many frames (docs/encoders.md, \"Streams sharing an encoder\"); 1 = one frame at a "
            "time."},
    /* The change gate: names, defaults, ranges and docs from core's table. */
    {.section = SEC_ENCODER,
     .type = T_ENUM,
     .offset = ENC(skip_unchanged),
     .param = PARAM(SP_PARAM_SKIP_UNCHANGED),
     .doc = "Skip the encoder on sampled frames where no patch cell changed beyond "
            "`change_threshold` since the last encoded frame: the stream records the last "
            "tokens as seen again (docs/encoders.md). `auto`: on for `clip`, off for `patch` "
            "(which costs about what the test does)."},
    {.section = SEC_ENCODER,
     .type = T_FLOAT,
     .offset = ENC(change_threshold),
     .param = PARAM(SP_PARAM_CHANGE_THRESHOLD)},
    {.section = SEC_ENCODER,
     .type = T_FLOAT,
     .offset = ENC(max_skip_s),
     .param = PARAM(SP_PARAM_MAX_SKIP_S)},

    /* ---- pruning (defaults.pruning and streams[].pruning) ----
     * Every stream parameter of core's table and the method: names, defaults, ranges and docs
     * come from the table (scriptprune/params.h); only the storage is declared here. */
    {.section = SEC_PRUNING,
     .type = T_METHOD,
     .offset = PRU(method),
     .param = PARAM(SP_PARAM_METHOD),
     .doc = "Selection method. Streams and jobs run `script` (GSP on each frame, then the query "
            "DPP at each emission) or `qcsp` (the DPP alone); the other names of core's table "
            "(the README describes each) are per-frame methods of the CLI and are refused here."},
    {.section = SEC_PRUNING, .type = T_ENUM, .offset = PRU(emit), .param = PARAM(SP_PARAM_EMIT)},
    {.section = SEC_PRUNING,
     .type = T_ENUM,
     .offset = PRU(packet_mode),
     .param = PARAM(SP_PARAM_PACKET_MODE)},
    {.section = SEC_PRUNING,
     .type = T_INT,
     .offset = PRU(frame_budget),
     .param = PARAM(SP_PARAM_FRAME_BUDGET)},
    {.section = SEC_PRUNING,
     .type = T_INT,
     .offset = PRU(window_budget),
     .param = PARAM(SP_PARAM_WINDOW_BUDGET)},
    {.section = SEC_PRUNING,
     .type = T_INT,
     .offset = PRU(window),
     .param = PARAM(SP_PARAM_WINDOW),
     .doc = "Sampled frames in the rolling window."},
    {.section = SEC_PRUNING,
     .type = T_INT,
     .offset = PRU(hop),
     .param = PARAM(SP_PARAM_HOP),
     .doc = "Sampled frames between window emissions; at most `window` (equal: no overlap)."},
    {.section = SEC_PRUNING,
     .type = T_FLOAT,
     .offset = PRU(temporal_tau),
     .param = PARAM(SP_PARAM_TEMPORAL_TAU)},
    {.section = SEC_PRUNING,
     .type = T_INT,
     .offset = PRU(temporal_radius),
     .param = PARAM(SP_PARAM_TEMPORAL_RADIUS)},
    {.section = SEC_PRUNING,
     .type = T_BOOL,
     .offset = PRU(match_all),
     .param = PARAM(SP_PARAM_MATCH_ALL)},
    {.section = SEC_PRUNING,
     .type = T_FLOAT,
     .offset = PRU(cut_fraction),
     .param = PARAM(SP_PARAM_CUT_FRACTION)},
    {.section = SEC_PRUNING,
     .type = T_FLOAT,
     .offset = PRU(gsp_keep),
     .param = PARAM(SP_PARAM_GSP_KEEP)},
    {.section = SEC_PRUNING,
     .name = "rho",
     .type = T_FLOAT,
     .offset = PRU(gsp_keep),
     .param = PARAM(SP_PARAM_GSP_KEEP),
     .flags = KEY_DEPRECATED,
     .doc = "Deprecated: the old name of `gsp_keep`."},
    {.section = SEC_PRUNING, .type = T_ENUM, .offset = PRU(graph), .param = PARAM(SP_PARAM_GRAPH)},
    {.section = SEC_PRUNING, .type = T_FLOAT, .offset = PRU(tau), .param = PARAM(SP_PARAM_TAU)},
    {.section = SEC_PRUNING, .type = T_INT, .offset = PRU(k_min), .param = PARAM(SP_PARAM_K_MIN)},
    {.section = SEC_PRUNING, .type = T_FLOAT, .offset = PRU(gamma), .param = PARAM(SP_PARAM_GAMMA)},
    {.section = SEC_PRUNING,
     .type = T_FLOAT,
     .offset = PRU(kernel_sigma),
     .param = PARAM(SP_PARAM_KERNEL_SIGMA)},
    {.section = SEC_PRUNING,
     .type = T_FLOAT,
     .offset = PRU(mass_gamma),
     .param = PARAM(SP_PARAM_MASS_GAMMA)},
    {.section = SEC_PRUNING,
     .type = T_FLOAT,
     .offset = PRU(query_kernel_sigma),
     .param = PARAM(SP_PARAM_QUERY_KERNEL_SIGMA)},
    {.section = SEC_PRUNING,
     .type = T_INT,
     .offset = PRU(window_max_tokens),
     .param = PARAM(SP_PARAM_WINDOW_MAX_TOKENS)},
    {.section = SEC_PRUNING,
     .type = T_SIZE,
     .offset = PRU(history_bytes),
     .param = PARAM(SP_PARAM_HISTORY_BYTES),
     .doc = "Memory for past windows' candidates, which queries and `/tokens` can reach back "
            "into; 0 keeps no history."},
    {.section = SEC_PRUNING,
     .name = "history_max_age_s",
     .type = T_FLOAT,
     .offset = PRU(history_max_age_s),
     .param = PARAM(SP_PARAM_HISTORY_MAX_AGE),
     .param_scale = 1e9,
     .doc = "History entries last seen longer ago than this many seconds (stream time) are "
            "dropped, whatever `history_bytes` still allows; 0 = no age limit."},
    {.section = SEC_PRUNING,
     .type = T_INT,
     .offset = PRU(reselect_max),
     .param = PARAM(SP_PARAM_RESELECT_MAX)},
    {.section = SEC_PRUNING,
     .type = T_UINT64,
     .offset = PRU(seed),
     .param = PARAM(SP_PARAM_SEED),
     .doc = "Seed of the `random` method (a per-frame method: unused by streams)."},

    /* ---- streams[] ---- */
    {.section = SEC_STREAM,
     .name = "id",
     .type = T_ID,
     .offset = STR(id),
     .def = NULL,
     .flags = KEY_NON_EMPTY,
     .doc = "Unique name, `[A-Za-z0-9_-]{1,64}`; used in URLs and metrics. Required."},
    {.section = SEC_STREAM,
     .name = "uri",
     .type = T_URI,
     .offset = STR(uri),
     .flags = KEY_ONE_OF,
     .one_of_value = SCD_SOURCE_URI,
     .max = 4096,
     .doc = "Source URI (`rtsp://`, `rtsps://`, `http://`, `https://`, `file://`), decoded by a "
            "GStreamer pipeline. Exactly one of `uri`, `pipeline`, `file`."},
    {.section = SEC_STREAM,
     .name = "pipeline",
     .type = T_STRING,
     .offset = STR(pipeline),
     .flags = KEY_ONE_OF | KEY_NON_EMPTY,
     .one_of_value = SCD_SOURCE_PIPELINE,
     .max = 16384,
     .doc = "A gst-launch description producing raw video (scriptd appends its own elements)."},
    {.section = SEC_STREAM,
     .name = "file",
     .type = T_PATH,
     .offset = STR(file),
     .flags = KEY_ONE_OF,
     .one_of_value = SCD_SOURCE_FILE,
     .max = 4096,
     .doc = "A video file read by the FFmpeg sampler (seeks and skips frames it does not need)."},
    {.section = SEC_STREAM,
     .name = "fps",
     .type = T_FLOAT,
     .offset = STR(fps),
     .def = "1",
     .min = 0,
     .max = 240,
     .flags = KEY_MIN_EXCLUSIVE,
     .doc = "Frames sampled per second of video (the decoded frame nearest each instant)."},
    {.section = SEC_STREAM,
     .name = "decode_threads",
     .type = T_INT,
     .offset = STR(decode_threads),
     .def = "0",
     .min = 0,
     .max = 64,
     .doc = "`file:` sources read by one sampler (`decode_workers: 1`, or a file that cannot "
            "be split): threads of the FFmpeg decoder; 0 = FFmpeg's choice (one per CPU and one "
            "more). Side by side samplers share the CPUs, one decoder thread each, or "
            "decode_threads / decode_workers when set."},
    {.section = SEC_STREAM,
     .name = "decode_workers",
     .type = T_INT,
     .offset = STR(decode_workers),
     .def = "0",
     .min = 0,
     .max = 16,
     .doc = "`file:` sources: samplers decoding the file side by side, each its own keyframe "
            "segments with a one-thread decoder, merged back in order (the same frames as one "
            "sampler); 0 = one per CPU, at most 4; 1 = one sampler with `decode_threads`. Used "
            "for MP4/MOV and Matroska/WebM files with an index; others get one sampler."},
    {.section = SEC_STREAM,
     .name = "encoder",
     .type = T_SECTION,
     .offset = STR(encoder),
     .child = SEC_ENCODER,
     .doc = "Overrides of `defaults.encoder` (same keys)."},
    {.section = SEC_STREAM,
     .name = "pruning",
     .type = T_SECTION,
     .offset = STR(pruning),
     .child = SEC_PRUNING,
     .doc = "Overrides of `defaults.pruning` (same keys)."},
    {.section = SEC_STREAM,
     .name = "query",
     .type = T_SECTION,
     .offset = STR(query),
     .child = SEC_QUERY,
     .doc = "Initial query (replaceable over HTTP); without one, selection favours diversity."},
    {.section = SEC_STREAM,
     .name = "sinks",
     .type = T_LIST,
     .offset = STR(sinks),
     .count_offset = STR(n_sinks),
     .elem_size = sizeof(scd_sink_cfg),
     .max_items = SCD_CONFIG_MAX_SINKS,
     .child = SEC_SINK,
     .doc = "Where pruned tokens go; each item has exactly one key."},
    {.section = SEC_STREAM,
     .name = "watch",
     .type = T_LIST,
     .offset = STR(watch),
     .count_offset = STR(n_watch),
     .elem_size = sizeof(scd_watch_cfg),
     .max_items = SCD_CONFIG_MAX_WATCHES,
     .child = SEC_WATCH,
     .doc = "Standing questions asked of the MLLM (`mllm.url`) over the stream's latest windows; "
            "answers are follow events, log lines and metrics (docs/mllm.md). Needs an encoder "
            "with a text tower: `backend: clip` with a CLIP/SigLIP model, or `text_model`."},

    /* ---- streams[].query ---- */
    {.section = SEC_QUERY,
     .name = "text",
     .type = T_STRING,
     .offset = QRY(text),
     .flags = KEY_ONE_OF | KEY_NON_EMPTY,
     .one_of_value = SCD_QUERY_TEXT,
     .max = 4096,
     .doc = "Query text, embedded by the encoder's text tower. Exactly one of `text`, "
            "`embedding`, `image`."},
    {.section = SEC_QUERY,
     .name = "embedding",
     .type = T_PATH,
     .offset = QRY(embedding),
     .flags = KEY_ONE_OF,
     .one_of_value = SCD_QUERY_EMBEDDING,
     .max = 4096,
     .doc = "A `.npy` file of query rows (M x E float32) in the joint space."},
    {.section = SEC_QUERY,
     .name = "image",
     .type = T_PATH,
     .offset = QRY(image),
     .flags = KEY_ONE_OF,
     .one_of_value = SCD_QUERY_IMAGE,
     .max = 4096,
     .doc = "An exemplar image (a crop of the footage) whose tokens, at the scale it has in the "
            "frames, form the query."},

    /* ---- streams[].watch[] ---- */
    {.section = SEC_WATCH,
     .name = "question",
     .type = T_STRING,
     .offset = WCH(question),
     .max = 8192,
     .flags = KEY_NON_EMPTY,
     .doc = "The question, sent with the tokens and encoded once by the text tower to reselect "
            "them."},
    {.section = SEC_WATCH,
     .name = "every_windows",
     .type = T_INT,
     .offset = WCH(every_windows),
     .def = "1",
     .min = 1,
     .max = 1000000,
     .doc = "Asked on every N-th packet the stream emits (window, or frame with `emit: frame`), "
            "over the latest N. While an answer is awaited, a question that falls due is "
            "skipped and counted."},
    {.section = SEC_WATCH,
     .name = "budget",
     .type = T_INT,
     .offset = WCH(budget),
     .def = "0",
     .min = 0,
     .max = 100000,
     .doc = "Tokens reselected with the question over those packets; 0 = the stream's packet "
            "budget (`window_budget`, or `frame_budget` with `emit: frame`), as for `ask`."},

    /* ---- streams[].sinks[] ---- */
    {.section = SEC_SINK,
     .name = "scriptsink",
     .type = T_SINK_URI,
     .offset = SNK(scriptsink),
     .flags = KEY_ONE_OF,
     .one_of_value = SCD_SINK_SCRIPTSINK,
     .max = 4096,
     .doc = "Token-stream packets to `file:///path`, `unix:///path` or `tcp://host:port`."},
    {.section = SEC_SINK,
     .name = "safetensors_dir",
     .type = T_PATH,
     .offset = SNK(safetensors_dir),
     .flags = KEY_ONE_OF,
     .one_of_value = SCD_SINK_SAFETENSORS_DIR,
     .max = 4096,
     .doc = "Directory receiving one safetensors file per window (or frame)."},
    {.section = SEC_SINK,
     .name = "follow",
     .type = T_BOOL,
     .offset = SNK(follow),
     .flags = KEY_ONE_OF,
     .one_of_value = SCD_SINK_FOLLOW,
     .doc = "`true` serves the tokens at `GET /v1/streams/{id}/follow` (chunked packets)."},
    {.section = SEC_SINK,
     .name = "overlay_dir",
     .type = T_PATH,
     .offset = SNK(overlay_dir),
     .flags = KEY_ONE_OF,
     .one_of_value = SCD_SINK_OVERLAY_DIR,
     .max = 4096,
     .doc = "Directory receiving a PNG (drawn by `scriptoverlay`) of each frame that completed an "
            "emission: the tokens sent are outlined, the pruned ones dimmed."},
    {.section = SEC_SINK,
     .name = "redis",
     .type = T_STRING,
     .offset = SNK(redis),
     .flags = KEY_ONE_OF,
     .one_of_value = SCD_SINK_REDIS,
     .max = 4096,
     .doc = "Redis Streams: one `XADD` per packet to `redis://[:password@]host:port[/db]` or "
            "`unix:///path[?db=N]` (no TLS: see docs/scale-out.md). Never blocks the pipeline: "
            "packets wait in a bounded queue while Redis is slow or away, the oldest dropped "
            "(and counted) when it is full."},
    {.section = SEC_SINK,
     .name = "key",
     .type = T_STRING,
     .offset = SNK(key),
     .def = "scriptd:{stream}:packets",
     .min = 1,
     .max = 512,
     .flags = KEY_WITH_KIND | KEY_NON_EMPTY,
     .one_of_value = SCD_SINK_REDIS,
     .doc = "`redis` sinks: the stream key; `{stream}` is replaced by the stream id."},
    {.section = SEC_SINK,
     .name = "maxlen",
     .type = T_UINT64,
     .offset = SNK(maxlen),
     .def = "1000",
     .min = 0,
     .max = 1e12,
     .flags = KEY_WITH_KIND,
     .one_of_value = SCD_SINK_REDIS,
     .doc = "`redis` sinks: approximate length the key is trimmed to (`XADD ... MAXLEN ~ N`); "
            "0 = never trimmed."},
    {.section = SEC_SINK,
     .name = "password_file",
     .type = T_PATH,
     .offset = SNK(password_file),
     .def = "",
     .max = 4096,
     .flags = KEY_WITH_KIND,
     .one_of_value = SCD_SINK_REDIS,
     .doc = "`redis` sinks: file whose first line is the Redis password (`AUTH`); wins over a "
            "password in the URL."},
    {.section = SEC_SINK,
     .name = "queue_bytes",
     .type = T_SIZE,
     .offset = SNK(queue_bytes),
     .def = "64MiB",
     .min = 65536,
     .max = 1099511627776.0,
     .flags = KEY_WITH_KIND,
     .one_of_value = SCD_SINK_REDIS,
     .doc = "`redis` sinks: packets (wire bytes) held while Redis is slow or unreachable; beyond "
            "it the oldest are dropped and counted (`scriptd_sink_packets_dropped_total`)."},
    {.section = SEC_SINK,
     .name = "dtype",
     .type = T_ENUM,
     .offset = SNK(dtype),
     .def = "f32",
     .choices = wire_dtypes,
     .flags = KEY_WITH_KIND,
     .one_of_value = SCD_SINK_REDIS,
     .doc = "`redis` sinks: token values in the wire bytes: `f32` (exactly the tokens) or `f16` "
            "(half the bytes)."},
};

static const cfg_section_info sections[SEC_COUNT] = {
    [SEC_ROOT] = {.path = ""},
    [SEC_SERVER] = {.path = "server"},
    [SEC_DEFAULTS] = {.path = "defaults"},
    [SEC_ENCODER] = {.path = "defaults.encoder"},
    [SEC_PRUNING] = {.path = "defaults.pruning"},
    [SEC_STREAM] = {.path = "streams[]", .kind_offset = STR(source_kind), .one_of_what = "source"},
    [SEC_QUERY] = {.path = "streams[].query", .kind_offset = QRY(kind), .one_of_what = "query"},
    [SEC_SINK] = {.path = "streams[].sinks[]", .kind_offset = SNK(kind), .one_of_what = "sink"},
    [SEC_CLUSTER] = {.path = "cluster"},
    [SEC_MLLM] = {.path = "mllm"},
    [SEC_WATCH] = {.path = "streams[].watch[]"},
};

/* Shortest decimal that reads back to v ("0.2", "3600"). */
static char *shortest_number(double v) {
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    for (int prec = 1; prec <= 17; prec++) {
        char fmt[8];
        g_snprintf(fmt, sizeof fmt, "%%.%dg", prec);
        g_ascii_formatd(buf, sizeof buf, fmt, v);
        if (g_ascii_strtod(buf, NULL) == v)
            break;
    }
    return g_strdup(buf);
}

/* Completes a parameter row from core's table. The strings live as long as the process. */
static void complete_from_table(cfg_key *k) {
    const sp_param_info *pi = sp_param_of((sp_param_id)(k->param - 1));
    double scale = k->param_scale > 0 ? k->param_scale : 1.0;
    if (!k->name)
        k->name = pi->name;
    if (!k->doc)
        k->doc = pi->doc;
    k->min = pi->min / scale;
    k->max = pi->max / scale;
    if (pi->min_exclusive)
        k->flags |= KEY_MIN_EXCLUSIVE;
    if (k->type == T_ENUM)
        k->choices = pi->choices;
    if (k->flags & KEY_DEPRECATED) {
        k->def = NULL; /* the current name sets the default */
    } else if (scale != 1.0) {
        k->def = shortest_number(pi->def / scale);
    } else {
        char buf[64];
        sp_param_format(pi, pi->def, buf, sizeof buf);
        k->def = g_strdup(buf);
    }
}

const cfg_key *cfg_keys(size_t *count) {
    static gsize built = 0;
    static cfg_key *merged;
    if (g_once_init_enter(&built)) {
        merged = g_memdup2(keys, sizeof keys);
        for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
            if (merged[i].param)
                complete_from_table(&merged[i]);
        g_once_init_leave(&built, 1);
    }
    *count = G_N_ELEMENTS(keys);
    return merged;
}

const cfg_key *cfg_key_renamed_to(const cfg_key *k) {
    size_t n;
    const cfg_key *all = cfg_keys(&n);
    for (size_t i = 0; i < n; i++)
        if (all[i].section == k->section && all[i].param == k->param && k->param &&
            !(all[i].flags & KEY_DEPRECATED))
            return &all[i];
    return NULL;
}

const cfg_section_info *cfg_section_of(cfg_section s) {
    return &sections[s];
}
