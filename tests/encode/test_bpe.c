/* The tokenizer without fixtures: UTF-8 and Unicode property lookups, and BPE on a hand-made
 * vocabulary whose merges are worked out by hand in the comments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bpe.h"
#include "unicode.h"

static void test_utf8_decodes_valid_and_rejects_invalid_sequences(void **state) {
    (void)state;
    static const struct {
        const char *s;
        size_t len;
        uint32_t cp;
    } ok[] = {{"A", 1, 0x41},
              {"\xc3\xa9", 2, 0xE9},
              {"\xe6\x97\xa5", 3, 0x65E5},
              {"\xf0\x9f\x98\x80", 4, 0x1F600},
              {"\xf4\x8f\xbf\xbf", 4, 0x10FFFF}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint32_t cp;
        assert_int_equal(sp_utf8_decode((const uint8_t *)ok[i].s, ok[i].len, &cp), ok[i].len);
        assert_int_equal(cp, ok[i].cp);
        uint8_t enc[4];
        assert_int_equal(sp_utf8_encode(cp, enc), ok[i].len);
        assert_memory_equal(enc, ok[i].s, ok[i].len);
    }
    static const char *const bad[] = {"\x80",         "\xc0\x80",         "\xe0\x80\x80",
                                      "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80",
                                      "\xc3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint32_t cp;
        assert_int_equal(sp_utf8_decode((const uint8_t *)bad[i], strlen(bad[i]), &cp), 0);
    }
}

static void test_unicode_letters_numbers_spaces_and_lowercase(void **state) {
    (void)state;
    static const uint32_t letters[] = {'a', 'Z', 0xE9, 0x3A3, 0x65E5, 0x30C6, 0x10400, 0x1F1};
    static const uint32_t numbers[] = {'0', '9', 0xB2, 0xBD, 0x663, 0x2167, 0x1D7CE};
    static const uint32_t spaces[] = {' ',    '\t',   '\n',   0x0B,   0x0C,   '\r',
                                      0x85,   0xA0,   0x1680, 0x2000, 0x200A, 0x2028,
                                      0x2029, 0x202F, 0x205F, 0x3000};
    static const uint32_t other[] = {'!', '\'', '<', 0x2013, 0x1F600, 0x200B, 0x1F3FD, 0};
    for (size_t i = 0; i < sizeof letters / sizeof letters[0]; i++)
        assert_true(sp_uc_is_letter(letters[i]) && !sp_uc_is_number(letters[i]));
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++)
        assert_true(sp_uc_is_number(numbers[i]) && !sp_uc_is_letter(numbers[i]));
    for (size_t i = 0; i < sizeof spaces / sizeof spaces[0]; i++)
        assert_true(sp_uc_is_space(spaces[i]));
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        assert_false(sp_uc_is_letter(other[i]) || sp_uc_is_number(other[i]) ||
                     sp_uc_is_space(other[i]));
    static const uint32_t lower[][2] = {
        {'A', 'a'},     {'z', 'z'},       {0xC9, 0xE9},       {0x3A3, 0x3C3},  {0x410, 0x430},
        {0x130, 0x69},  {0x1E9E, 0xDF},   {0x10400, 0x10428}, {0x100, 0x101},  {0x101, 0x101},
        {0x1F1, 0x1F3}, {0x2160, 0x2170}, {0xFF21, 0xFF41},   {0x65E5, 0x65E5}};
    for (size_t i = 0; i < sizeof lower / sizeof lower[0]; i++)
        if (sp_uc_lower(lower[i][0]) != lower[i][1])
            fail_msg("lower(U+%04X) = U+%04X, want U+%04X", lower[i][0], sp_uc_lower(lower[i][0]),
                     lower[i][1]);
}

/* A vocabulary of the printable ASCII characters (each alone and with "</w>"), the merge results
 * below and the two special tokens. ASCII bytes 0x21..0x7E stand for themselves in CLIP's
 * byte-level mapping. */
static const char *const MERGES[] = {
    "l l",        /* rank 0 -> ll */
    "h e",        /* 1 -> he */
    "ll o</w>",   /* 2 -> llo</w> */
    "he llo</w>", /* 3 -> hello</w> */
    "w o",        /* 4 -> wo */
    "wo r",       /* 5 -> wor */
    "l d</w>",    /* 6 -> ld</w> */
    "wor ld</w>", /* 7 -> world</w> */
};
static const char *const MERGED[] = {"ll", "he",  "llo</w>", "hello</w>",
                                     "wo", "wor", "ld</w>",  "world</w>"};

static int32_t id_of(const char *tok) {
    if (strlen(tok) == 1)
        return tok[0] - 0x21;
    if (strlen(tok) == 5 && strcmp(tok + 1, "</w>") == 0)
        return 94 + (tok[0] - 0x21);
    for (int i = 0; i < 8; i++)
        if (strcmp(tok, MERGED[i]) == 0)
            return 188 + i;
    if (strcmp(tok, "<|startoftext|>") == 0)
        return 196;
    if (strcmp(tok, "<|endoftext|>") == 0)
        return 197;
    fail_msg("no token %s", tok);
    return -1;
}

static bpe_tokenizer *hand_tokenizer(void) {
    static char vocab[16384], merges[512];
    size_t v = 0;
    v += (size_t)snprintf(vocab + v, sizeof vocab - v, "{");
    for (int suffix = 0; suffix < 2; suffix++)
        for (int c = 0x21; c <= 0x7E; c++) {
            const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : NULL;
            char one[3] = {(char)c, 0, 0};
            v += (size_t)snprintf(vocab + v, sizeof vocab - v, "\"%s%s\": %d, ", esc ? esc : one,
                                  suffix ? "</w>" : "", suffix * 94 + c - 0x21);
        }
    for (int i = 0; i < 8; i++)
        v += (size_t)snprintf(vocab + v, sizeof vocab - v, "\"%s\": %d, ", MERGED[i], 188 + i);
    v += (size_t)snprintf(vocab + v, sizeof vocab - v,
                          "\"<|startoftext|>\": 196, \"<|endoftext|>\": 197}");
    size_t m = (size_t)snprintf(merges, sizeof merges, "#version: 0.2\n");
    for (int i = 0; i < 8; i++)
        m += (size_t)snprintf(merges + m, sizeof merges - m, "%s\n", MERGES[i]);
    bpe_tokenizer *t = NULL;
    sp_error err;
    if (bpe_load_vocab_merges(vocab, v, merges, m, &t, &err))
        fail_msg("%s", err.message);
    return t;
}

static void expect_tokens(const bpe_tokenizer *t, const char *text, const char *const *want,
                          size_t n) {
    int32_t ids[64];
    size_t total;
    sp_error err;
    assert_int_equal(bpe_encode(t, text, strlen(text), ids, 64, &total, &err), SP_OK);
    if (total != n)
        fail_msg("'%s': %zu tokens, want %zu", text, total, n);
    for (size_t i = 0; i < n; i++)
        if (ids[i] != id_of(want[i]))
            fail_msg("'%s' token %zu: id %d, want %s (%d)", text, i, ids[i], want[i],
                     id_of(want[i]));
}

#define EXPECT(t, text, ...)                                                                       \
    expect_tokens(t, text, (const char *const[]){__VA_ARGS__},                                     \
                  sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static void test_bpe_merges_by_rank_on_a_hand_made_vocabulary(void **state) {
    (void)state;
    bpe_tokenizer *t = hand_tokenizer();
    assert_int_equal(bpe_bos(t), 196);
    assert_int_equal(bpe_eos(t), 197);
    /* lowercased, split at the space, each word merged down to one token */
    EXPECT(t, "Hello World", "hello</w>", "world</w>");
    /* h e l l o h e l l o</w> -> (l l) h e ll o h e ll o</w> -> (h e) he ll o he ll o</w>
     * -> (ll o</w>) he ll o he llo</w> -> (he llo</w>) he ll o hello</w>; no rule joins he ll */
    EXPECT(t, "hellohello", "he", "ll", "o", "hello</w>");
    /* l l l</w>: the leftmost pair merges first and l</w> stays alone */
    EXPECT(t, "lll", "ll", "l</w>");
    /* the contraction is its own piece; punctuation runs stay together; digits are single */
    EXPECT(t, "it's", "i", "t</w>", "'", "s</w>");
    EXPECT(t, "3.14", "3</w>", ".</w>", "1</w>", "4</w>");
    EXPECT(t, "a!!b", "a</w>", "!", "!</w>", "b</w>");
    EXPECT(t, "  Hello,\tWORLD!  ", "hello</w>", ",</w>", "world</w>", "!</w>");
    /* a byte the vocabulary lacks (the space-mapped 0x01 byte) becomes the unknown token, which
     * for CLIP is <|endoftext|> */
    EXPECT(t, "\x01", "<|endoftext|>");
    expect_tokens(t, "", NULL, 0); /* no text, no tokens */
    bpe_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_decodes_valid_and_rejects_invalid_sequences),
        cmocka_unit_test(test_unicode_letters_numbers_spaces_and_lowercase),
        cmocka_unit_test(test_bpe_merges_by_rank_on_a_hand_made_vocabulary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
