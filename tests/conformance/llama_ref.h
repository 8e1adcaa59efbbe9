/* llama_ref.h — shared declarations of the llama_ref harness (llama_ref.c: logits, generate, perplexity, main;
 * llama_ref_quant.c: tensor-type subcommands; llama_ref_vocab.c: tokenizer subcommands). Not part of moe. */
#ifndef MOE_LLAMA_REF_H
#define MOE_LLAMA_REF_H


#include "llama.h"
#include "ggml.h"
#include "ggml-alloc.h" /* vecdot (issue 4) */
#include "ggml-backend.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MOE_LLAMA_REF_LIB_DIR
#define MOE_LLAMA_REF_LIB_DIR ""
#endif

/* ------------------------------------------------------------------------------------------------------------ */
/* errors and logging                                                                                           */

#if defined(__GNUC__)
#define MOE_NORETURN __attribute__((noreturn))
#define MOE_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MOE_NORETURN
#define MOE_PRINTF(a, b)
#endif

void die(const char *fmt, ...) MOE_NORETURN MOE_PRINTF(1, 2);
const char *first_error(void);
long parse_long(const char *s, const char *what, long lo, long hi);
void load_backends(void);
int is_little_endian(void);
char *read_file(const char *path, size_t *len);
int cmd_dequantize(int argc, char **argv);
int cmd_vecdot(int argc, char **argv);
int cmd_unary(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_model_quantize(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_pieces(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);

#endif
