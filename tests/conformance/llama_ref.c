/* llama_ref: runs llama.cpp's prebuilt CPU library on a GGUF file: reference logits, greedy tokens, ggml quant blocks.
 * Before: fetch_llama_ref.sh + llama_ref.cmake build it; after: moe conformance tests compare with its output. */

#include "llama.h"
#include "ggml.h"
#include "ggml-backend.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
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

static void die(const char *fmt, ...) MOE_NORETURN MOE_PRINTF(1, 2);

static void die(const char *fmt, ...)
{
    va_list ap;
    fputs("llama_ref: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* The first error llama.cpp logged (its most specific one), on one line, to explain a failure without its log. */
static char g_first_error[512];
static int g_verbose;

static void log_callback(enum ggml_log_level level, const char *text, void *user_data)
{
    (void)user_data;
    if (g_verbose)
        fputs(text, stderr);
    if (level == GGML_LOG_LEVEL_ERROR && text != NULL && g_first_error[0] == '\0') {
        size_t n;
        while (*text == ' ' || *text == '\n')
            text++;
        if (*text == '\0')
            return;
        strncpy(g_first_error, text, sizeof(g_first_error) - 1);
        g_first_error[sizeof(g_first_error) - 1] = '\0';
        for (n = 0; g_first_error[n] != '\0'; n++)
            if (g_first_error[n] == '\n' || g_first_error[n] == '\r')
                g_first_error[n] = ' ';
        while (n > 0 && g_first_error[n - 1] == ' ')
            g_first_error[--n] = '\0';
    }
}

/* GGML_ASSERT / GGML_ABORT inside llama.cpp: one line instead of its gdb backtrace, then a plain failure exit. */
static void abort_callback(const char *message)
{
    fprintf(stderr, "llama_ref: llama.cpp aborted: %s\n", message);
    fflush(stderr);
    _Exit(1);
}

static void setup_logging(void)
{
    const char *v = getenv("MOE_LLAMA_REF_VERBOSE");
    g_verbose = v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
    llama_log_set(log_callback, NULL); /* also sets ggml's logger */
    ggml_set_abort_callback(abort_callback);
}

static const char *first_error(void)
{
    return g_first_error[0] != '\0' ? g_first_error : "set MOE_LLAMA_REF_VERBOSE=1 for its log";
}

/* ------------------------------------------------------------------------------------------------------------ */
/* small helpers                                                                                                */

static long parse_long(const char *s, const char *what, long lo, long hi)
{
    char *end = NULL;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        die("invalid %s '%s' (expected an integer in [%ld, %ld])", what, s, lo, hi);
    return v;
}

/* Parses "1,2,3" into a malloc'd array; returns the count. */
static int parse_tokens(const char *s, llama_token **out)
{
    int cap = 16, n = 0;
    llama_token *t = malloc(sizeof(*t) * (size_t)cap);
    const char *p = s;
    if (t == NULL)
        die("out of memory");
    while (*p != '\0') {
        char *end = NULL;
        long v;
        while (*p == ' ')
            p++;
        errno = 0;
        v = strtol(p, &end, 10);
        if (errno != 0 || end == p || v < 0 || v > INT32_MAX)
            die("invalid --tokens list '%s' (expected comma-separated non-negative integers)", s);
        if (n == cap) {
            cap *= 2;
            t = realloc(t, sizeof(*t) * (size_t)cap);
            if (t == NULL)
                die("out of memory");
        }
        t[n++] = (llama_token)v;
        p = end;
        while (*p == ' ')
            p++;
        if (*p == ',')
            p++;
        else if (*p != '\0')
            die("invalid --tokens list '%s' (unexpected '%c')", s, *p);
    }
    if (n == 0)
        die("--tokens list is empty");
    *out = t;
    return n;
}

static void load_backends(void)
{
    const char *dir = getenv("MOE_LLAMA_REF_LIB");
    if (dir == NULL || dir[0] == '\0')
        dir = MOE_LLAMA_REF_LIB_DIR;
    if (dir[0] == '\0')
        die("no library directory: set MOE_LLAMA_REF_LIB to the folder with libggml-cpu-*.so");
    ggml_backend_load_all_from_path(dir);
    if (ggml_backend_dev_count() == 0)
        die("no ggml backend could be loaded from '%s' (no usable libggml-cpu-*.so there?)", dir);
    llama_backend_init();
}

static enum ggml_type parse_kv_type(const char *s)
{
    if (strcmp(s, "f32") == 0)
        return GGML_TYPE_F32;
    if (strcmp(s, "f16") == 0)
        return GGML_TYPE_F16;
    die("invalid --kv '%s' (expected f32 or f16)", s);
    return GGML_TYPE_F32;
}

static enum llama_flash_attn_type parse_flash(const char *s)
{
    if (strcmp(s, "auto") == 0)
        return LLAMA_FLASH_ATTN_TYPE_AUTO;
    if (strcmp(s, "on") == 0)
        return LLAMA_FLASH_ATTN_TYPE_ENABLED;
    if (strcmp(s, "off") == 0)
        return LLAMA_FLASH_ATTN_TYPE_DISABLED;
    die("invalid --flash '%s' (expected auto, on or off)", s);
    return LLAMA_FLASH_ATTN_TYPE_AUTO;
}

static int is_little_endian(void)
{
    const uint32_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* model / context                                                                                              */

struct run_opts {
    const char *model;
    const char *tokens_arg;
    const char *out;
    int single;               /* --mode single */
    enum ggml_type kv;
    int threads;
    enum llama_flash_attn_type flash;
    int n_gen;
};

struct session {
    struct llama_model *model;
    struct llama_context *ctx;
    int n_vocab;
};

static void open_session(struct session *s, const struct run_opts *o, int n_ctx, int n_batch)
{
    struct llama_model_params mp = llama_model_default_params();
    struct llama_context_params cp = llama_context_default_params();
    FILE *f = fopen(o->model, "rb");

    if (f == NULL)
        die("cannot open model '%s': %s", o->model, strerror(errno));
    fclose(f);

    load_backends();

    mp.n_gpu_layers = 0;
    s->model = llama_model_load_from_file(o->model, mp);
    if (s->model == NULL)
        die("llama.cpp could not load '%s': %s", o->model, first_error());
    s->n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(s->model));
    if (s->n_vocab <= 0)
        die("model '%s' has no vocabulary", o->model);

    cp.n_ctx = (uint32_t)n_ctx;
    cp.n_batch = (uint32_t)n_batch;
    cp.n_ubatch = (uint32_t)n_batch; /* one physical batch: the whole prompt goes through one graph */
    cp.n_seq_max = 1;
    cp.n_threads = o->threads;
    cp.n_threads_batch = o->threads;
    cp.flash_attn_type = o->flash;
    cp.type_k = o->kv;
    cp.type_v = o->kv;
    cp.no_perf = true;
    cp.embeddings = false;
    s->ctx = llama_init_from_model(s->model, cp);
    if (s->ctx == NULL)
        die("llama.cpp could not create a context for '%s': %s", o->model, first_error());
}

static void close_session(struct session *s)
{
    llama_free(s->ctx);
    llama_model_free(s->model);
    llama_backend_free();
}

static void check_tokens(const llama_token *t, int n, int n_vocab)
{
    int i;
    for (i = 0; i < n; i++)
        if (t[i] < 0 || t[i] >= n_vocab)
            die("token %d at index %d is out of range (n_vocab = %d)", (int)t[i], i, n_vocab);
}

/* Decodes tokens[0..n) at positions pos0.. as one llama_decode call; logits for all or only the last. */
static void decode(struct session *s, const llama_token *tokens, int n, int pos0, int all_logits)
{
    struct llama_batch b = llama_batch_init(n, 0, 1);
    int i, rc;
    for (i = 0; i < n; i++) {
        b.token[i] = tokens[i];
        b.pos[i] = pos0 + i;
        b.n_seq_id[i] = 1;
        b.seq_id[i][0] = 0;
        b.logits[i] = (int8_t)(all_logits || i == n - 1);
    }
    b.n_tokens = n;
    rc = llama_decode(s->ctx, b);
    llama_batch_free(b);
    if (rc != 0)
        die("llama_decode failed with code %d at position %d: %s", rc, pos0, first_error());
}

static const float *logits_at(struct session *s, int i)
{
    const float *l = llama_get_logits_ith(s->ctx, i);
    if (l == NULL)
        die("llama.cpp returned no logits for output %d", i);
    return l;
}

static int argmax(const float *v, int n)
{
    int i, best = 0;
    for (i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* subcommands                                                                                                  */

static void usage(FILE *f)
{
    fputs("usage:\n"
          "  llama_ref logits   -m MODEL.gguf --tokens 1,2,3 [--mode batch|single] [--kv f32|f16] [-t THREADS]\n"
          "                     [--flash auto|on|off] -o OUT.f32\n"
          "      writes the logits of every position as little-endian float32, n_tokens x n_vocab\n"
          "  llama_ref generate -m MODEL.gguf --tokens 1,2,3 -n N [--kv f32|f16] [-t THREADS] [--flash auto|on|off]\n"
          "      prints N greedy (argmax) token ids after the prompt, comma-separated (EOS does not stop it)\n"
          "  llama_ref quantize --type q8_0|q4_0|f16|bf16 -i IN.f32 -o OUT.bin [--row-len N]\n"
          "      quantizes raw float32 values with ggml_quantize_chunk and writes the raw blocks\n"
          "environment: MOE_LLAMA_REF_LIB (folder of the llama.cpp libraries), MOE_LLAMA_REF_VERBOSE=1 (its log)\n",
          f);
}

static void parse_run_opts(int argc, char **argv, struct run_opts *o, int generate)
{
    int i;
    memset(o, 0, sizeof(*o));
    o->kv = GGML_TYPE_F32;
    o->threads = 2;
    o->flash = LLAMA_FLASH_ATTN_TYPE_AUTO;
    o->n_gen = -1;
    for (i = 2; i < argc; i += 2) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            die("option '%s' needs a value (or is unknown); run 'llama_ref --help'", a);
        if (strcmp(a, "-m") == 0 || strcmp(a, "--model") == 0)
            o->model = v;
        else if (strcmp(a, "--tokens") == 0)
            o->tokens_arg = v;
        else if (!generate && (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0))
            o->out = v;
        else if (!generate && strcmp(a, "--mode") == 0) {
            if (strcmp(v, "batch") == 0)
                o->single = 0;
            else if (strcmp(v, "single") == 0)
                o->single = 1;
            else
                die("invalid --mode '%s' (expected batch or single)", v);
        } else if (strcmp(a, "--kv") == 0)
            o->kv = parse_kv_type(v);
        else if (strcmp(a, "-t") == 0 || strcmp(a, "--threads") == 0)
            o->threads = (int)parse_long(v, "thread count", 1, 1024);
        else if (strcmp(a, "--flash") == 0)
            o->flash = parse_flash(v);
        else if (generate && strcmp(a, "-n") == 0)
            o->n_gen = (int)parse_long(v, "token count -n", 0, 1 << 20);
        else
            die("unknown option '%s'; run 'llama_ref --help'", a);
    }
    if (o->model == NULL)
        die("missing -m MODEL.gguf");
    if (o->tokens_arg == NULL)
        die("missing --tokens");
    if (!generate && o->out == NULL)
        die("missing -o OUT.f32");
    if (generate && o->n_gen < 0)
        die("missing -n N");
}

static int cmd_logits(int argc, char **argv)
{
    struct run_opts o;
    struct session s;
    llama_token *tokens = NULL;
    int n, i;
    FILE *f;

    parse_run_opts(argc, argv, &o, 0);
    n = parse_tokens(o.tokens_arg, &tokens);
    if (!is_little_endian())
        die("this host is big-endian; the output format is little-endian float32");

    open_session(&s, &o, n, o.single ? 1 : n);
    check_tokens(tokens, n, s.n_vocab);
    fprintf(stderr, "n_vocab=%d n_tokens=%d\n", s.n_vocab, n);

    f = fopen(o.out, "wb");
    if (f == NULL)
        die("cannot create '%s': %s", o.out, strerror(errno));

    if (!o.single) {
        decode(&s, tokens, n, 0, 1);
        for (i = 0; i < n; i++)
            if (fwrite(logits_at(&s, i), sizeof(float), (size_t)s.n_vocab, f) != (size_t)s.n_vocab)
                die("cannot write '%s': %s", o.out, strerror(errno));
    } else {
        for (i = 0; i < n; i++) {
            decode(&s, tokens + i, 1, i, 1);
            if (fwrite(logits_at(&s, 0), sizeof(float), (size_t)s.n_vocab, f) != (size_t)s.n_vocab)
                die("cannot write '%s': %s", o.out, strerror(errno));
        }
    }
    if (fclose(f) != 0)
        die("cannot write '%s': %s", o.out, strerror(errno));

    close_session(&s);
    free(tokens);
    return 0;
}

static int cmd_generate(int argc, char **argv)
{
    struct run_opts o;
    struct session s;
    llama_token *tokens = NULL;
    int n, i;

    parse_run_opts(argc, argv, &o, 1);
    n = parse_tokens(o.tokens_arg, &tokens);

    open_session(&s, &o, n + o.n_gen, n);
    check_tokens(tokens, n, s.n_vocab);

    decode(&s, tokens, n, 0, 0);
    for (i = 0; i < o.n_gen; i++) {
        llama_token next = (llama_token)argmax(logits_at(&s, -1), s.n_vocab);
        printf(i == 0 ? "%d" : ",%d", (int)next);
        if (i + 1 < o.n_gen)
            decode(&s, &next, 1, n + i, 1);
    }
    printf("\n");
    if (fflush(stdout) != 0)
        die("cannot write to stdout");

    close_session(&s);
    free(tokens);
    return 0;
}

static int cmd_quantize(int argc, char **argv)
{
    const char *type_name = NULL, *in = NULL, *out = NULL;
    enum ggml_type type = GGML_TYPE_Q8_0;
    long row_len = 0;
    long size = -1;
    size_t count, nrows, out_size, written;
    float *src;
    void *dst;
    FILE *f;
    int i;

    for (i = 2; i < argc; i += 2) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            die("option '%s' needs a value (or is unknown); run 'llama_ref --help'", a);
        if (strcmp(a, "--type") == 0)
            type_name = v;
        else if (strcmp(a, "-i") == 0 || strcmp(a, "--input") == 0)
            in = v;
        else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0)
            out = v;
        else if (strcmp(a, "--row-len") == 0)
            row_len = parse_long(v, "--row-len", 1, LONG_MAX);
        else
            die("unknown option '%s'; run 'llama_ref --help'", a);
    }
    if (type_name == NULL || in == NULL || out == NULL)
        die("quantize needs --type, -i and -o");
    if (strcmp(type_name, "q8_0") == 0)
        type = GGML_TYPE_Q8_0;
    else if (strcmp(type_name, "q4_0") == 0)
        type = GGML_TYPE_Q4_0;
    else if (strcmp(type_name, "f16") == 0)
        type = GGML_TYPE_F16;
    else if (strcmp(type_name, "bf16") == 0)
        type = GGML_TYPE_BF16;
    else
        die("invalid --type '%s' (expected q8_0, q4_0, f16 or bf16)", type_name);
    if (!is_little_endian())
        die("this host is big-endian; the file formats are little-endian");

    f = fopen(in, "rb");
    if (f == NULL)
        die("cannot open '%s': %s", in, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        die("cannot read '%s': %s", in, strerror(errno));
    if (size == 0 || size % 4 != 0)
        die("'%s' has %ld bytes, not a positive whole number of float32 values", in, size);
    count = (size_t)size / 4;
    if (count % 32 != 0)
        die("'%s' has %zu values, not a multiple of 32", in, count);
    if (row_len == 0)
        row_len = (long)count;
    if (row_len % 32 != 0 || count % (size_t)row_len != 0)
        die("--row-len %ld must be a multiple of 32 that divides the value count %zu", row_len, count);
    nrows = count / (size_t)row_len;

    src = malloc((size_t)size);
    if (src == NULL)
        die("out of memory");
    if (fread(src, 1, (size_t)size, f) != (size_t)size)
        die("cannot read '%s'", in);
    fclose(f);

    out_size = ggml_row_size(type, row_len) * nrows;
    dst = calloc(1, out_size);
    if (dst == NULL)
        die("out of memory");
    written = ggml_quantize_chunk(type, src, dst, 0, (int64_t)nrows, row_len, NULL);
    if (written != out_size)
        die("ggml_quantize_chunk wrote %zu bytes, expected %zu", written, out_size);

    f = fopen(out, "wb");
    if (f == NULL)
        die("cannot create '%s': %s", out, strerror(errno));
    if (fwrite(dst, 1, out_size, f) != out_size || fclose(f) != 0)
        die("cannot write '%s': %s", out, strerror(errno));
    free(src);
    free(dst);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    setup_logging();
    if (strcmp(argv[1], "logits") == 0)
        return cmd_logits(argc, argv);
    if (strcmp(argv[1], "generate") == 0)
        return cmd_generate(argc, argv);
    if (strcmp(argv[1], "quantize") == 0)
        return cmd_quantize(argc, argv);
    die("unknown subcommand '%s' (expected logits, generate or quantize)", argv[1]);
    return 2;
}
