/* THE parameter table (scriptprune/params.h): every user-visible stream and selection parameter,
 * declared once. Defaults that benchmarks choose are named constants of stream.h, referenced here
 * rather than copied, so re-tuning one changes every interface. */
#include <stdint.h>
#include <string.h>

#include "scriptprune/change_gate.h"
#include "scriptprune/params.h"

#define KIB 1024.0
#define MIB (1024.0 * KIB)
#define TIB (1024.0 * 1024.0 * MIB)
#define NS_PER_S 1e9
#define YEAR_S 31536000.0
#define IN_STREAM SP_PARAM_IN_STREAM
#define IN_SELECT SP_PARAM_IN_SELECT
#define IN_BOTH (SP_PARAM_IN_STREAM | SP_PARAM_IN_SELECT)

static const char *const emit_choices[] = {"frame", "window", NULL};
static const char *const packet_mode_choices[] = {"snapshot", "delta", NULL};
static const char *const graph_choices[] = {"bipartite", "full", NULL};
static const char *const skip_choices[] = {"auto", "true", "false", NULL};

static const sp_param_info table[SP_PARAM_COUNT] = {
    {SP_PARAM_METHOD, "method", SP_PARAM_TYPE_METHOD, IN_SELECT, SP_METHOD_SCRIPT, 0,
     SP_METHOD_COUNT - 1, false, NULL,
     "Selection method (core's method table); streams run script (GSP per frame, then the "
     "query DPP per emission) or qcsp (the DPP alone)."},
    {SP_PARAM_EMIT, "emit", SP_PARAM_TYPE_ENUM, IN_STREAM, SP_EMIT_WINDOW, 0, 1, false,
     emit_choices,
     "When packets are emitted: per frame (at most frame_budget new tokens) or per window "
     "(window_budget tokens every hop frames)."},
    {SP_PARAM_PACKET_MODE, "packet_mode", SP_PARAM_TYPE_ENUM, IN_STREAM, SP_PACKET_SNAPSHOT, 0, 1,
     false, packet_mode_choices,
     "What window packets promise: snapshot (every token was seen in the window; still-seen "
     "tokens are sent again) or delta (only tokens never sent before on the stream)."},
    {SP_PARAM_FRAME_BUDGET, "frame_budget", SP_PARAM_TYPE_UINT, IN_STREAM, 64, 1, INT32_MAX, false,
     NULL, "emit=frame: tokens per frame at most."},
    {SP_PARAM_WINDOW_BUDGET, "window_budget", SP_PARAM_TYPE_UINT, IN_STREAM, 256, 1, INT32_MAX,
     false, NULL,
     "emit=window: tokens per emission (exactly, when the window has that many candidates)."},
    {SP_PARAM_WINDOW, "window", SP_PARAM_TYPE_UINT, IN_STREAM, 16, 1, 65536, false, NULL,
     "Frames in the rolling window."},
    {SP_PARAM_HOP, "hop", SP_PARAM_TYPE_UINT, IN_STREAM, 8, 1, 65536, false, NULL,
     "emit=window: frames between emissions, at most window (equal: windows do not overlap)."},
    {SP_PARAM_TEMPORAL_TAU, "temporal_tau", SP_PARAM_TYPE_FLOAT, IN_STREAM, SP_STREAM_DEFAULT_TAU_T,
     -1, 1, false, NULL,
     "A token at least this similar (cosine) to a kept token of an earlier frame nearby is a "
     "temporal repeat and dropped."},
    {SP_PARAM_TEMPORAL_RADIUS, "temporal_radius", SP_PARAM_TYPE_UINT, IN_STREAM, 1, 0, 8, false,
     NULL, "Grid cells around a token's position compared across frames; 0 = same position only."},
    {SP_PARAM_MATCH_ALL, "match_all", SP_PARAM_TYPE_BOOL, IN_STREAM, 0, 0, 1, false, NULL,
     "Also compare each token with every kept candidate of the window (one matrix product)."},
    {SP_PARAM_CUT_FRACTION, "cut_fraction", SP_PARAM_TYPE_FLOAT, IN_STREAM, 0.5, 0, 1, true, NULL,
     "A frame where at least this share of the tokens is new is a scene cut."},
    {SP_PARAM_GSP_KEEP, "gsp_keep", SP_PARAM_TYPE_FLOAT, IN_STREAM, 0.75, 0, 1, true, NULL,
     "method=script: share of each frame's tokens GSP keeps (1 = GSP off)."},
    {SP_PARAM_GRAPH, "graph", SP_PARAM_TYPE_ENUM, IN_BOTH, SP_GRAPH_BIPARTITE, 0, 1, false,
     graph_choices, "GSP graph: bipartite rounds (the paper) or all pairs (the authors' code)."},
    {SP_PARAM_TAU, "tau", SP_PARAM_TYPE_FLOAT, IN_BOTH, 0.2, -1, 1, false, NULL,
     "GSP edge threshold on cosine similarity."},
    {SP_PARAM_K_MIN, "k_min", SP_PARAM_TYPE_UINT, IN_BOTH, 4, 0, 65536, false, NULL,
     "GSP: below this degree a token's score blends in its mean similarity."},
    {SP_PARAM_GAMMA, "gamma", SP_PARAM_TYPE_FLOAT, IN_BOTH, 1, 0, 100, false, NULL,
     "GSP: weight of the mean edge similarity in the redundancy score."},
    {SP_PARAM_KERNEL_SIGMA, "kernel_sigma", SP_PARAM_TYPE_FLOAT, IN_STREAM,
     SP_STREAM_DEFAULT_KERNEL_SIGMA, 0, 10, false, NULL,
     "QCSP kernel exp((cos - 1) / sigma); 0 = plain cosine, as per-frame Script."},
    {SP_PARAM_MASS_GAMMA, "mass_gamma", SP_PARAM_TYPE_FLOAT, IN_STREAM,
     SP_STREAM_DEFAULT_MASS_GAMMA, 0, 2, false, NULL,
     "QCSP quality without a query: (input tokens a candidate stands for)^gamma; 0 = off."},
    {SP_PARAM_QUERY_KERNEL_SIGMA, "query_kernel_sigma", SP_PARAM_TYPE_FLOAT, IN_STREAM,
     SP_STREAM_DEFAULT_QUERY_KERNEL_SIGMA, 0, 10, false, NULL,
     "QCSP kernel width while a query is set (emissions and reselect); 0 = kernel_sigma."},
    {SP_PARAM_WINDOW_MAX_TOKENS, "window_max_tokens", SP_PARAM_TYPE_UINT, IN_STREAM, 0, 0,
     INT32_MAX / 2, false, NULL,
     "Candidates the window holds at most, the oldest leaving early for the history; 0 = 4 x "
     "tokens per frame."},
    {SP_PARAM_HISTORY_BYTES, "history_bytes", SP_PARAM_TYPE_BYTES, IN_STREAM, 256 * MIB, 0, TIB,
     false, NULL,
     "Memory for candidates that left the window, which reselect and queries reach back into; 0 "
     "keeps none."},
    {SP_PARAM_HISTORY_MAX_AGE, "history_max_age", SP_PARAM_TYPE_DURATION, IN_STREAM, 0, 0,
     YEAR_S *NS_PER_S, false, NULL,
     "History entries last seen longer ago than this (ns of stream time) are dropped; 0 = no "
     "age limit."},
    {SP_PARAM_RESELECT_MAX, "reselect_max", SP_PARAM_TYPE_UINT, IN_STREAM, 2048, 1, 16384, false,
     NULL, "Reselect runs the query DPP over at most this many candidates (a shortlist beyond)."},
    {SP_PARAM_BUDGET, "budget", SP_PARAM_TYPE_UINT, IN_SELECT, 64, 1, UINT32_MAX, false, NULL,
     "Tokens kept of the frame."},
    {SP_PARAM_RHO, "rho", SP_PARAM_TYPE_FLOAT, IN_SELECT, 0.5, 0, 1, true, NULL,
     "script: GSP keeps max(k, ceil(rho * N)) candidates for QCSP."},
    /* Any 64-bit seed: the maximum, as a double, is 2^64; interfaces read seeds as integers. */
    {SP_PARAM_SEED, "seed", SP_PARAM_TYPE_UINT, IN_SELECT, 0, 0, (double)UINT64_MAX, false, NULL,
     "Seed of the random method."},
    {SP_PARAM_SKIP_UNCHANGED, "skip_unchanged", SP_PARAM_TYPE_ENUM, SP_PARAM_IN_ENCODER,
     SP_SKIP_AUTO, 0, 2, false, skip_choices,
     "Skip the encoder on frames where no cell changed beyond change_threshold since the last "
     "encoded frame (its tokens are sent again); auto = on for clip, off for patch."},
    {SP_PARAM_CHANGE_THRESHOLD, "change_threshold", SP_PARAM_TYPE_FLOAT, SP_PARAM_IN_ENCODER,
     SP_GATE_DEFAULT_THRESHOLD, 0, 255, false, NULL,
     "A cell changed when the mean absolute difference of its 4x4 block means (R, G, B) "
     "against the last encoded frame exceeds this many 8-bit levels."},
    {SP_PARAM_MAX_SKIP_S, "max_skip_s", SP_PARAM_TYPE_FLOAT, SP_PARAM_IN_ENCODER,
     SP_GATE_DEFAULT_MAX_SKIP_S, 0, 86400, false, NULL,
     "A frame is encoded at least every this many seconds of stream time, changed or not "
     "(slow drifts); 0 = every frame."},
};

const sp_param_info *sp_param_table(size_t *count) {
    if (count)
        *count = SP_PARAM_COUNT;
    return table;
}

const sp_param_info *sp_param_of(sp_param_id id) {
    return (unsigned)id < SP_PARAM_COUNT ? &table[id] : NULL;
}

/* Equal names up to '_' vs '-'. */
static bool same_name(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        char ca = *a == '-' ? '_' : *a, cb = *b == '-' ? '_' : *b;
        if (ca != cb)
            return false;
    }
    return *a == *b;
}

const sp_param_info *sp_param_find(const char *name) {
    for (size_t i = 0; name && i < SP_PARAM_COUNT; i++)
        if (same_name(table[i].name, name))
            return &table[i];
    return NULL;
}
