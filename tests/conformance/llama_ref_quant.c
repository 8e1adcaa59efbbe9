/* llama_ref_quant.c — llama_ref subcommands for tensor types: quantize, dequantize and vecdot through ggml's
 * own code (quant conformance). Declared in llama_ref.h; dispatched from main() in llama_ref.c. */
#include "llama_ref.h"

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
int cmd_dequantize(int argc, char **argv)
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
int cmd_vecdot(int argc, char **argv)
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

/* unary --op silu|swiglu|soft_max -x X.f32 [-g G.f32] -n N -o OUT.f32: ggml's float op over rows of N values on the
 * CPU backend (swiglu: ggml_swiglu_split(x, g) = silu(x) * g; soft_max: ggml_soft_max per row). Writes one float per
 * input value. */
int cmd_unary(int argc, char **argv)
{
    const char *op = NULL, *xpath = NULL, *gpath = NULL, *out = NULL;
    long n = 0;
    size_t xlen, glen = 0;
    int64_t rows;
    float *x, *g = NULL, *res;
    ggml_backend_t backend;
    struct ggml_init_params ip;
    struct ggml_context *ctx;
    struct ggml_tensor *tx, *tg = NULL, *to;
    struct ggml_cgraph *gf;
    ggml_backend_buffer_t buf;
    int i;

    for (i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--op") == 0)
            op = argv[i + 1];
        else if (strcmp(argv[i], "-x") == 0)
            xpath = argv[i + 1];
        else if (strcmp(argv[i], "-g") == 0)
            gpath = argv[i + 1];
        else if (strcmp(argv[i], "-n") == 0)
            n = parse_long(argv[i + 1], "-n", 1, 1L << 30);
        else if (strcmp(argv[i], "-o") == 0)
            out = argv[i + 1];
        else
            die("unknown option '%s'; run 'llama_ref --help'", argv[i]);
    }
    if (i != argc || op == NULL || xpath == NULL || out == NULL || n == 0)
        die("unary needs --op, -x, -n and -o (and -g for swiglu)");
    if (strcmp(op, "silu") != 0 && strcmp(op, "swiglu") != 0 && strcmp(op, "soft_max") != 0)
        die("unary: unknown op '%s' (silu, swiglu or soft_max)", op);
    if (strcmp(op, "swiglu") == 0 && gpath == NULL)
        die("unary swiglu needs -g");
    x = read_blob(xpath, &xlen);
    if (xlen == 0 || xlen % (sizeof(float) * (size_t)n) != 0)
        die("unary: the input is not whole rows of %ld floats", n);
    rows = (int64_t)(xlen / (sizeof(float) * (size_t)n));
    if (gpath != NULL) {
        g = read_blob(gpath, &glen);
        if (glen != xlen)
            die("unary: -g and -x differ in size");
    }
    load_backends();
    backend = ggml_backend_init_by_type(GGML_BACKEND_DEVICE_TYPE_CPU, NULL);
    if (backend == NULL)
        die("no CPU backend");
    ip.mem_size = ggml_tensor_overhead() * 8 + ggml_graph_overhead();
    ip.mem_buffer = NULL;
    ip.no_alloc = true;
    ctx = ggml_init(ip);
    if (ctx == NULL)
        die("ggml_init failed");
    tx = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, n, rows);
    if (g != NULL)
        tg = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, n, rows);
    to = strcmp(op, "silu") == 0 ? ggml_silu(ctx, tx)
         : strcmp(op, "soft_max") == 0 ? ggml_soft_max(ctx, tx)
                                        : ggml_swiglu_split(ctx, tx, tg);
    gf = ggml_new_graph(ctx);
    ggml_build_forward_expand(gf, to);
    buf = ggml_backend_alloc_ctx_tensors(ctx, backend);
    if (buf == NULL)
        die("cannot allocate the unary tensors");
    ggml_backend_tensor_set(tx, x, 0, xlen);
    if (tg != NULL)
        ggml_backend_tensor_set(tg, g, 0, glen);
    if (ggml_backend_graph_compute(backend, gf) != GGML_STATUS_SUCCESS)
        die("ggml_backend_graph_compute failed: %s", first_error());
    res = malloc(xlen);
    if (res == NULL)
        die("out of memory");
    ggml_backend_tensor_get(to, res, 0, xlen);
    write_blob(out, res, xlen);
    ggml_backend_buffer_free(buf);
    ggml_free(ctx);
    ggml_backend_free(backend);
    free(x);
    free(g);
    free(res);
    return 0;
}

/* tensor-type subcommands (end)                                                                                */
/* ------------------------------------------------------------------------------------------------------------ */

int cmd_quantize(int argc, char **argv)
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


/* model-quantize --ftype N -i IN.gguf -o OUT.gguf [--pure]: llama_model_quantize (llama-quantize's library call),
 * no importance matrix, two threads. moe's moe-quantize is compared with it (issue 4). */
int cmd_model_quantize(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    long ftype = -1;
    int pure = 0, i;
    llama_model_quantize_params params;

    for (i = 2; i < argc; ++i) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--pure") == 0) {
            pure = 1;
            continue;
        }
        if (v == NULL)
            die("option '%s' needs a value (or is unknown); run 'llama_ref --help'", a);
        if (strcmp(a, "--ftype") == 0)
            ftype = parse_long(v, "--ftype", 0, 1023);
        else if (strcmp(a, "-i") == 0 || strcmp(a, "--input") == 0)
            in = v;
        else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0)
            out = v;
        else
            die("unknown option '%s'; run 'llama_ref --help'", a);
        ++i;
    }
    if (in == NULL || out == NULL || ftype < 0)
        die("model-quantize needs --ftype, -i and -o");
    load_backends();
    params = llama_model_quantize_default_params();
    params.nthread = 2;
    params.ftype = (enum llama_ftype)ftype;
    params.pure = pure != 0;
    if (llama_model_quantize(in, out, &params) != 0)
        die("llama_model_quantize failed for '%s' (ftype %ld): %s", in, ftype, first_error());
    return 0;
}
