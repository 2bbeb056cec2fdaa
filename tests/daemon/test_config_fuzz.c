/* Deterministic fuzzing of the config reader in the normal suite: thousands of mutations of valid
 * configs (byte flips, YAML-significant insertions, deletions, duplicated and swapped lines,
 * truncation) must each either load, print and load again, or fail with a positioned error.
 * Crashes, leaks and undefined behaviour are caught by the ASan/UBSan build; a hang by the
 * test's timeout. The same property is checked by the libFuzzer target fuzz/fuzz_config.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "config/config.h"

enum { CASES_PER_SEED = 1500 };

static uint64_t rng_state;
static unsigned accepted, refused;

static uint64_t next_random(void) {
    /* xorshift64*: deterministic across platforms, so failures reproduce. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static size_t below(size_t n) {
    return n ? (size_t)(next_random() % n) : 0;
}

static const char *const tokens[] = {
    ":",
    "- ",
    "&a ",
    "*a",
    "!!str ",
    "!x ",
    "{",
    "}",
    "[",
    "]",
    "\t",
    "\n",
    "  ",
    "\"",
    "'",
    "#",
    "---\n",
    "...\n",
    "%TAG ! tag:x,1:\n",
    "yes",
    "1e999",
    "-1",
    "~",
    "? ",
    "|\n  x\n",
    ">\n",
    "\\",
    "0x1f",
    "99999999999999999999",
    "streams:\n  - id: x\n",
    "file: a",
    "uri: rtsp://h/",
    "fps: 0",
    "hop: 9",
    "window: 1",
    "<<: {}",
    ",",
    "\xff\xfe",
    "\xc3\x28",
    "\\0",
    "nan",
    ".5",
    "16MiB",
    "true",
    "query: {}",
    "sinks: []",
};

static void mutate(GString *s) {
    int n = 1 + (int)below(4);
    for (int i = 0; i < n; i++) {
        size_t pos = below(s->len + 1);
        switch (below(7)) {
            case 0:
                if (s->len)
                    s->str[below(s->len)] = (char)below(256);
                break;
            case 1:
            case 2: {
                const char *t = tokens[below(G_N_ELEMENTS(tokens))];
                g_string_insert(s, (gssize)pos, t);
                break;
            }
            case 3:
                if (s->len)
                    g_string_erase(s, (gssize)pos, (gssize)below(s->len - pos + 1) % 40);
                break;
            case 4: { /* duplicate the line at pos */
                size_t a = pos, b = pos;
                while (a > 0 && s->str[a - 1] != '\n')
                    a--;
                while (b < s->len && s->str[b] != '\n')
                    b++;
                char *line = g_strndup(s->str + a, b - a);
                g_string_insert(s, (gssize)a, "\n");
                g_string_insert(s, (gssize)a, line);
                g_free(line);
                break;
            }
            case 5:
                g_string_truncate(s, pos);
                break;
            default: /* a NUL byte (the reader gets an explicit length) */
                g_string_insert_len(s, (gssize)pos, "\0", 1);
                break;
        }
    }
}

static void check_one(const char *text, size_t len) {
    scd_config *cfg = NULL;
    scd_config_error e;
    sp_status st = scd_config_load_string(text, len, "fuzz.yaml", "/base", &cfg, &e);
    if (st == SP_OK) {
        assert_non_null(cfg);
        /* Whatever is accepted prints as YAML that is accepted again, unchanged. */
        char *y1 = scd_config_to_yaml(cfg);
        scd_config *again = NULL;
        if (scd_config_load_string(y1, strlen(y1), "printed", "/base", &again, &e) != SP_OK)
            fail_msg("accepted config does not read back: %s\n--- input:\n%.*s\n--- printed:\n%s",
                     e.message, (int)len, text, y1);
        char *y2 = scd_config_to_yaml(again);
        assert_string_equal(strchr(y1, '\n'), strchr(y2, '\n'));
        g_free(y1);
        g_free(y2);
        scd_config_free(again);
        scd_config_free(cfg);
        accepted++;
        return;
    }
    assert_null(cfg);
    refused++;
    if (e.line < 1 || e.column < 1 || e.reason[0] == '\0' ||
        !g_str_has_prefix(e.message, "fuzz.yaml:"))
        fail_msg("error without a position: '%s'\n--- input:\n%.*s", e.message, (int)len, text);
}

static const char *const inline_seeds[] = {
    "server:\n  listen: \"[::1]:0\"\n  log_level: debug\n",
    "defaults:\n  pruning: {method: qcsp, window: 4, hop: 2, tau: 0.3}\n"
    "streams:\n  - {id: a, file: a.mp4, fps: 2}\n  - id: b\n    uri: rtsp://cam/1\n"
    "    query: {text: \"red car\"}\n    sinks:\n      - follow: true\n"
    "      - scriptsink: tcp://127.0.0.1:9\n",
    "streams:\n- id: x\n  pipeline: 'videotestsrc ! fakesink'\n  encoder:\n    image_size: 224\n",
};

static void run_seed(const char *seed, size_t len, uint64_t salt) {
    rng_state = 0x9e3779b97f4a7c15ULL ^ salt;
    check_one(seed, len);
    for (int i = 0; i < CASES_PER_SEED; i++) {
        GString *s = g_string_new_len(seed, (gssize)len);
        mutate(s);
        check_one(s->str, s->len);
        g_string_free(s, TRUE);
    }
}

static void mutated_configs_load_or_fail_with_a_position(void **state) {
    (void)state;
    for (size_t i = 0; i < G_N_ELEMENTS(inline_seeds); i++)
        run_seed(inline_seeds[i], strlen(inline_seeds[i]), i + 1);
    const char *root = getenv("SCRIPTD_SOURCE_ROOT");
    char *path = g_build_filename(root ? root : ".", "configs", "scriptd.yaml", NULL);
    char *text;
    size_t len;
    assert_true(g_file_get_contents(path, &text, &len, NULL));
    run_seed(text, len, 42);
    print_message("%u mutated configs accepted (and re-read), %u refused with a position\n",
                  accepted, refused);
    assert_true(accepted > 100 && refused > 100);
    g_free(text);
    g_free(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mutated_configs_load_or_fail_with_a_position),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
