/* Log lines: sd-daemon priority prefixes for the journal, a plain form for terminals, one prefix
 * per embedded line, control characters neutralised, cut messages marked, level filtering. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>

#include "telemetry/log.h"

static void journal_lines_carry_the_priority_prefix(void **state) {
    (void)state;
    char buf[256];
    scd_log_format(buf, sizeof buf, SCD_LOG_STYLE_JOURNAL, SCD_LOG_ERROR, "config", "bad key", 0);
    assert_string_equal(buf, "<3>config: bad key\n");
    scd_log_format(buf, sizeof buf, SCD_LOG_STYLE_JOURNAL, SCD_LOG_WARNING, "http", "slow", 0);
    assert_string_equal(buf, "<4>http: slow\n");
    scd_log_format(buf, sizeof buf, SCD_LOG_STYLE_JOURNAL, SCD_LOG_INFO, "main", "ready", 0);
    assert_string_equal(buf, "<6>main: ready\n");
    scd_log_format(buf, sizeof buf, SCD_LOG_STYLE_JOURNAL, SCD_LOG_DEBUG, NULL, "x", 0);
    assert_string_equal(buf, "<7>scriptd: x\n");
}

static void every_line_of_a_message_gets_the_prefix(void **state) {
    (void)state;
    char buf[256];
    scd_log_format(buf, sizeof buf, SCD_LOG_STYLE_JOURNAL, SCD_LOG_ERROR, "config",
                   "c.yaml:2:3: unknown key\n    2 |   lisen: x\n      |   ^\n", 0);
    assert_string_equal(buf, "<3>config: c.yaml:2:3: unknown key\n"
                             "<3>config:     2 |   lisen: x\n"
                             "<3>config:       |   ^\n");
}

static void control_characters_are_replaced(void **state) {
    (void)state;
    char buf[256];
    scd_log_format(buf, sizeof buf, SCD_LOG_STYLE_JOURNAL, SCD_LOG_INFO, "c", "a\x1b[2Jb\rc\td\x7f",
                   0);
    assert_string_equal(buf, "<6>c: a?[2Jb?c\td?\n");
}

static void long_messages_are_cut_and_marked(void **state) {
    (void)state;
    char buf[32];
    size_t n = scd_log_format(buf, sizeof buf, SCD_LOG_STYLE_JOURNAL, SCD_LOG_INFO, "c",
                              "0123456789012345678901234567890123456789", 0);
    assert_int_equal(n, strlen(buf));
    assert_true(n < sizeof buf);
    assert_true(g_str_has_prefix(buf, "<6>c: 0123"));
    assert_true(g_str_has_suffix(buf, "...\n"));
}

static void plain_lines_show_time_and_level(void **state) {
    (void)state;
    char buf[256];
    /* 12:34:56.789 local time: build the timestamp for today's zone from a known moment. */
    long long ms = 1700000000123LL;
    scd_log_format(buf, sizeof buf, SCD_LOG_STYLE_PLAIN, SCD_LOG_WARNING, "sampler", "slow", ms);
    assert_true(g_regex_match_simple("^[0-9]{2}:[0-9]{2}:[0-9]{2}\\.123 warning sampler: slow\n$",
                                     buf, 0, 0));
}

static void level_names_parse_and_filter(void **state) {
    (void)state;
    scd_log_level l;
    assert_true(scd_log_level_from_name("warning", &l));
    assert_int_equal(l, SCD_LOG_WARNING);
    assert_false(scd_log_level_from_name("warn", &l));
    assert_false(scd_log_level_from_name("", &l));
    scd_log_setup(SCD_LOG_WARNING, SCD_LOG_STYLE_JOURNAL);
    assert_true(scd_log_enabled(SCD_LOG_ERROR));
    assert_true(scd_log_enabled(SCD_LOG_WARNING));
    assert_false(scd_log_enabled(SCD_LOG_INFO));
    assert_int_equal(scd_log_get_level(), SCD_LOG_WARNING);
    assert_int_equal(scd_log_get_style(), SCD_LOG_STYLE_JOURNAL);
}

static void journal_style_detected_only_for_the_journal_stream(void **state) {
    (void)state;
    char path[] = "/tmp/scriptd-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    char *js =
        g_strdup_printf("%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
    g_setenv("JOURNAL_STREAM", js, TRUE);
    assert_int_equal(scd_log_style_for_fd(fd), SCD_LOG_STYLE_JOURNAL);
    g_setenv("JOURNAL_STREAM", "1:2", TRUE);
    assert_int_equal(scd_log_style_for_fd(fd), SCD_LOG_STYLE_PLAIN);
    g_setenv("JOURNAL_STREAM", "garbage", TRUE);
    assert_int_equal(scd_log_style_for_fd(fd), SCD_LOG_STYLE_PLAIN);
    g_unsetenv("JOURNAL_STREAM");
    assert_int_equal(scd_log_style_for_fd(fd), SCD_LOG_STYLE_PLAIN);
    close(fd);
    unlink(path);
    g_free(js);
}

static void scd_log_writes_filtered_lines_to_stderr(void **state) {
    (void)state;
    char path[] = "/tmp/scriptd-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int saved = dup(STDERR_FILENO);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    scd_log_setup(SCD_LOG_INFO, SCD_LOG_STYLE_JOURNAL);
    scd_log(SCD_LOG_DEBUG, "t", "hidden %d", 1);
    scd_log(SCD_LOG_INFO, "t", "shown %d", 2);
    scd_log(SCD_LOG_ERROR, "t", "also %s", "shown");
    dup2(saved, STDERR_FILENO);
    close(saved);
    char *text;
    assert_true(g_file_get_contents(path, &text, NULL, NULL));
    assert_string_equal(text, "<6>t: shown 2\n<3>t: also shown\n");
    g_free(text);
    close(fd);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(journal_lines_carry_the_priority_prefix),
        cmocka_unit_test(every_line_of_a_message_gets_the_prefix),
        cmocka_unit_test(control_characters_are_replaced),
        cmocka_unit_test(long_messages_are_cut_and_marked),
        cmocka_unit_test(plain_lines_show_time_and_level),
        cmocka_unit_test(level_names_parse_and_filter),
        cmocka_unit_test(journal_style_detected_only_for_the_journal_stream),
        cmocka_unit_test(scd_log_writes_filtered_lines_to_stderr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
