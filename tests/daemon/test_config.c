/* The config reader: defaults, the example config, merging, print-config round trips, and one
 * test per rule of docs/config.md, each checking the reported line, column and key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "config/config.h"
#include "config/config_internal.h"

static const char *source_root(void) {
    const char *root = getenv("SCRIPTD_SOURCE_ROOT");
    return root ? root : ".";
}

static scd_config *load_ok(const char *yaml) {
    scd_config *cfg = NULL;
    scd_config_error e;
    sp_status st = scd_config_load_string(yaml, strlen(yaml), "t.yaml", NULL, &cfg, &e);
    if (st != SP_OK)
        fail_msg("unexpected error: %s", e.message);
    assert_non_null(cfg);
    return cfg;
}

/* Loads yaml, expects an error at line:col for key whose reason contains needle. */
static void expect_error(const char *yaml, unsigned line, unsigned col, const char *key,
                         const char *needle) {
    scd_config *cfg = (scd_config *)1;
    scd_config_error e;
    sp_status st = scd_config_load_string(yaml, strlen(yaml), "t.yaml", NULL, &cfg, &e);
    if (st == SP_OK)
        fail_msg("accepted, expected an error containing '%s':\n%s", needle, yaml);
    assert_null(cfg);
    if (e.line != line || e.column != col || (key && strcmp(e.key, key) != 0) ||
        !strstr(e.reason, needle))
        fail_msg("expected %u:%u key '%s' '%s', got:\n%s", line, col, key ? key : "(any)", needle,
                 e.message);
    char where[64];
    snprintf(where, sizeof where, "t.yaml:%u:%u: ", line, col);
    assert_true(g_str_has_prefix(e.message, where));
}

static void empty_document_gives_defaults(void **state) {
    (void)state;
    const char *docs[] = {"", "# nothing but a comment\n", "---\n", "{}\n"};
    for (size_t i = 0; i < G_N_ELEMENTS(docs); i++) {
        scd_config *cfg = load_ok(docs[i]);
        assert_string_equal(cfg->server.listen, "127.0.0.1:8470");
        assert_string_equal(cfg->server.listen_host, "127.0.0.1");
        assert_int_equal(cfg->server.listen_port, 8470);
        assert_string_equal(cfg->server.unix_socket, "");
        assert_int_equal(cfg->server.max_body_bytes, 16 * 1024 * 1024);
        assert_int_equal(cfg->server.log_level, SCD_LOG_INFO);
        assert_int_equal(cfg->encoder.backend, SCD_ENCODER_PATCH);
        assert_int_equal(cfg->encoder.image_size, 0);
        assert_int_equal(cfg->encoder.patch_size, 14);
        assert_int_equal(cfg->encoder.output_layer, -2);
        assert_int_equal(cfg->pruning.method, SP_METHOD_SCRIPT);
        assert_true(cfg->pruning.tau == 0.2);
        assert_int_equal(cfg->pruning.history_bytes, 256u << 20);
        assert_int_equal(cfg->n_streams, 0);
        scd_config_free(cfg);
    }
}

static char *example_path(void) {
    return g_build_filename(source_root(), "configs", "scriptd.yaml", NULL);
}

static void example_config_loads_and_merges_overrides(void **state) {
    (void)state;
    char *path = example_path();
    scd_config *cfg = NULL;
    scd_config_error e;
    if (scd_config_load_file(path, &cfg, &e) != SP_OK)
        fail_msg("%s", e.message);
    assert_int_equal(cfg->n_streams, 3);
    const scd_stream_cfg *gate = scd_config_find_stream(cfg, "gate-cam");
    assert_non_null(gate);
    assert_int_equal(gate->source_kind, SCD_SOURCE_URI);
    assert_true(gate->fps == 2.0);
    assert_int_equal(gate->pruning.window, 24);
    assert_int_equal(gate->pruning.window_budget, 512);
    assert_int_equal(gate->pruning.frame_budget, 64); /* from defaults */
    assert_int_equal(gate->query.kind, SCD_QUERY_TEXT);
    assert_int_equal(gate->n_sinks, 3);
    assert_int_equal(gate->sinks[0].kind, SCD_SINK_SCRIPTSINK);
    assert_int_equal(gate->sinks[1].kind, SCD_SINK_FOLLOW);
    assert_true(gate->sinks[1].follow);
    assert_int_equal(gate->sinks[2].kind, SCD_SINK_REDIS);
    assert_string_equal(gate->sinks[2].key, "scriptd:{stream}:packets");
    assert_int_equal(gate->sinks[2].maxlen, 1000);

    const scd_stream_cfg *tp = scd_config_find_stream(cfg, "test-pattern");
    assert_int_equal(tp->source_kind, SCD_SOURCE_PIPELINE);
    assert_int_equal(tp->encoder.image_size, 224);
    assert_int_equal(tp->encoder.patch_size, 14);
    assert_int_equal(tp->pruning.method, SP_METHOD_QCSP);
    assert_int_equal(tp->query.kind, SCD_QUERY_IMAGE);
    /* Relative paths resolve against the config's directory, normalised. */
    assert_true(g_path_is_absolute(tp->query.image));
    assert_true(g_str_has_suffix(tp->query.image, "/tests/data/exemplar.png"));
    assert_null(strstr(tp->query.image, ".."));

    const scd_stream_cfg *ar = scd_config_find_stream(cfg, "archive");
    assert_int_equal(ar->source_kind, SCD_SOURCE_FILE);
    assert_int_equal(ar->encoder.backend, SCD_ENCODER_CLIP);
    assert_int_equal(ar->pruning.history_bytes, 1u << 30);
    assert_true(ar->pruning.temporal_tau == 0.85);
    assert_int_equal(ar->query.kind, SCD_QUERY_EMBEDDING);
    assert_null(scd_config_find_stream(cfg, "nope"));
    /* The defaults themselves are untouched by the overrides. */
    assert_int_equal(cfg->pruning.window, 16);
    assert_int_equal(cfg->encoder.backend, SCD_ENCODER_PATCH);
    scd_config_free(cfg);
    g_free(path);
}

/* Collects "a.b[].c" paths of every key in a tree, mapping per-stream encoder/pruning keys to the
 * defaults.* paths they override. */
static void collect_paths(const ynode *n, const char *path, GHashTable *seen) {
    if (n->type == YNODE_SEQ) {
        char *p = g_strdup_printf("%s[]", path);
        g_hash_table_add(seen, g_strdup(p));
        for (size_t i = 0; i < n->n; i++)
            collect_paths(n->items[i], p, seen);
        g_free(p);
    } else if (n->type == YNODE_MAP) {
        for (size_t i = 0; i + 1 < n->n; i += 2) {
            char *p = path[0] ? g_strdup_printf("%s.%s", path, n->items[i]->text)
                              : g_strdup(n->items[i]->text);
            if (g_str_has_prefix(p, "streams[].encoder.") ||
                g_str_has_prefix(p, "streams[].pruning.")) {
                char *q = g_strdup_printf("defaults.%s", p + strlen("streams[]."));
                g_hash_table_add(seen, q);
            }
            if (n->items[i + 1]->type != YNODE_SEQ)
                g_hash_table_add(seen, g_strdup(p));
            collect_paths(n->items[i + 1], p, seen);
            g_free(p);
        }
    }
}

static void example_config_sets_every_key(void **state) {
    (void)state;
    char *path = example_path();
    char *text;
    size_t len;
    assert_true(g_file_get_contents(path, &text, &len, NULL));
    ynode *root;
    cfg_pos_error perr;
    assert_int_equal(ytree_parse(text, len, &root, &perr), SP_OK);
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    collect_paths(root, "", seen);
    const char *section_path[SEC_COUNT] = {[SEC_ROOT] = "",
                                           [SEC_SERVER] = "server",
                                           [SEC_DEFAULTS] = "defaults",
                                           [SEC_ENCODER] = "defaults.encoder",
                                           [SEC_PRUNING] = "defaults.pruning",
                                           [SEC_STREAM] = "streams[]",
                                           [SEC_QUERY] = "streams[].query",
                                           [SEC_SINK] = "streams[].sinks[]",
                                           [SEC_CLUSTER] = "cluster",
                                           [SEC_MLLM] = "mllm",
                                           [SEC_WATCH] = "streams[].watch[]"};
    size_t n;
    const cfg_key *keys = cfg_keys(&n);
    for (size_t i = 0; i < n; i++) {
        if (keys[i].flags & KEY_DEPRECATED)
            continue; /* old names are not written any more */
        const char *sp = section_path[keys[i].section];
        char *p =
            sp[0] ? g_strdup_printf("%s.%s%s", sp, keys[i].name, keys[i].type == T_LIST ? "[]" : "")
                  : g_strdup_printf("%s%s", keys[i].name, keys[i].type == T_LIST ? "[]" : "");
        if (!g_hash_table_contains(seen, p))
            fail_msg("configs/scriptd.yaml does not set %s", p);
        g_free(p);
    }
    g_hash_table_destroy(seen);
    ynode_free(root);
    g_free(text);
    g_free(path);
}

static void print_config_round_trips(void **state) {
    (void)state;
    char *path = example_path();
    scd_config *cfg = NULL;
    scd_config_error e;
    assert_int_equal(scd_config_load_file(path, &cfg, &e), SP_OK);
    char *yaml1 = scd_config_to_yaml(cfg);
    scd_config *again = NULL;
    if (scd_config_load_string(yaml1, strlen(yaml1), "printed", NULL, &again, &e) != SP_OK)
        fail_msg("printed config does not read back: %s\n%s", e.message, yaml1);
    char *yaml2 = scd_config_to_yaml(again);
    /* Only the first comment line (which names the source) may differ. */
    assert_string_equal(strchr(yaml1, '\n'), strchr(yaml2, '\n'));
    /* Every key of the table appears, merged per stream. */
    assert_non_null(strstr(yaml1, "\n      history_max_age_s: 86400\n"));
    assert_non_null(strstr(yaml1, "  max_body_bytes: 16MiB\n"));
    assert_non_null(strstr(yaml1, "\n      - follow: true\n"));
    assert_non_null(strstr(yaml1, "\nstreams:\n  - id: \"gate-cam\"\n"));
    assert_non_null(strstr(yaml1, "\n    tau: 0.2\n"));
    assert_non_null(strstr(yaml1, "\n    history_max_age_s: 0\n"));
    scd_config_free(again);
    scd_config_free(cfg);
    g_free(yaml1);
    g_free(yaml2);

    /* The defaults print and read back too, including an empty stream list. */
    scd_config *def = scd_config_new_default();
    char *yd = scd_config_to_yaml(def);
    assert_non_null(strstr(yd, "streams: []\n"));
    scd_config *back = load_ok(yd);
    scd_config_free(back);
    scd_config_free(def);
    g_free(yd);
    g_free(path);
}

static void every_default_parses_within_its_range(void **state) {
    (void)state;
    size_t n;
    const cfg_key *keys = cfg_keys(&n);
    for (size_t i = 0; i < n; i++) {
        const cfg_key *k = &keys[i];
        if (!k->def || k->type == T_SECTION || k->type == T_LIST)
            continue;
        /* Large enough for any section struct. */
        union {
            scd_config c;
            scd_stream_cfg s;
            char pad[4096];
        } scratch;
        memset(&scratch, 0, sizeof scratch);
        cfg_pos_error perr;
        if (cfg_parse_value(k, NULL, &scratch, k->name, NULL, &perr) != SP_OK)
            fail_msg("default of %s does not parse: %s", k->name, perr.reason);
        char **maybe_string = (char **)((char *)&scratch + k->offset);
        if (k->type == T_STRING || k->type == T_PATH || k->type == T_LISTEN)
            g_free(*maybe_string);
        assert_non_null(k->doc);
        assert_true(strlen(k->doc) > 10);
    }
}

static void unknown_key_names_position_and_suggests(void **state) {
    (void)state;
    expect_error("server:\n  lisen: x\n", 2, 3, "server.lisen", "did you mean 'listen'");
    expect_error("streams:\n  - id: a\n    file: x.mp4\n    wibble: 1\n", 4, 5, "streams[0].wibble",
                 "unknown key (known here: id, uri");
    expect_error("servers: {}\n", 1, 1, "servers", "did you mean 'server'");
    /* The full message echoes the line with a caret under the column. */
    scd_config *cfg;
    scd_config_error e;
    const char *y = "server:\n  lisen: x\n";
    assert_int_not_equal(scd_config_load_string(y, strlen(y), "t.yaml", NULL, &cfg, &e), SP_OK);
    assert_string_equal(e.message, "t.yaml:2:3: key 'server.lisen': unknown key (did you mean "
                                   "'listen'?)\n    2 |   lisen: x\n      |   ^");
}

static void duplicate_keys_report_both_positions(void **state) {
    (void)state;
    expect_error("server:\n  listen: a:1\n  log_level: info\n  listen: b:2\n", 4, 3,
                 "server.listen", "duplicate key (first given at 2:3)");
    expect_error("server: {}\nserver: {}\n", 2, 1, "server", "first given at 1:1");
    /* Quoting does not make a key different. */
    expect_error("streams:\n  - id: a\n    \"id\": b\n", 3, 5, "streams[0].id",
                 "first given at 2:5");
}

static void anchors_aliases_and_tags_are_refused(void **state) {
    (void)state;
    expect_error("defaults: &d\n  encoder: {}\n", 1, 11, "defaults", "anchors (&d)");
    expect_error("server:\n  listen: *x\n", 2, 11, "server.listen", "aliases (*x)");
    expect_error("server:\n  listen: !!str 127.0.0.1:1\n", 2, 11, "server.listen", "explicit tags");
    expect_error("server: !custom\n  listen: a:1\n", 1, 9, "server", "explicit tags");
    expect_error("%TAG ! tag:example.com,2000:\n---\nserver: {}\n", 1, 1, "", "%TAG");
    expect_error("server: {}\n---\nserver: {}\n", 2, 1, "", "only one YAML document");
    /* The merge key is an ordinary unknown key here, not a merge. */
    expect_error("server:\n  <<: {listen: a:1}\n", 2, 3, "server.<<", "unknown key");
}

static void nesting_deeper_than_the_limit_is_refused(void **state) {
    (void)state;
    /* The root mapping is level 1: eight levels are read (and then fail the schema), nine are
     * refused while building. */
    expect_error("a: [[[[[[[[1]]]]]]]]\n", 1, 11, "a[0][0][0][0][0][0][0]",
                 "nesting deeper than 8");
    expect_error("a: [[[[[[[1]]]]]]]\n", 1, 1, "a", "unknown key");
    GString *deep = g_string_new("x: ");
    for (int i = 0; i < 100000; i++)
        g_string_append_c(deep, '[');
    scd_config *cfg;
    scd_config_error e;
    assert_int_not_equal(scd_config_load_string(deep->str, deep->len, "t", NULL, &cfg, &e), SP_OK);
    assert_non_null(strstr(e.reason, "nesting deeper"));
    g_string_free(deep, TRUE);
}

static void booleans_are_exactly_true_or_false(void **state) {
    (void)state;
    const char *head = "streams:\n  - id: a\n    file: v.mp4\n    sinks:\n      - follow: ";
    const char *bad[] = {"yes", "no", "on", "off", "True", "FALSE", "y", "1"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        char *y = g_strdup_printf("%s%s\n", head, bad[i]);
        expect_error(y, 5, 17, "streams[0].sinks[0].follow", "expected true or false");
        g_free(y);
    }
    char *y = g_strdup_printf("%s\"true\"\n", head);
    expect_error(y, 5, 17, "streams[0].sinks[0].follow", "remove the quotes");
    g_free(y);
    y = g_strdup_printf("%sfalse\n", head);
    scd_config *cfg = load_ok(y);
    assert_false(cfg->streams[0].sinks[0].follow);
    assert_int_equal(cfg->streams[0].sinks[0].kind, SCD_SINK_FOLLOW);
    scd_config_free(cfg);
    g_free(y);
}

static void numbers_are_strict_and_ranged(void **state) {
    (void)state;
    struct {
        const char *value;
        const char *needle;
    } enc[] = {
        {"0336", "decimal integer"},
        {"+336", "decimal integer"},
        {"336.0", "decimal integer"},
        {"0x150", "decimal integer"},
        {"3_36", "decimal integer"},
        {"\"336\"", "remove the quotes"},
        {"4200", "out of range"},
        {"-1", "out of range"},
        {"99999999999999999999", "integer"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(enc); i++) {
        char *y = g_strdup_printf("defaults:\n  encoder:\n    image_size: %s\n", enc[i].value);
        expect_error(y, 3, 17, "defaults.encoder.image_size", enc[i].needle);
        g_free(y);
    }
    struct {
        const char *value;
        const char *needle;
    } fps[] = {{".5", "decimal number"},   {"1.", "decimal number"},    {"nan", "decimal number"},
               {".inf", "decimal number"}, {"1e999", "decimal number"}, {"0", "out of range"},
               {"-1", "out of range"},     {"241", "out of range"},     {"2,5", "decimal number"}};
    for (size_t i = 0; i < G_N_ELEMENTS(fps); i++) {
        char *y =
            g_strdup_printf("streams:\n  - id: a\n    file: v.mp4\n    fps: %s\n", fps[i].value);
        expect_error(y, 4, 10, "streams[0].fps", fps[i].needle);
        g_free(y);
    }
    scd_config *cfg = load_ok("streams:\n  - id: a\n    file: v.mp4\n    fps: 2.5e-1\n");
    assert_true(cfg->streams[0].fps == 0.25);
    scd_config_free(cfg);

    expect_error("server:\n  max_body_bytes: 16MB\n", 2, 19, "server.max_body_bytes",
                 "expected a size");
    expect_error("server:\n  max_body_bytes: 2GiB\n", 2, 19, "server.max_body_bytes",
                 "out of range");
    expect_error("server:\n  max_body_bytes: 100\n", 2, 19, "server.max_body_bytes",
                 "out of range");
    expect_error("defaults:\n  pruning:\n    history_bytes: 99999999999999TiB\n", 3, 20,
                 "defaults.pruning.history_bytes", "expected a size");
    cfg = load_ok("server:\n  max_body_bytes: 1048577\n");
    assert_int_equal(cfg->server.max_body_bytes, 1048577);
    scd_config_free(cfg);
    expect_error("defaults:\n  pruning:\n    rho: 0\n", 3, 10, "defaults.pruning.rho",
                 "must be > 0");
    expect_error("defaults:\n  encoder:\n    output_layer: -65\n", 3, 19,
                 "defaults.encoder.output_layer", "out of range");
}

static void null_values_and_wrong_shapes_are_errors(void **state) {
    (void)state;
    expect_error("server:\n  listen:\n", 2, 10, "server.listen", "has no value");
    expect_error("server:\n  listen: ~\n", 2, 11, "server.listen", "has no value");
    expect_error("server:\n", 1, 8, "server", "got no value");
    expect_error("server: []\n", 1, 9, "server", "got a list");
    expect_error("streams: {}\n", 1, 10, "streams", "expected a list");
    expect_error("streams:\n  - just-text\n", 2, 5, "streams[0]", "expected a mapping");
    expect_error("defaults:\n  pruning:\n    tau: [1]\n", 3, 10, "defaults.pruning.tau",
                 "expected a number, got a list");
    expect_error("? [a]\n: 1\n", 1, 3, "", "keys must be plain words");
    expect_error("server:\n  listen: \"a\\0b:1\"\n", 2, 11, "server.listen", "NUL");
    expect_error("- 1\n", 1, 1, "", "expected a mapping");
}

static void streams_need_exactly_one_source_and_unique_ids(void **state) {
    (void)state;
    expect_error("streams:\n  - id: a\n    fps: 2\n", 2, 5, "streams[0]",
                 "needs exactly one source: uri, pipeline, file");
    expect_error("streams:\n  - id: a\n    file: v.mp4\n    uri: rtsp://cam/1\n", 4, 5,
                 "streams[0].uri", "only one source may be given ('file' already at 3:5)");
    expect_error("streams:\n  - file: v.mp4\n", 2, 5, "streams[0].id", "required key missing");
    expect_error("streams:\n  - id: cam\n    file: a.mp4\n  - id: cam\n    file: b.mp4\n", 4, 9,
                 "streams[1].id", "duplicate stream id 'cam' (first used at 2:9)");
    expect_error("streams:\n  - id: a b\n    file: v.mp4\n", 2, 9, "streams[0].id", "ids are");
    expect_error("streams:\n  - id: café\n    file: v.mp4\n", 2, 9, "streams[0].id", "ids are");
    expect_error("streams:\n  - id: a\n    pipeline: \"\"\n", 3, 15, "streams[0].pipeline",
                 "must not be empty");
    GString *many = g_string_new("streams:\n");
    for (int i = 0; i <= SCD_CONFIG_MAX_STREAMS; i++)
        g_string_append_printf(many, "  - {id: s%d, file: v.mp4}\n", i);
    expect_error(many->str, 2, 3, "streams", "more than 256 items");
    g_string_free(many, TRUE);
}

static void cross_key_rules_point_at_the_key(void **state) {
    (void)state;
    expect_error("defaults:\n  pruning:\n    window: 4\n    hop: 5\n", 4, 5, "defaults.pruning.hop",
                 "hop 5 is larger than window 4");
    expect_error("streams:\n  - id: a\n    file: v.mp4\n    pruning:\n      window: 4\n", 5, 7,
                 "streams[0].pruning.window", "hop 8 is larger than window 4");
    expect_error("defaults:\n  encoder:\n    image_size: 300\n", 3, 5,
                 "defaults.encoder.image_size", "not a multiple of patch_size 14");
    expect_error("streams:\n  - id: a\n    file: v.mp4\n    encoder: {patch_size: 15}\n", 4, 15,
                 "streams[0].encoder.patch_size",
                 "image_size 336 (the patch backend's own) is not a multiple");
    expect_error("defaults:\n  encoder:\n    backend: clip\n", 3, 5, "defaults.encoder.model",
                 "needs a model");
    expect_error("server:\n  listen: \"\"\n", 2, 3, "server.listen", "no listener");
    scd_config *cfg = load_ok("server:\n  listen: \"\"\n  unix_socket: /run/s.sock\n");
    assert_null(cfg->server.listen_host);
    scd_config_free(cfg);
    expect_error("streams:\n  - id: a\n    file: v.mp4\n    query: {embedding: q.bin}\n", 4, 13,
                 "streams[0].query.embedding", ".npy");
    expect_error("streams:\n  - id: a\n    file: v.mp4\n    query: {text: a, image: b.png}\n", 4,
                 22, "streams[0].query.image", "only one query");
    expect_error("streams:\n  - id: a\n    file: v.mp4\n    query: {}\n", 4, 12, "streams[0].query",
                 "needs exactly one query: text, embedding, image");
}

static void addresses_and_uris_are_checked(void **state) {
    (void)state;
    scd_config *cfg = load_ok("server:\n  listen: \"[::1]:0\"\n");
    assert_string_equal(cfg->server.listen_host, "::1");
    assert_int_equal(cfg->server.listen_port, 0);
    scd_config_free(cfg);
    cfg = load_ok("server:\n  listen: localhost:9000\n");
    assert_string_equal(cfg->server.listen_host, "localhost");
    assert_int_equal(cfg->server.listen_port, 9000);
    scd_config_free(cfg);
    expect_error("server:\n  listen: 127.0.0.1\n", 2, 11, "server.listen", "expected host:port");
    expect_error("server:\n  listen: a:65536\n", 2, 11, "server.listen", "0 to 65535");
    expect_error("server:\n  listen: \"::1:80\"\n", 2, 11, "server.listen", "[addr]:port");
    expect_error("streams:\n  - id: a\n    uri: ftp://x/y\n", 3, 10, "streams[0].uri", "rtsp://");
    expect_error("streams:\n  - id: a\n    uri: \"rtsp://cam/a b\"\n", 3, 10, "streams[0].uri",
                 "spaces");
    expect_error("streams:\n  - id: a\n    uri: file://relative.mp4\n", 3, 10, "streams[0].uri",
                 "absolute path");
    const char *head = "streams:\n  - id: a\n    file: v.mp4\n    sinks:\n      - scriptsink: ";
    const char *bad[] = {"tcp://host", "tcp://host:0", "unix://rel.sock", "http://x:1", "file://"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        char *y = g_strdup_printf("%s%s\n", head, bad[i]);
        expect_error(y, 5, 21, "streams[0].sinks[0].scriptsink", "");
        g_free(y);
    }
    char *y = g_strdup_printf("%s%s\n", head, "tcp://127.0.0.1:9000");
    cfg = load_ok(y);
    assert_string_equal(cfg->streams[0].sinks[0].scriptsink, "tcp://127.0.0.1:9000");
    scd_config_free(cfg);
    g_free(y);
    expect_error("streams:\n  - id: a\n    file: v.mp4\n    sinks:\n      - {follow: true, "
                 "safetensors_dir: d}\n",
                 5, 24, "streams[0].sinks[0].safetensors_dir", "only one sink");
}

static void enums_list_their_choices(void **state) {
    (void)state;
    expect_error("server:\n  log_level: verbose\n", 2, 14, "server.log_level",
                 "not one of: debug, info, warning, error");
    expect_error("defaults:\n  pruning:\n    method: magic\n", 3, 13, "defaults.pruning.method",
                 "script-authors");
    scd_config *cfg = load_ok("server:\n  log_level: debug\ndefaults:\n  pruning:\n    method: "
                              "qcsp\n    graph: full\n");
    assert_int_equal(cfg->server.log_level, SCD_LOG_DEBUG);
    assert_int_equal(cfg->pruning.method, SP_METHOD_QCSP);
    assert_int_equal(cfg->pruning.graph, SP_GRAPH_FULL);
    scd_config_free(cfg);
}

/* Core's per-frame methods are valid names but have no streaming form: refused with the key's
 * position, in defaults and in a stream's overrides. */
static void per_frame_methods_are_refused(void **state) {
    (void)state;
    expect_error("defaults:\n  pruning:\n    method: divprune\n", 3, 5, "defaults.pruning.method",
                 "streams and jobs run 'script' or 'qcsp'");
    expect_error("streams:\n  - id: a\n    file: a.mp4\n    pruning:\n      method: gsp\n", 5, 7,
                 "streams[0].pruning.method", "no streaming form");
}

/* Restart delays: the longest may not be shorter than the first. */
static void restart_delays_are_ordered(void **state) {
    (void)state;
    expect_error("server:\n  restart_min_s: 5\n  restart_max_s: 2\n", 3, 3, "server.restart_max_s",
                 "smaller than restart_min_s");
    scd_config *cfg = load_ok("server:\n  restart_min_s: 0.5\n  restart_max_s: 0.5\n");
    assert_true(cfg->server.restart_min_s == 0.5);
    scd_config_free(cfg);
}

/* Old key names keep working (with a warning in the log), set the renamed key's field, and are
 * refused next to the new name. */
static void renamed_keys_keep_working_and_are_refused_next_to_the_new_name(void **state) {
    (void)state;
    scd_config *cfg = load_ok("defaults:\n  pruning:\n    rho: 0.3\n"
                              "streams:\n  - id: a\n    file: a.mp4\n"
                              "    pruning:\n      rho: 0.6\n");
    assert_true(cfg->pruning.gsp_keep == 0.3);
    assert_true(cfg->streams[0].pruning.gsp_keep == 0.6);
    char *yaml = scd_config_to_yaml(cfg);
    assert_null(strstr(yaml, "rho"));
    assert_non_null(strstr(yaml, "\n    gsp_keep: 0.3\n"));
    g_free(yaml);
    scd_config_free(cfg);
    expect_error("defaults:\n  pruning:\n    gsp_keep: 0.5\n    rho: 0.3\n", 4, 5,
                 "defaults.pruning.rho", "old name of 'gsp_keep'");
    expect_error("defaults:\n  pruning:\n    rho: 1.5\n", 3, 10, "defaults.pruning.rho",
                 "out of range");
}

static void redis_sinks_take_their_options_and_check_the_url(void **state) {
    (void)state;
    scd_config *cfg = load_ok("streams:\n  - id: a\n    file: /x.mp4\n    sinks:\n"
                              "      - redis: \"redis://:pw@[::1]:6380/2\"\n"
                              "      - follow: true\n");
    const scd_sink_cfg *k = &cfg->streams[0].sinks[0];
    assert_int_equal(k->kind, SCD_SINK_REDIS);
    assert_string_equal(k->key, "scriptd:{stream}:packets"); /* defaults of an item */
    assert_int_equal(k->maxlen, 1000);
    assert_int_equal(k->queue_bytes, 64u << 20);
    assert_int_equal(k->dtype, SCD_WIRE_F32);
    /* --print-config shows the redis options only on the redis sink. */
    char *text = scd_config_to_yaml(cfg);
    assert_non_null(strstr(text, "maxlen: 1000"));
    assert_null(strstr(strstr(text, "follow: true"), "maxlen"));
    g_free(text);
    scd_config_free(cfg);
    expect_error("streams:\n  - id: a\n    file: /x.mp4\n    sinks:\n      - follow: true\n"
                 "        maxlen: 5\n",
                 6, 9, "streams[0].sinks[0].maxlen", "applies only to a sink with 'redis'");
    expect_error("streams:\n  - id: a\n    file: /x.mp4\n    sinks:\n"
                 "      - redis: \"rediss://h:1\"\n",
                 5, 9, "streams[0].sinks[0].redis", "no TLS");
    expect_error("streams:\n  - id: a\n    file: /x.mp4\n    sinks:\n"
                 "      - redis: \"redis://h:99999\"\n",
                 5, 9, "streams[0].sinks[0].redis", "port must be a number from 1 to 65535");
    expect_error("streams:\n  - id: a\n    file: /x.mp4\n    sinks:\n"
                 "      - redis: \"unix://relative.sock\"\n",
                 5, 9, "streams[0].sinks[0].redis", "absolute socket path");
}

static void cluster_needs_a_redis_for_redis_cameras(void **state) {
    (void)state;
    scd_config *cfg = load_ok("cluster:\n  redis: \"unix:///run/redis.sock\"\n  node: n1\n");
    assert_string_equal(cfg->cluster.node, "n1");
    assert_int_equal(cfg->cluster.lease_ms, 5000);
    assert_int_equal(cfg->cluster.cameras, SCD_CAMERAS_CONFIG);
    scd_config_free(cfg);
    cfg = load_ok("");
    assert_string_equal(cfg->cluster.redis, ""); /* single node by default */
    scd_config_free(cfg);
    expect_error("cluster:\n  cameras: redis\n", 2, 3, "cluster.cameras", "need cluster.redis");
    expect_error("cluster:\n  redis: \"tcp://h:1\"\n", 2, 3, "cluster.redis", "expected redis://");
    expect_error("cluster:\n  redis: \"redis://h\"\n  lease_ms: 10\n", 3, 13, "cluster.lease_ms",
                 "");
}

#define WATCH_STREAM                                                                               \
    "streams:\n"                                                                                   \
    "  - id: gate\n"                                                                               \
    "    file: /v.mp4\n"                                                                           \
    "    encoder:\n"                                                                               \
    "      backend: clip\n"                                                                        \
    "      model: /m\n"

static void standing_questions_are_read_and_refused_with_their_key(void **state) {
    (void)state;
    const char *url = "mllm:\n  url: \"http://127.0.0.1:8000/v1/chat/completions\"\n";
    char *yaml = g_strconcat(url, WATCH_STREAM,
                             "    watch:\n"
                             "      - question: \"Anyone at the gate?\"\n"
                             "      - question: \"A red car?\"\n"
                             "        every_windows: 3\n"
                             "        budget: 40\n",
                             NULL);
    scd_config *cfg = load_ok(yaml);
    const scd_stream_cfg *st = &cfg->streams[0];
    assert_int_equal(st->n_watch, 2);
    assert_string_equal(st->watch[0].question, "Anyone at the gate?");
    assert_int_equal(st->watch[0].every_windows, 1); /* defaults */
    assert_int_equal(st->watch[0].budget, 0);
    assert_int_equal(st->watch[1].every_windows, 3);
    assert_int_equal(st->watch[1].budget, 40);
    /* --print-config writes them and reads them back. */
    char *printed = scd_config_to_yaml(cfg);
    scd_config *again = load_ok(printed);
    assert_int_equal(again->streams[0].n_watch, 2);
    assert_string_equal(again->streams[0].watch[1].question, "A red car?");
    assert_int_equal(again->streams[0].watch[1].budget, 40);
    scd_config_free(again);
    g_free(printed);
    scd_config_free(cfg);
    g_free(yaml);

    /* No mllm.url: nobody to ask. */
    expect_error(WATCH_STREAM "    watch:\n      - question: q\n", 7, 5, "streams[0].watch",
                 "set mllm.url");
    /* The patch encoder has no text tower. */
    yaml = g_strconcat(url,
                       "streams:\n  - id: gate\n    file: /v.mp4\n    watch:\n"
                       "      - question: q\n",
                       NULL);
    expect_error(yaml, 6, 5, "streams[0].watch", "the patch encoder has none");
    g_free(yaml);
    /* A question must be asked, at least every window. */
    yaml = g_strconcat(url, WATCH_STREAM, "    watch:\n      - question: \"\"\n", NULL);
    expect_error(yaml, 10, 19, "streams[0].watch[0].question", "empty");
    g_free(yaml);
    yaml = g_strconcat(url, WATCH_STREAM, "    watch:\n      - every_windows: 2\n", NULL);
    expect_error(yaml, 10, 9, "streams[0].watch[0].question", "required key missing");
    g_free(yaml);
    yaml = g_strconcat(url, WATCH_STREAM,
                       "    watch:\n      - question: q\n        every_windows: 0\n", NULL);
    expect_error(yaml, 11, 24, "streams[0].watch[0].every_windows", "");
    g_free(yaml);
    yaml = g_strconcat(url, WATCH_STREAM, "    watch:\n      - question: q\n        budget: -1\n",
                       NULL);
    expect_error(yaml, 11, 17, "streams[0].watch[0].budget", "");
    g_free(yaml);
}

static void yaml_syntax_errors_carry_positions(void **state) {
    (void)state;
    scd_config *cfg;
    scd_config_error e;
    const char *cases[] = {"server:\n  listen: [1, 2\n",
                           "server:\n\tlisten: a:1\n",
                           "a: b: c\n",
                           "\"unterminated\n",
                           "- a\nb: c\n",
                           "server:\n  x: 1\n y: 2\n"};
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        sp_status st = scd_config_load_string(cases[i], strlen(cases[i]), "t.yaml", NULL, &cfg, &e);
        assert_int_not_equal(st, SP_OK);
        assert_true(e.line >= 1);
        assert_true(e.column >= 1);
        assert_non_null(strstr(e.message, "^"));
    }
    /* A tab in the echoed line is kept in the caret line so the caret lines up. */
    const char *tab = "server:\n\tlisten: a:1\n";
    assert_int_not_equal(scd_config_load_string(tab, strlen(tab), "t.yaml", NULL, &cfg, &e), SP_OK);
    assert_int_equal(e.line, 2);
    assert_non_null(strstr(e.reason, "invalid YAML"));
    assert_non_null(strstr(e.message, "\n    2 | \tlisten: a:1\n"));
}

static void file_errors_and_relative_paths(void **state) {
    (void)state;
    scd_config *cfg;
    scd_config_error e;
    assert_int_equal(scd_config_load_file("/nonexistent/scriptd.yaml", &cfg, &e), SP_ERR_NOT_FOUND);
    assert_null(cfg);
    assert_non_null(strstr(e.message, "/nonexistent/scriptd.yaml: cannot open:"));
    assert_int_equal(e.line, 0);

    char *dir = g_dir_make_tmp("scriptd-config-XXXXXX", NULL);
    assert_non_null(dir);
    char *path = g_build_filename(dir, "c.yaml", NULL);
    const char *y = "streams:\n  - id: a\n    file: sub/../v.mp4\n"
                    "    sinks:\n      - safetensors_dir: out\n";
    assert_true(g_file_set_contents(path, y, -1, NULL));
    assert_int_equal(scd_config_load_file(path, &cfg, &e), SP_OK);
    char *want = g_build_filename(dir, "v.mp4", NULL);
    assert_string_equal(cfg->streams[0].file, want);
    char *want_dir = g_build_filename(dir, "out", NULL);
    assert_string_equal(cfg->streams[0].sinks[0].safetensors_dir, want_dir);
    assert_string_equal(cfg->source_name, path);
    scd_config_free(cfg);

    /* Over the size limit: refused before parsing. */
    char *big = g_malloc(SCD_CONFIG_MAX_BYTES + 10);
    memset(big, '#', SCD_CONFIG_MAX_BYTES + 10);
    assert_true(g_file_set_contents(path, big, SCD_CONFIG_MAX_BYTES + 10, NULL));
    assert_int_equal(scd_config_load_file(path, &cfg, &e), SP_ERR_INVALID);
    assert_non_null(strstr(e.message, "larger than"));
    g_free(big);
    /* An error in a file names the file. */
    assert_true(g_file_set_contents(path, "server:\n  port: 1\n", -1, NULL));
    assert_int_not_equal(scd_config_load_file(path, &cfg, &e), SP_OK);
    char *prefix = g_strdup_printf("%s:2:3: key 'server.port'", path);
    assert_true(g_str_has_prefix(e.message, prefix));
    g_free(prefix);
    g_unlink(path);
    g_rmdir(dir);
    g_free(want);
    g_free(want_dir);
    g_free(path);
    g_free(dir);
}

/* Found by the libFuzzer target: a relative path within its limit as written but over it once
 * resolved was accepted, and --print-config then printed a config that did not read back. */
static void path_limits_apply_to_the_resolved_path(void **state) {
    (void)state;
    GString *base = g_string_new("/");
    while (base->len < 100)
        g_string_append(base, "dir/");
    const char *y = "server:\n  unix_socket: api.sock\n";
    scd_config *cfg = (scd_config *)1;
    scd_config_error e;
    assert_int_equal(scd_config_load_string(y, strlen(y), "t.yaml", base->str, &cfg, &e),
                     SP_ERR_INVALID);
    assert_null(cfg);
    assert_int_equal(e.line, 2);
    assert_string_equal(e.key, "server.unix_socket");
    assert_non_null(strstr(e.reason, "longer than 107 bytes once resolved"));
    assert_int_equal(scd_config_load_string(y, strlen(y), "t.yaml", "/run", &cfg, &e), SP_OK);
    assert_string_equal(cfg->server.unix_socket, "/run/api.sock");
    scd_config_free(cfg);
    g_string_free(base, TRUE);
}

static void long_lines_are_echoed_around_the_column(void **state) {
    (void)state;
    GString *y = g_string_new("server: {media_root: \"");
    for (int i = 0; i < 300; i++)
        g_string_append_c(y, 'a');
    g_string_append(y, "\", bogus: 1}\n");
    scd_config *cfg;
    scd_config_error e;
    assert_int_not_equal(scd_config_load_string(y->str, y->len, "t", NULL, &cfg, &e), SP_OK);
    assert_int_equal(e.line, 1);
    assert_int_equal(e.column, 1 + (unsigned)strlen("server: {media_root: \"") + 300 + 3);
    /* The echo is cut to a window around the column, marked "...", and the caret still points
     * at the key. */
    const char *echo = strstr(e.message, "\n    1 | ...");
    assert_non_null(echo);
    echo += strlen("\n    1 | ");
    const char *caret_line = strchr(echo, '\n');
    assert_non_null(caret_line);
    assert_true(caret_line - echo < 140);
    const char *caret = strchr(caret_line, '^');
    assert_non_null(caret);
    size_t offset = (size_t)(caret - (caret_line + 1)) - strlen("      | ");
    assert_int_equal(echo[offset], 'b');
    g_string_free(y, TRUE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_document_gives_defaults),
        cmocka_unit_test(example_config_loads_and_merges_overrides),
        cmocka_unit_test(example_config_sets_every_key),
        cmocka_unit_test(print_config_round_trips),
        cmocka_unit_test(every_default_parses_within_its_range),
        cmocka_unit_test(unknown_key_names_position_and_suggests),
        cmocka_unit_test(duplicate_keys_report_both_positions),
        cmocka_unit_test(anchors_aliases_and_tags_are_refused),
        cmocka_unit_test(nesting_deeper_than_the_limit_is_refused),
        cmocka_unit_test(booleans_are_exactly_true_or_false),
        cmocka_unit_test(numbers_are_strict_and_ranged),
        cmocka_unit_test(null_values_and_wrong_shapes_are_errors),
        cmocka_unit_test(streams_need_exactly_one_source_and_unique_ids),
        cmocka_unit_test(cross_key_rules_point_at_the_key),
        cmocka_unit_test(addresses_and_uris_are_checked),
        cmocka_unit_test(enums_list_their_choices),
        cmocka_unit_test(per_frame_methods_are_refused),
        cmocka_unit_test(restart_delays_are_ordered),
        cmocka_unit_test(renamed_keys_keep_working_and_are_refused_next_to_the_new_name),
        cmocka_unit_test(redis_sinks_take_their_options_and_check_the_url),
        cmocka_unit_test(cluster_needs_a_redis_for_redis_cameras),
        cmocka_unit_test(standing_questions_are_read_and_refused_with_their_key),
        cmocka_unit_test(yaml_syntax_errors_carry_positions),
        cmocka_unit_test(file_errors_and_relative_paths),
        cmocka_unit_test(path_limits_apply_to_the_resolved_path),
        cmocka_unit_test(long_lines_are_echoed_around_the_column),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
