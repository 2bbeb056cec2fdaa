/* Byte-level BPE for CLIP (see bpe.h). */
#include "bpe.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "scriptprune/json.h"
#include "unicode.h"

typedef struct vslot {
    uint32_t off, len; /* key bytes in strings */
    int32_t id;        /* -1: empty slot */
} vslot;

typedef struct mslot {
    uint64_t key; /* (a + 1) << 32 | (b + 1); 0: empty */
    int32_t rank, merged;
} mslot;

struct bpe_tokenizer {
    char *strings;
    size_t strings_len, strings_cap;
    vslot *vslots;
    size_t vcap, vcount;
    mslot *mslots;
    size_t mcap, mcount;
    uint32_t byte_cp[256]; /* byte -> printable code point (GPT-2 byte-level mapping) */
    int32_t base_id[256];  /* id of that character alone, -1 if absent */
    int32_t end_id[256];   /* id of that character + end-of-word suffix */
    char suffix[32];
    size_t suffix_len;
    int32_t bos, eos, unk;
};

/* ---- tables ---- */

static uint64_t fnv(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n)
        c *= 2;
    return c;
}

static int32_t vocab_find(const bpe_tokenizer *t, const char *s, size_t n) {
    size_t mask = t->vcap - 1;
    for (size_t i = fnv(s, n) & mask;; i = (i + 1) & mask) {
        const vslot *v = &t->vslots[i];
        if (v->id < 0)
            return -1;
        if (v->len == n && memcmp(t->strings + v->off, s, n) == 0)
            return v->id;
    }
}

static sp_status vocab_init(bpe_tokenizer *t, size_t count, size_t bytes, sp_error *err) {
    t->vcap = pow2_at_least(count * 2 + 1);
    t->vslots = sp_alloc_array(t->vcap, sizeof *t->vslots);
    t->strings = sp_malloc(bytes + 1);
    if (!t->vslots || !t->strings)
        return sp_error_set(err, SP_ERR_NOMEM, "tokenizer: out of memory for %zu tokens", count);
    for (size_t i = 0; i < t->vcap; i++)
        t->vslots[i].id = -1;
    t->strings_cap = bytes + 1;
    return SP_OK;
}

static void vocab_put(bpe_tokenizer *t, const char *s, size_t n, int32_t id) {
    size_t mask = t->vcap - 1, i = fnv(s, n) & mask;
    while (t->vslots[i].id >= 0)
        i = (i + 1) & mask;
    memcpy(t->strings + t->strings_len, s, n);
    t->vslots[i].off = (uint32_t)t->strings_len;
    t->vslots[i].len = (uint32_t)n;
    t->vslots[i].id = id;
    t->strings_len += n;
    t->vcount++;
}

static const mslot *merge_find(const bpe_tokenizer *t, int32_t a, int32_t b) {
    if (a < 0 || b < 0 || !t->mcap)
        return NULL;
    uint64_t key = ((uint64_t)(uint32_t)a + 1) << 32 | ((uint64_t)(uint32_t)b + 1);
    size_t mask = t->mcap - 1;
    for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
        const mslot *m = &t->mslots[i];
        if (m->key == 0)
            return NULL;
        if (m->key == key)
            return m;
    }
}

static sp_status merges_init(bpe_tokenizer *t, size_t count, sp_error *err) {
    t->mcap = pow2_at_least(count * 2 + 1);
    t->mslots = sp_calloc(t->mcap, sizeof *t->mslots);
    if (!t->mslots)
        return sp_error_set(err, SP_ERR_NOMEM, "tokenizer: out of memory for %zu merges", count);
    return SP_OK;
}

/* Adds merge number `rank` of strings a and b (`where` says which file/line for messages).
 * A repeated pair keeps its first (lowest) rank. */
static sp_status merge_add(bpe_tokenizer *t, const char *a, size_t na, const char *b, size_t nb,
                           int32_t rank, const char *where, sp_error *err) {
    int32_t ia = vocab_find(t, a, na), ib = vocab_find(t, b, nb);
    char joined[512];
    if (na + nb > sizeof joined)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: merged token longer than %zu bytes", where,
                            sizeof joined);
    memcpy(joined, a, na);
    memcpy(joined + na, b, nb);
    int32_t im = vocab_find(t, joined, na + nb);
    if (ia < 0 || ib < 0 || im < 0)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "%s: merge '%.*s %.*s' uses a token the vocabulary "
                            "lacks ('%.*s')",
                            where, (int)na, a, (int)nb, b,
                            ia < 0   ? (int)na
                            : ib < 0 ? (int)nb
                                     : (int)(na + nb),
                            ia < 0   ? a
                            : ib < 0 ? b
                                     : joined);
    uint64_t key = ((uint64_t)(uint32_t)ia + 1) << 32 | ((uint64_t)(uint32_t)ib + 1);
    size_t mask = t->mcap - 1, i = mix(key) & mask;
    while (t->mslots[i].key != 0) {
        if (t->mslots[i].key == key)
            return SP_OK;
        i = (i + 1) & mask;
    }
    t->mslots[i].key = key;
    t->mslots[i].rank = rank;
    t->mslots[i].merged = im;
    t->mcount++;
    return SP_OK;
}

/* The GPT-2/CLIP byte-to-character mapping: printable Latin-1 bytes stand for themselves, the
 * others take code points from U+0100 on, in byte order. Then the per-byte token ids. */
static void byte_tables(bpe_tokenizer *t) {
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; b++) {
        int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        t->byte_cp[b] = printable ? b : next++;
    }
    for (int b = 0; b < 256; b++) {
        uint8_t buf[4 + sizeof t->suffix];
        size_t n = sp_utf8_encode(t->byte_cp[b], buf);
        t->base_id[b] = vocab_find(t, (const char *)buf, n);
        memcpy(buf + n, t->suffix, t->suffix_len);
        t->end_id[b] = vocab_find(t, (const char *)buf, n + t->suffix_len);
    }
}

static void find_specials(bpe_tokenizer *t) {
    t->bos = vocab_find(t, "<|startoftext|>", 15);
    t->eos = vocab_find(t, "<|endoftext|>", 13);
    if (t->unk < 0)
        t->unk = t->eos;
}

void bpe_free(bpe_tokenizer *t) {
    if (!t)
        return;
    sp_free(t->strings);
    sp_free(t->vslots);
    sp_free(t->mslots);
    sp_free(t);
}

static bpe_tokenizer *tokenizer_new(sp_error *err) {
    bpe_tokenizer *t = sp_calloc(1, sizeof *t);
    if (!t) {
        sp_error_set(err, SP_ERR_NOMEM, "tokenizer: out of memory");
        return NULL;
    }
    t->bos = t->eos = t->unk = -1;
    return t;
}

/* ---- loading ---- */

static sp_status load_vocab(bpe_tokenizer *t, const sp_json *obj, const char *where,
                            sp_error *err) {
    if (sp_json_type_of(obj) != SP_JSON_OBJECT)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "%s: the vocabulary is a %s, not an object of "
                            "token -> id",
                            where, sp_json_type_name(sp_json_type_of(obj)));
    size_t count = sp_json_length(obj), bytes = 0;
    for (size_t i = 0; i < count; i++)
        bytes += strlen(sp_json_key_at(obj, i));
    sp_status s = vocab_init(t, count, bytes, err);
    if (s)
        return s;
    for (size_t i = 0; i < count; i++) {
        const char *key = sp_json_key_at(obj, i);
        int64_t id;
        if (!sp_json_int64(sp_json_value_at(obj, i), &id) || id < 0 || id > INT32_MAX)
            return sp_error_set(err, SP_ERR_FORMAT,
                                "%s: token '%s' has no valid id (expected an "
                                "integer in [0, 2^31))",
                                where, key);
        vocab_put(t, key, strlen(key), (int32_t)id);
    }
    return SP_OK;
}

sp_status bpe_load_vocab_merges(const char *vocab_json, size_t vocab_len, const char *merges_txt,
                                size_t merges_len, bpe_tokenizer **out, sp_error *err) {
    *out = NULL;
    bpe_tokenizer *t = tokenizer_new(err);
    if (!t)
        return SP_ERR_NOMEM;
    sp_json_doc *doc = NULL;
    sp_status s = sp_json_parse(vocab_json, vocab_len, "vocab.json", &doc, err);
    if (!s)
        s = load_vocab(t, sp_json_root(doc), "vocab.json", err);
    sp_json_free(doc);
    memcpy(t->suffix, "</w>", 4);
    t->suffix_len = 4;
    /* merges.txt: optional "#version" line, then one "a b" pair per line, rank = order */
    size_t lines = 0;
    for (size_t i = 0; i < merges_len; i++)
        lines += merges_txt[i] == '\n';
    if (!s)
        s = merges_init(t, lines + 1, err);
    size_t pos = 0, lineno = 0;
    int32_t rank = 0;
    while (!s && pos < merges_len) {
        const char *line = merges_txt + pos;
        const char *nl = memchr(line, '\n', merges_len - pos);
        size_t n = nl ? (size_t)(nl - line) : merges_len - pos;
        pos += n + (nl != NULL);
        lineno++;
        if (n && line[n - 1] == '\r')
            n--;
        if (n == 0 || (lineno == 1 && n >= 8 && memcmp(line, "#version", 8) == 0))
            continue;
        const char *sp = memchr(line, ' ', n);
        if (!sp || sp == line || sp == line + n - 1 || memchr(sp + 1, ' ', n - (sp + 1 - line)))
            s = sp_error_set(err, SP_ERR_FORMAT,
                             "merges.txt line %zu: expected two tokens "
                             "separated by one space",
                             lineno);
        else {
            char where[64];
            snprintf(where, sizeof where, "merges.txt line %zu", lineno);
            s = merge_add(t, line, (size_t)(sp - line), sp + 1, n - (size_t)(sp + 1 - line), rank++,
                          where, err);
        }
    }
    if (s) {
        bpe_free(t);
        return s;
    }
    byte_tables(t);
    find_specials(t);
    *out = t;
    return SP_OK;
}

static int has_byte_level(const sp_json *pre) {
    if (!pre || sp_json_type_of(pre) != SP_JSON_OBJECT)
        return 0;
    const sp_json *type = sp_json_get(pre, "type");
    if (type && sp_json_type_of(type) == SP_JSON_STRING &&
        strcmp(sp_json_string(type, NULL), "ByteLevel") == 0)
        return 1;
    const sp_json *list = sp_json_get(pre, "pretokenizers");
    if (list && sp_json_type_of(list) == SP_JSON_ARRAY)
        for (size_t i = 0; i < sp_json_length(list); i++)
            if (has_byte_level(sp_json_at(list, i)))
                return 1;
    return 0;
}

static const char *json_str(const sp_json *obj, const char *key) {
    const sp_json *v = obj ? sp_json_get(obj, key) : NULL;
    return v && sp_json_type_of(v) == SP_JSON_STRING ? sp_json_string(v, NULL) : NULL;
}

static sp_status load_tokenizer_doc(bpe_tokenizer *t, const sp_json *root, sp_error *err) {
    const sp_json *model = sp_json_get(root, "model");
    if (!model || sp_json_type_of(model) != SP_JSON_OBJECT)
        return sp_error_set(err, SP_ERR_FORMAT, "tokenizer.json: no \"model\" object");
    const char *type = json_str(model, "type");
    if (!type || strcmp(type, "BPE") != 0)
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "tokenizer.json: model type %s is not "
                            "supported (only CLIP's byte-level BPE); tokenize elsewhere and use "
                            "sp_encode_text_ids",
                            type ? type : "(missing)");
    if (!has_byte_level(sp_json_get(root, "pre_tokenizer")))
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "tokenizer.json: BPE without a ByteLevel "
                            "pre-tokenizer (SentencePiece style) is not supported; tokenize "
                            "elsewhere and use sp_encode_text_ids");
    const sp_json *vocab = sp_json_get(model, "vocab");
    if (!vocab)
        return sp_error_set(err, SP_ERR_FORMAT, "tokenizer.json: no model.vocab");
    sp_status s = load_vocab(t, vocab, "tokenizer.json model.vocab", err);
    if (s)
        return s;
    const char *suffix = json_str(model, "end_of_word_suffix");
    if (suffix) {
        size_t n = strlen(suffix);
        if (n >= sizeof t->suffix)
            return sp_error_set(err, SP_ERR_UNSUPPORTED,
                                "tokenizer.json: end_of_word_suffix "
                                "longer than %zu bytes",
                                sizeof t->suffix - 1);
        memcpy(t->suffix, suffix, n);
        t->suffix_len = n;
    }
    const char *unk = json_str(model, "unk_token");
    if (unk)
        t->unk = vocab_find(t, unk, strlen(unk));
    const sp_json *merges = sp_json_get(model, "merges");
    if (!merges || sp_json_type_of(merges) != SP_JSON_ARRAY)
        return sp_error_set(err, SP_ERR_FORMAT, "tokenizer.json: model.merges is not an array");
    size_t count = sp_json_length(merges);
    s = merges_init(t, count, err);
    for (size_t i = 0; !s && i < count; i++) {
        const sp_json *m = sp_json_at(merges, i);
        char where[64];
        snprintf(where, sizeof where, "tokenizer.json model.merges[%zu]", i);
        size_t na = 0, nb = 0;
        const char *a = NULL, *b = NULL;
        if (sp_json_type_of(m) == SP_JSON_STRING) { /* "a b" */
            size_t n;
            const char *str = sp_json_string(m, &n);
            const char *sp = memchr(str, ' ', n);
            if (sp) {
                a = str, na = (size_t)(sp - str), b = sp + 1, nb = n - na - 1;
            }
        } else if (sp_json_type_of(m) == SP_JSON_ARRAY && sp_json_length(m) == 2 &&
                   sp_json_type_of(sp_json_at(m, 0)) == SP_JSON_STRING &&
                   sp_json_type_of(sp_json_at(m, 1)) == SP_JSON_STRING) { /* ["a", "b"] */
            a = sp_json_string(sp_json_at(m, 0), &na);
            b = sp_json_string(sp_json_at(m, 1), &nb);
        }
        if (!a || !na || !nb)
            s = sp_error_set(err, SP_ERR_FORMAT, "%s: expected \"a b\" or [\"a\", \"b\"]", where);
        else
            s = merge_add(t, a, na, b, nb, (int32_t)i, where, err);
    }
    return s;
}

sp_status bpe_load_tokenizer_json(const char *json, size_t len, bpe_tokenizer **out,
                                  sp_error *err) {
    *out = NULL;
    bpe_tokenizer *t = tokenizer_new(err);
    if (!t)
        return SP_ERR_NOMEM;
    sp_json_doc *doc = NULL;
    sp_status s = sp_json_parse(json, len, "tokenizer.json", &doc, err);
    if (!s)
        s = load_tokenizer_doc(t, sp_json_root(doc), err);
    sp_json_free(doc);
    if (s) {
        bpe_free(t);
        return s;
    }
    byte_tables(t);
    find_specials(t);
    *out = t;
    return SP_OK;
}

int32_t bpe_bos(const bpe_tokenizer *t) {
    return t->bos;
}

int32_t bpe_eos(const bpe_tokenizer *t) {
    return t->eos;
}

size_t bpe_vocab_size(const bpe_tokenizer *t) {
    return t->vcount;
}

/* ---- encoding ---- */

typedef struct emitter {
    int32_t *ids;
    size_t cap, total;
} emitter;

static void emit(emitter *e, int32_t id) {
    if (e->total < e->cap)
        e->ids[e->total] = id;
    e->total++;
}

/* BPE of one piece (code points cps[0..n)): bytes -> characters -> lowest-rank merges first, every
 * occurrence of the chosen pair merged left to right. syms has BPE_MAX_WORD_BYTES entries. */
static void encode_word(const bpe_tokenizer *t, const uint32_t *cps, size_t n, int32_t *syms,
                        emitter *e) {
    uint8_t bytes[BPE_MAX_WORD_BYTES];
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t u[4];
        size_t k = sp_utf8_encode(cps[i], u);
        if (nb + k > sizeof bytes)
            break; /* cut an overlong word at a character boundary */
        memcpy(bytes + nb, u, k);
        nb += k;
    }
    if (nb == 0)
        return;
    for (size_t i = 0; i < nb; i++)
        syms[i] = i + 1 < nb ? t->base_id[bytes[i]] : t->end_id[bytes[i]];
    size_t ns = nb;
    for (;;) {
        const mslot *best = NULL;
        for (size_t i = 0; i + 1 < ns; i++) {
            const mslot *m = merge_find(t, syms[i], syms[i + 1]);
            if (m && (!best || m->rank < best->rank))
                best = m;
        }
        if (!best)
            break;
        int32_t a = (int32_t)((best->key >> 32) - 1), b = (int32_t)((best->key & 0xffffffffu) - 1);
        size_t o = 0;
        for (size_t i = 0; i < ns;) {
            if (i + 1 < ns && syms[i] == a && syms[i + 1] == b) {
                syms[o++] = best->merged;
                i += 2;
            } else {
                syms[o++] = syms[i++];
            }
        }
        ns = o;
    }
    for (size_t i = 0; i < ns; i++)
        emit(e, syms[i] >= 0 ? syms[i] : t->unk);
}

static int matches_ascii(const uint32_t *cps, size_t n, const char *s) {
    size_t k = strlen(s);
    if (k > n)
        return 0;
    for (size_t i = 0; i < k; i++)
        if (cps[i] != (uint8_t)s[i])
            return 0;
    return 1;
}

/* Length of CLIP's contraction at cps (after lowercasing): 's 't 're 've 'm 'll 'd, else 0. */
static size_t contraction(const uint32_t *cps, size_t n) {
    static const char *const forms[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
        if (matches_ascii(cps, n, forms[i]))
            return strlen(forms[i]);
    return 0;
}

static int is_other(uint32_t c) {
    return !sp_uc_is_space(c) && !sp_uc_is_letter(c) && !sp_uc_is_number(c);
}

sp_status bpe_encode(const bpe_tokenizer *t, const char *text, size_t len, int32_t *ids, size_t cap,
                     size_t *total, sp_error *err) {
    *total = 0;
    /* decode and lowercase; U+0130 lowercases to two code points */
    uint32_t *cps = sp_alloc_array(2 * len + 1, sizeof *cps);
    int32_t *syms = sp_alloc_array(BPE_MAX_WORD_BYTES, sizeof *syms);
    if (!cps || !syms) {
        sp_free(cps);
        sp_free(syms);
        return sp_error_set(err, SP_ERR_NOMEM, "tokenizer: out of memory for %zu bytes of text",
                            len);
    }
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = sp_utf8_decode((const uint8_t *)text + i, len - i, &cp);
        if (k == 0) {
            sp_free(cps);
            sp_free(syms);
            return sp_error_set(err, SP_ERR_INVALID, "text: invalid UTF-8 at byte %zu", i);
        }
        i += k;
        cps[n++] = sp_uc_lower(cp);
        if (cp == 0x130)
            cps[n++] = 0x307;
    }
    emitter e = {ids, cap, 0};
    for (size_t i = 0; i < n && e.total <= cap;) {
        uint32_t c = cps[i];
        size_t k;
        if (sp_uc_is_space(c)) {
            i++;
            continue;
        }
        if (matches_ascii(cps + i, n - i, "<|startoftext|>"))
            k = 15;
        else if (matches_ascii(cps + i, n - i, "<|endoftext|>"))
            k = 13;
        else if ((k = contraction(cps + i, n - i)) != 0)
            ;
        else if (sp_uc_is_letter(c))
            for (k = 1; i + k < n && sp_uc_is_letter(cps[i + k]); k++)
                ;
        else if (sp_uc_is_number(c))
            k = 1;
        else
            for (k = 1; i + k < n && is_other(cps[i + k]); k++)
                ;
        encode_word(t, cps + i, k, syms, &e);
        i += k;
    }
    *total = e.total <= cap ? e.total : cap + 1;
    sp_free(cps);
    sp_free(syms);
    return SP_OK;
}
