/* llama_ref: runs llama.cpp's prebuilt CPU library on a GGUF file: logits, greedy tokens, quant blocks, token ids.
 * Before: fetch_llama_ref.sh + llama_ref.cmake build it; after: moe conformance tests compare with its output. */

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
          "  llama_ref quantize --type T -i IN.f32 -o OUT.bin [--row-len N]\n"
          "      quantizes raw float32 values with ggml_quantize_chunk (no imatrix) and writes the raw blocks;\n"
          "      T is any ggml type name (q8_0, q4_k, iq4_xs, mxfp4, f16, ...)\n"
          "  llama_ref dequantize --type T -i IN.bin -o OUT.f32\n"
          "      dequantizes raw blocks with ggml's to_float and writes float32\n"
          "  llama_ref vecdot --type T -w W.bin -x X.f32 -k K -o OUT.f32 [--repack] [--batch]\n"
          "      ggml CPU mul_mat of raw T weight rows with K-float columns (one column per graph unless --batch;\n"
          "      --repack: weights in the CPU_REPACK buffer type, as llama.cpp loads them)\n"
          "  llama_ref tokenize -m VOCAB.gguf --text-file F [--no-special] [--parse-special] [--batch] [--all-modes]\n"
          "      prints the token ids of the text (vocab only; add_special unless --no-special), comma-separated;\n"
          "      --batch: F holds several texts separated as in llama.cpp's .inp files, one output line each;\n"
          "      --all-modes: everything four times, for add_special = mode & 1, parse_special = mode & 2\n"
          "  llama_ref pieces -m VOCAB.gguf\n"
          "      one header line, then per token: id attr is_eog is_control hex(piece) hex(piece with special)\n"
          "  llama_ref detokenize -m VOCAB.gguf --ids-file F [--special | --both] [--remove-special]\n"
          "      per line of comma-separated ids in F: hex of llama_detokenize's text (--both: without and with\n"
          "      special, space-separated)\n"
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

/* ------------------------------------------------------------------------------------------------------------ */
/* tensor-type subcommands: type names, dequantize, vecdot (quant conformance, issue 4) (begin)                 */

/* A ggml type by its name, case-insensitively ("q4_k" finds GGML_TYPE_Q4_K); dies on unknown names. */
static enum ggml_type quant_type_by_name(const char *name)
{
    int t;
    for (t = 0; t < GGML_TYPE_COUNT; t++) {
        const char *tn = ggml_type_name((enum ggml_type)t);
        size_t k;
        if (tn == NULL || ggml_blck_size((enum ggml_type)t) == 0)
            continue;
        for (k = 0; tn[k] != '\0' && name[k] != '\0'; k++) {
            char a = tn[k], b = name[k];
            if (a >= 'A' && a <= 'Z')
                a = (char)(a - 'A' + 'a');
            if (b >= 'A' && b <= 'Z')
                b = (char)(b - 'A' + 'a');
            if (a != b)
                break;
        }
        if (tn[k] == '\0' && name[k] == '\0')
            return (enum ggml_type)t;
    }
    die("unknown ggml type '%s' (expected a ggml type name such as q8_0, q4_k, iq4_xs, mxfp4)", name);
    return GGML_TYPE_COUNT;
}

/* Reads a whole binary file into a malloc'd buffer. */
static void *read_blob(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    long size = -1;
    void *buf;
    if (f == NULL)
        die("cannot open '%s': %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        die("cannot read '%s': %s", path, strerror(errno));
    buf = malloc(size > 0 ? (size_t)size : 1);
    if (buf == NULL)
        die("out of memory");
    if (size > 0 && fread(buf, 1, (size_t)size, f) != (size_t)size)
        die("cannot read '%s'", path);
    fclose(f);
    *len = (size_t)size;
    return buf;
}

static void write_blob(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        die("cannot create '%s': %s", path, strerror(errno));
    if (fwrite(data, 1, len, f) != len || fclose(f) != 0)
        die("cannot write '%s': %s", path, strerror(errno));
}

/* dequantize --type T -i IN.bin -o OUT.f32: ggml's to_float (dequantize_row_*) over all the blocks in IN.bin. */
static int cmd_dequantize(int argc, char **argv)
{
    const char *type_name = NULL, *in = NULL, *out = NULL;
    const struct ggml_type_traits *tr;
    enum ggml_type type;
    size_t len, nblocks;
    int64_t n;
    void *src;
    float *dst;
    int i;

    for (i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--type") == 0)
            type_name = argv[i + 1];
        else if (strcmp(argv[i], "-i") == 0 || strcmp(argv[i], "--input") == 0)
            in = argv[i + 1];
        else if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0)
            out = argv[i + 1];
        else
            die("unknown option '%s'; run 'llama_ref --help'", argv[i]);
    }
    if (i != argc || type_name == NULL || in == NULL || out == NULL)
        die("dequantize needs --type, -i and -o");
    if (!is_little_endian())
        die("this host is big-endian; the file formats are little-endian");
    type = quant_type_by_name(type_name);
    tr = ggml_get_type_traits(type);
    if (tr->to_float == NULL)
        die("ggml has no dequantizer for %s", type_name);
    src = read_blob(in, &len);
    if (len == 0 || len % tr->type_size != 0)
        die("'%s' has %zu bytes, not a positive whole number of %zu-byte %s blocks", in, len, tr->type_size, type_name);
    nblocks = len / tr->type_size;
    n = (int64_t)nblocks * tr->blck_size;
    dst = malloc(sizeof(float) * (size_t)n);
    if (dst == NULL)
        die("out of memory");
    tr->to_float(src, dst, n);
    write_blob(out, dst, sizeof(float) * (size_t)n);
    free(src);
    free(dst);
    return 0;
}

/* The CPU backend's CPU_REPACK buffer type (interleaved weights with their own GEMV/GEMM kernels), or NULL. */
static ggml_backend_buffer_type_t repack_buft(void)
{
    ggml_backend_dev_t dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
    ggml_backend_dev_get_extra_bufts_t get;
    ggml_backend_buffer_type_t *b;
    if (dev == NULL)
        return NULL;
    get = (ggml_backend_dev_get_extra_bufts_t)ggml_backend_reg_get_proc_address(ggml_backend_dev_backend_reg(dev),
                                                                               "ggml_backend_dev_get_extra_bufts");
    for (b = get != NULL ? get(dev) : NULL; b != NULL && *b != NULL; b++)
        if (strcmp(ggml_backend_buft_name(*b), "CPU_REPACK") == 0)
            return *b;
    return NULL;
}

/* vecdot --type T -w W.bin -x X.f32 -k K -o OUT.f32 [--repack] [--batch]: llama.cpp's CPU mul_mat of the weight rows
 * in W.bin (raw T blocks, K values per row) with the K-float columns of X.f32. Default: one column per graph in a
 * plain CPU buffer (the decode path: activation converted to the type's vec_dot_type, then vec_dot per row).
 * --repack: the weights live in CPU_REPACK, as llama.cpp loads them (its interleaved GEMV, or GEMM for 4+ columns).
 * --batch: all columns in one mul_mat (the prompt path). Writes, per column, one float per weight row. */
static int cmd_vecdot(int argc, char **argv)
{
    const char *type_name = NULL, *wpath = NULL, *xpath = NULL, *out = NULL;
    long k = 0;
    int repack = 0, batch = 0;
    size_t wlen, xlen, rs;
    int64_t rows, cols, c, per;
    enum ggml_type type;
    ggml_backend_t backend;
    ggml_backend_buffer_type_t rbuft = NULL;
    unsigned char *w;
    float *x, *res;
    int i;

    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--repack") == 0)
            repack = 1;
        else if (strcmp(argv[i], "--batch") == 0)
            batch = 1;
        else if (i + 1 < argc && strcmp(argv[i], "--type") == 0)
            type_name = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "-w") == 0)
            wpath = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "-x") == 0)
            xpath = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "-k") == 0)
            k = parse_long(argv[++i], "-k", 1, 1L << 30);
        else if (i + 1 < argc && strcmp(argv[i], "-o") == 0)
            out = argv[++i];
        else
            die("unknown option '%s' (or missing value); run 'llama_ref --help'", argv[i]);
    }
    if (type_name == NULL || wpath == NULL || xpath == NULL || out == NULL || k == 0)
        die("vecdot needs --type, -w, -x, -k and -o");
    type = quant_type_by_name(type_name);
    if (k % ggml_blck_size(type) != 0)
        die("-k %ld is not a multiple of the %s block size", k, type_name);
    rs = ggml_row_size(type, k);
    w = read_blob(wpath, &wlen);
    x = read_blob(xpath, &xlen);
    if (wlen == 0 || wlen % rs != 0 || xlen == 0 || xlen % (sizeof(float) * (size_t)k) != 0)
        die("vecdot: the inputs are not whole rows of %ld values", k);
    rows = (int64_t)(wlen / rs);
    cols = (int64_t)(xlen / (sizeof(float) * (size_t)k));
    load_backends();
    backend = ggml_backend_init_by_type(GGML_BACKEND_DEVICE_TYPE_CPU, NULL);
    if (backend == NULL)
        die("no CPU backend");
    if (repack && (rbuft = repack_buft()) == NULL)
        die("this CPU backend has no CPU_REPACK buffer type");
    res = malloc(sizeof(float) * (size_t)(rows * cols));
    if (res == NULL)
        die("out of memory");
    per = batch ? cols : 1;
    for (c = 0; c < cols; c += per) {
        struct ggml_init_params ip;
        struct ggml_context *ctx, *wctx;
        struct ggml_tensor *tw, *tx, *to;
        struct ggml_cgraph *gf;
        ggml_backend_buffer_t buf, wbuf;
        ip.mem_size = ggml_tensor_overhead() * 8 + ggml_graph_overhead();
        ip.mem_buffer = NULL;
        ip.no_alloc = true;
        ctx = ggml_init(ip);
        wctx = ggml_init(ip);
        if (ctx == NULL || wctx == NULL)
            die("ggml_init failed");
        tw = ggml_new_tensor_2d(wctx, type, k, rows);
        tx = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, k, per);
        to = ggml_mul_mat(ctx, tw, tx);
        gf = ggml_new_graph(ctx);
        ggml_build_forward_expand(gf, to);
        wbuf = repack ? ggml_backend_alloc_ctx_tensors_from_buft(wctx, rbuft)
                      : ggml_backend_alloc_ctx_tensors(wctx, backend);
        buf = ggml_backend_alloc_ctx_tensors(ctx, backend);
        if (buf == NULL || wbuf == NULL)
            die("cannot allocate the vecdot tensors");
        ggml_backend_tensor_set(tw, w, 0, wlen);
        ggml_backend_tensor_set(tx, x + c * k, 0, sizeof(float) * (size_t)(k * per));
        if (ggml_backend_graph_compute(backend, gf) != GGML_STATUS_SUCCESS)
            die("ggml_backend_graph_compute failed: %s", first_error());
        ggml_backend_tensor_get(to, res + c * rows, 0, sizeof(float) * (size_t)(rows * per));
        ggml_backend_buffer_free(buf);
        ggml_backend_buffer_free(wbuf);
        ggml_free(ctx);
        ggml_free(wctx);
    }
    write_blob(out, res, sizeof(float) * (size_t)(rows * cols));
    ggml_backend_free(backend);
    free(w);
    free(x);
    free(res);
    return 0;
}

/* tensor-type subcommands (end)                                                                                */
/* ------------------------------------------------------------------------------------------------------------ */

static int cmd_quantize(int argc, char **argv)
{
    const char *type_name = NULL, *in = NULL, *out = NULL;
    enum ggml_type type = GGML_TYPE_Q8_0;
    long row_len = 0, blck = 32;
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
    type = quant_type_by_name(type_name); /* any type ggml_quantize_chunk takes (issue 4) */
    if (ggml_quantize_requires_imatrix(type))
        die("ggml cannot quantize %s without an importance matrix", type_name);
    blck = (long)ggml_blck_size(type);
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
    if (count % (size_t)blck != 0)
        die("'%s' has %zu values, not a multiple of the block size %ld", in, count, blck);
    if (row_len == 0)
        row_len = (long)count;
    if (row_len % blck != 0 || count % (size_t)row_len != 0)
        die("--row-len %ld must be a multiple of %ld that divides the value count %zu", row_len, blck, count);
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

/* ------------------------------------------------------------------------------------------------------------ */
/* vocabulary subcommands: tokenize, pieces, detokenize (tokenizer conformance, issue 3) (begin)                */

#define MOE_VOCAB_TEST_SEP "\n__ggml_vocab_test__\n" /* llama.cpp's .inp separator (tests/test-tokenizer-0.cpp) */

static struct llama_model *load_vocab(const char *path)
{
    struct llama_model_params mp = llama_model_default_params();
    struct llama_model *m;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        die("cannot open vocab '%s': %s", path, strerror(errno));
    fclose(f);
    load_backends();
    mp.vocab_only = true;
    mp.n_gpu_layers = 0;
    m = llama_model_load_from_file(path, mp);
    if (m == NULL)
        die("llama.cpp could not load the vocab '%s': %s", path, first_error());
    return m;
}

/* Reads a whole file into a malloc'd buffer (NUL-terminated for convenience; *len excludes it). */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;
    if (f == NULL)
        die("cannot open '%s': %s", path, strerror(errno));
    for (;;) {
        size_t got;
        if (cap - n < 65536) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap + 1);
            if (buf == NULL)
                die("out of memory");
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f))
        die("cannot read '%s'", path);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void print_hex(const char *p, int n)
{
    int i;
    for (i = 0; i < n; i++)
        printf("%02x", (unsigned)(unsigned char)p[i]);
}

/* One text -> ids on one line, comma-separated (empty line for no tokens). */
static void tokenize_one(const struct llama_vocab *v, const char *text, size_t len, int add_special, int parse_special)
{
    int cap = (int)(len + 16), n, i;
    llama_token *t;
    if (len > (size_t)(INT32_MAX / 2))
        die("text too long");
    t = malloc(sizeof(*t) * (size_t)cap);
    if (t == NULL)
        die("out of memory");
    n = llama_tokenize(v, text, (int32_t)len, t, cap, add_special != 0, parse_special != 0);
    if (n < 0) {
        cap = -n;
        t = realloc(t, sizeof(*t) * (size_t)cap);
        if (t == NULL)
            die("out of memory");
        n = llama_tokenize(v, text, (int32_t)len, t, cap, add_special != 0, parse_special != 0);
        if (n < 0)
            die("llama_tokenize failed (%d)", n);
    }
    for (i = 0; i < n; i++)
        printf(i == 0 ? "%d" : ",%d", (int)t[i]);
    printf("\n");
    free(t);
}

static int cmd_tokenize(int argc, char **argv)
{
    const char *model = NULL, *text_file = NULL;
    int add_special = 1, parse_special = 0, batch = 0, all_modes = 0, mode, i;
    struct llama_model *m;
    char *text;
    size_t len;

    for (i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--no-special") == 0)
            add_special = 0;
        else if (strcmp(a, "--parse-special") == 0)
            parse_special = 1;
        else if (strcmp(a, "--batch") == 0)
            batch = 1;
        else if (strcmp(a, "--all-modes") == 0)
            all_modes = 1;
        else if (i + 1 < argc && (strcmp(a, "-m") == 0 || strcmp(a, "--model") == 0))
            model = argv[++i];
        else if (i + 1 < argc && strcmp(a, "--text-file") == 0)
            text_file = argv[++i];
        else
            die("unknown option '%s' (or missing value); run 'llama_ref --help'", a);
    }
    if (model == NULL || text_file == NULL)
        die("tokenize needs -m VOCAB.gguf and --text-file F");

    m = load_vocab(model);
    text = read_file(text_file, &len);
    for (mode = all_modes ? 0 : -1; mode < (all_modes ? 4 : 0); mode++) {
        /* --all-modes: the whole output four times, add_special = mode & 1, parse_special = mode & 2 */
        const int add = mode < 0 ? add_special : (mode & 1) != 0;
        const int parse = mode < 0 ? parse_special : (mode & 2) != 0;
        if (!batch) {
            tokenize_one(llama_model_get_vocab(m), text, len, add, parse);
        } else {
            /* inputs separated exactly as llama.cpp's .inp files (and split the way test-tokenizer-0 splits them) */
            const size_t sep_len = strlen(MOE_VOCAB_TEST_SEP);
            size_t pos = 0;
            while (pos < len) {
                const char *next = NULL;
                size_t k;
                for (k = pos; k + sep_len <= len; k++)
                    if (memcmp(text + k, MOE_VOCAB_TEST_SEP, sep_len) == 0) {
                        next = text + k;
                        break;
                    }
                if (next == NULL) {
                    tokenize_one(llama_model_get_vocab(m), text + pos, len - pos, add, parse);
                    break;
                }
                tokenize_one(llama_model_get_vocab(m), text + pos, (size_t)(next - (text + pos)), add, parse);
                pos = (size_t)(next - text) + sep_len;
            }
        }
    }
    if (fflush(stdout) != 0)
        die("cannot write to stdout");
    free(text);
    llama_model_free(m);
    llama_backend_free();
    return 0;
}

/* Every token: "id attr eog control hex(piece, special=false) hex(piece, special=true)", after one header line. */
static int cmd_pieces(int argc, char **argv)
{
    const char *model = NULL;
    struct llama_model *m;
    const struct llama_vocab *v;
    char buf[4096];
    int i, n_vocab;

    for (i = 2; i < argc; i++) {
        if (i + 1 < argc && (strcmp(argv[i], "-m") == 0 || strcmp(argv[i], "--model") == 0))
            model = argv[++i];
        else
            die("unknown option '%s' (or missing value); run 'llama_ref --help'", argv[i]);
    }
    if (model == NULL)
        die("pieces needs -m VOCAB.gguf");
    m = load_vocab(model);
    v = llama_model_get_vocab(m);
    n_vocab = llama_vocab_n_tokens(v);
    printf("n_vocab=%d bos=%d eos=%d eot=%d sep=%d nl=%d pad=%d add_bos=%d add_eos=%d\n", n_vocab,
           (int)llama_vocab_bos(v), (int)llama_vocab_eos(v), (int)llama_vocab_eot(v), (int)llama_vocab_sep(v),
           (int)llama_vocab_nl(v), (int)llama_vocab_pad(v), (int)llama_vocab_get_add_bos(v),
           (int)llama_vocab_get_add_eos(v));
    for (i = 0; i < n_vocab; i++) {
        int n0 = llama_token_to_piece(v, i, buf, (int32_t)sizeof(buf), 0, false), n1;
        if (n0 < 0)
            die("token %d: piece longer than %d bytes", i, (int)sizeof(buf));
        printf("%d %d %d %d ", i, (int)llama_vocab_get_attr(v, i), (int)llama_vocab_is_eog(v, i),
               (int)llama_vocab_is_control(v, i));
        print_hex(buf, n0);
        n1 = llama_token_to_piece(v, i, buf, (int32_t)sizeof(buf), 0, true);
        if (n1 < 0)
            die("token %d: piece longer than %d bytes", i, (int)sizeof(buf));
        printf(" ");
        print_hex(buf, n1);
        printf("\n");
    }
    if (fflush(stdout) != 0)
        die("cannot write to stdout");
    llama_model_free(m);
    llama_backend_free();
    return 0;
}

/* Each line of the ids file ("1,2,3", may be empty) -> hex of llama_detokenize on one line. */
static int cmd_detokenize(int argc, char **argv)
{
    const char *model = NULL, *ids_file = NULL;
    int special = 0, remove_special = 0, both = 0, i;
    struct llama_model *m;
    const struct llama_vocab *v;
    char *text, *line;
    size_t len;

    for (i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--special") == 0)
            special = 1;
        else if (strcmp(a, "--both") == 0)
            both = 1;
        else if (strcmp(a, "--remove-special") == 0)
            remove_special = 1;
        else if (i + 1 < argc && (strcmp(a, "-m") == 0 || strcmp(a, "--model") == 0))
            model = argv[++i];
        else if (i + 1 < argc && strcmp(a, "--ids-file") == 0)
            ids_file = argv[++i];
        else
            die("unknown option '%s' (or missing value); run 'llama_ref --help'", a);
    }
    if (model == NULL || ids_file == NULL)
        die("detokenize needs -m VOCAB.gguf and --ids-file F");
    m = load_vocab(model);
    v = llama_model_get_vocab(m);
    text = read_file(ids_file, &len);
    line = text;
    while (*line != '\0') {
        char *end = strchr(line, '\n');
        llama_token *t = NULL;
        int n = 0, cap = 0, out_cap, got, pass;
        char *out;
        if (end != NULL)
            *end = '\0';
        if (*line != '\0') {
            const char *p = line;
            while (*p != '\0') {
                char *e = NULL;
                long val;
                errno = 0;
                val = strtol(p, &e, 10);
                if (errno != 0 || e == p || val < INT32_MIN || val > INT32_MAX)
                    die("invalid ids line '%s'", line);
                if (n == cap) {
                    cap = cap ? cap * 2 : 64;
                    t = realloc(t, sizeof(*t) * (size_t)cap);
                    if (t == NULL)
                        die("out of memory");
                }
                t[n++] = (llama_token)val;
                p = e;
                if (*p == ',')
                    p++;
            }
        }
        for (pass = both ? 0 : special; pass <= (both ? 1 : special); pass++) {
            /* --both: "hex(plain) hex(special)" on one line */
            out_cap = 64 + n * 16;
            out = malloc((size_t)out_cap);
            if (out == NULL)
                die("out of memory");
            got = llama_detokenize(v, t, n, out, out_cap, remove_special != 0, pass != 0);
            if (got < 0) {
                out_cap = -got;
                out = realloc(out, (size_t)out_cap);
                if (out == NULL)
                    die("out of memory");
                got = llama_detokenize(v, t, n, out, out_cap, remove_special != 0, pass != 0);
                if (got < 0)
                    die("llama_detokenize failed (%d)", got);
            }
            if (both && pass == 1)
                printf(" ");
            print_hex(out, got);
            free(out);
        }
        printf("\n");
        free(t);
        if (end == NULL)
            break;
        line = end + 1;
    }
    if (fflush(stdout) != 0)
        die("cannot write to stdout");
    free(text);
    llama_model_free(m);
    llama_backend_free();
    return 0;
}

/* vocabulary subcommands (end)                                                                                 */
/* ------------------------------------------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------------------------------------------ */
/* perplexity (issue 3) (begin): llama.cpp tokenizes the text and scores it like its perplexity tool            */

/* llama_ref perplexity -m MODEL --text-file F -c N_CTX [--chunks K] [--kv f32] [--flash off] [-t T]
 * Tokenizes with add_special, then per chunk of N_CTX tokens: empty KV, first token replaced by BOS when the vocab
 * adds one, one batch with logits for every position, and -log p(next) summed over positions N_CTX/2 .. N_CTX-2. */
static int cmd_perplexity(int argc, char **argv)
{
    struct run_opts o;
    struct session s;
    const char *text_path = NULL;
    long n_ctx = 0, max_chunks = -1;
    int i, j, c, n_tok, n_chunks, first, scored = 0;
    size_t len = 0;
    char *text;
    llama_token *tokens, *chunk;
    const struct llama_vocab *vocab;
    double nll = 0.0;

    memset(&o, 0, sizeof o);
    o.kv = GGML_TYPE_F32;
    o.threads = 2;
    o.flash = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    for (i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            die("option '%s' needs a value", a);
        if (strcmp(a, "-m") == 0) o.model = v;
        else if (strcmp(a, "--text-file") == 0) text_path = v;
        else if (strcmp(a, "-c") == 0) n_ctx = parse_long(v, "-c", 4, 1 << 20);
        else if (strcmp(a, "--chunks") == 0) max_chunks = parse_long(v, "--chunks", 1, 1 << 30);
        else if (strcmp(a, "--kv") == 0) o.kv = parse_kv_type(v);
        else if (strcmp(a, "--flash") == 0) o.flash = parse_flash(v);
        else if (strcmp(a, "-t") == 0) o.threads = (int)parse_long(v, "-t", 1, 1024);
        else die("unknown option '%s'", a);
        i++;
    }
    if (o.model == NULL || text_path == NULL || n_ctx == 0)
        die("perplexity needs -m MODEL, --text-file F and -c N_CTX");
    text = read_file(text_path, &len);
    open_session(&s, &o, (int)n_ctx, (int)n_ctx);
    vocab = llama_model_get_vocab(s.model);
    tokens = (llama_token *)malloc((len + 16) * sizeof(llama_token));
    chunk = (llama_token *)malloc((size_t)n_ctx * sizeof(llama_token));
    if (tokens == NULL || chunk == NULL)
        die("out of memory");
    n_tok = llama_tokenize(vocab, text, (int32_t)len, tokens, (int32_t)(len + 16), true, false);
    if (n_tok < 0)
        die("llama_tokenize failed (%d)", n_tok);
    n_chunks = n_tok / (int)n_ctx;
    if (max_chunks > 0 && n_chunks > max_chunks)
        n_chunks = (int)max_chunks;
    if (n_chunks < 1)
        die("%d tokens are fewer than one chunk of %ld", n_tok, n_ctx);
    first = (int)n_ctx / 2;
    for (c = 0; c < n_chunks; c++) {
        memcpy(chunk, tokens + (size_t)c * (size_t)n_ctx, (size_t)n_ctx * sizeof(llama_token));
        if (llama_vocab_get_add_bos(vocab))
            chunk[0] = llama_vocab_bos(vocab);
        llama_memory_clear(llama_get_memory(s.ctx), true);
        decode(&s, chunk, (int)n_ctx, 0, 1);
        for (j = first; j < n_ctx - 1; j++) {
            const float *l = logits_at(&s, j);
            const llama_token next = tokens[(size_t)c * (size_t)n_ctx + (size_t)j + 1];
            float mx = l[0];
            double sum = 0.0;
            int v;
            for (v = 1; v < s.n_vocab; v++)
                if (l[v] > mx)
                    mx = l[v];
            for (v = 0; v < s.n_vocab; v++)
                sum += exp((double)l[v] - (double)mx);
            nll += log(sum) - ((double)l[next] - (double)mx);
            scored++;
        }
    }
    printf("ppl=%.6f nll=%.8f n_scored=%d n_tokens=%d n_chunks=%d\n", exp(nll / scored), nll / scored, scored, n_tok,
           n_chunks);
    free(chunk);
    free(tokens);
    free(text);
    close_session(&s);
    return 0;
}

/* perplexity (issue 3) (end)                                                                                   */
/* ------------------------------------------------------------------------------------------------------------ */

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
    if (strcmp(argv[1], "dequantize") == 0) /* issue 4 */
        return cmd_dequantize(argc, argv);
    if (strcmp(argv[1], "vecdot") == 0) /* issue 4 */
        return cmd_vecdot(argc, argv);
    if (strcmp(argv[1], "tokenize") == 0)
        return cmd_tokenize(argc, argv);
    if (strcmp(argv[1], "pieces") == 0)
        return cmd_pieces(argc, argv);
    if (strcmp(argv[1], "detokenize") == 0)
        return cmd_detokenize(argc, argv);
    if (strcmp(argv[1], "perplexity") == 0) /* issue 3 */
        return cmd_perplexity(argc, argv);
    die("unknown subcommand '%s' (expected logits, generate, quantize, dequantize, vecdot, tokenize, pieces or detokenize)",
        argv[1]);
    return 2;
}
