/* llama_ref_vocab.c — llama_ref subcommands for vocabularies: tokenize, pieces and detokenize with llama.cpp's
 * tokenizer (tokenizer conformance). Declared in llama_ref.h; dispatched from main() in llama_ref.c. */
#include "llama_ref.h"

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
char *read_file(const char *path, size_t *len)
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

int cmd_tokenize(int argc, char **argv)
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
int cmd_pieces(int argc, char **argv)
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
int cmd_detokenize(int argc, char **argv)
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

