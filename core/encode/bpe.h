/* The CLIP tokenizer: byte-level BPE with an end-of-word suffix, loaded from vocab.json +
 * merges.txt or from a tokenizer.json whose model is BPE with a ByteLevel pre-tokenizer.
 * Text is decoded from UTF-8, lowercased (simple Unicode mapping), split by CLIP's pattern
 * (<|startoftext|>, <|endoftext|>, 's 't 're 've 'm 'll 'd, runs of letters, single digits, runs of
 * other non-space characters), each piece mapped byte by byte to printable characters and merged by
 * rank. Special-token spellings inside the text are plain text, never control tokens.
 * Immutable after load: concurrent encodes are safe. */
#ifndef SP_ENCODE_BPE_H
#define SP_ENCODE_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "scriptprune/error.h"

typedef struct bpe_tokenizer bpe_tokenizer;

/* Loads from the two classic files (texts of the given lengths; `where` names them in messages). */
sp_status bpe_load_vocab_merges(const char *vocab_json, size_t vocab_len, const char *merges_txt,
                                size_t merges_len, bpe_tokenizer **out, sp_error *err);
/* Loads from a tokenizer.json. Non-BPE models (Unigram, WordPiece) and non-byte-level BPE
 * (SentencePiece style) fail with SP_ERR_UNSUPPORTED. */
sp_status bpe_load_tokenizer_json(const char *json, size_t len, bpe_tokenizer **out, sp_error *err);
void bpe_free(bpe_tokenizer *t);

/* Start and end token ids (<|startoftext|>, <|endoftext|>), -1 when the vocabulary lacks them. */
int32_t bpe_bos(const bpe_tokenizer *t);
int32_t bpe_eos(const bpe_tokenizer *t);
size_t bpe_vocab_size(const bpe_tokenizer *t);

enum { BPE_MAX_WORD_BYTES = 4096 };

/* Tokenizes text without start/end tokens: writes the first min(cap, n) of its n ids to ids and
 * sets *total = n when n <= cap, else cap + 1 (tokenizing stops there: "longer than cap"). Words
 * longer than BPE_MAX_WORD_BYTES are cut (they exceed any context anyway). Invalid UTF-8 fails
 * with SP_ERR_INVALID naming the byte offset. */
sp_status bpe_encode(const bpe_tokenizer *t, const char *text, size_t len, int32_t *ids, size_t cap,
                     size_t *total, sp_error *err);

#endif
