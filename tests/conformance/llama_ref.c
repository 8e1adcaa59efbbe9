/* llama_ref: runs llama.cpp's prebuilt CPU library on a GGUF file: logits, greedy tokens, quant blocks, token ids.
 * Before: fetch_llama_ref.sh + llama_ref.cmake build it; after: moe conformance tests compare with its output. */
#include "llama_ref.h"

void die(const char *fmt, ...) MOE_NORETURN MOE_PRINTF(1, 2);

void die(const char *fmt, ...)
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

const char *first_error(void)
{
    return g_first_error[0] != '\0' ? g_first_error : "set MOE_LLAMA_REF_VERBOSE=1 for its log";
}

/* ------------------------------------------------------------------------------------------------------------ */
/* small helpers                                                                                                */

long parse_long(const char *s, const char *what, long lo, long hi)
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

void load_backends(void)
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

int is_little_endian(void)
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
          "  llama_ref model-quantize --ftype N -i IN.gguf -o OUT.gguf [--pure]\n"
          "      llama_model_quantize (what llama-quantize runs) to llama_ftype N, no importance matrix\n"
          "  llama_ref dequantize --type T -i IN.bin -o OUT.f32\n"
          "      dequantizes raw blocks with ggml's to_float and writes float32\n"
          "  llama_ref vecdot --type T -w W.bin -x X.f32 -k K -o OUT.f32 [--repack] [--batch]\n"
          "  llama_ref unary --op silu|swiglu|soft_max -x X.f32 [-g G.f32] -n N -o OUT.f32\n"
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
    if (strcmp(argv[1], "model-quantize") == 0) /* issue 4 */
        return cmd_model_quantize(argc, argv);
    if (strcmp(argv[1], "dequantize") == 0) /* issue 4 */
        return cmd_dequantize(argc, argv);
    if (strcmp(argv[1], "vecdot") == 0) /* issue 4 */
        return cmd_vecdot(argc, argv);
    if (strcmp(argv[1], "unary") == 0) /* issue 5: silu, swiglu, soft_max in ggml's order */
        return cmd_unary(argc, argv);
    if (strcmp(argv[1], "tokenize") == 0)
        return cmd_tokenize(argc, argv);
    if (strcmp(argv[1], "pieces") == 0)
        return cmd_pieces(argc, argv);
    if (strcmp(argv[1], "detokenize") == 0)
        return cmd_detokenize(argc, argv);
    if (strcmp(argv[1], "perplexity") == 0) /* issue 3 */
        return cmd_perplexity(argc, argv);
    die("unknown subcommand '%s' (expected logits, generate, quantize, model-quantize, dequantize, vecdot, unary, "
        "tokenize, pieces or detokenize)",
        argv[1]);
    return 2;
}
