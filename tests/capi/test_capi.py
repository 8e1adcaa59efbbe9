# test_capi.py — the C API through Python's ctypes, as a binding would use it: libmoe.so's moe_* functions on the
# demo model (load, metadata, text, sessions, sampling, generation, async, KV state) and their error statuses.
# Before: a shared libmoe.so (tests/capi/CMakeLists.txt); after: nothing. Usage: test_capi.py LIBMOE.so MODEL TMPDIR
import ctypes as C
import os
import sys
import threading
import time
import unittest

LIB_PATH, MODEL, TMP = sys.argv[1:4]
del sys.argv[1:4]
lib = C.CDLL(LIB_PATH)

OK, INVALID_ARGUMENT, IO, BAD_FORMAT = 0, 1, 2, 3
CONTEXT_FULL, ABORTED, ABI_MISMATCH, BUFFER_TOO_SMALL, BUSY = 7, 9, 11, 12, 13
STOP_MAX_TOKENS, STOP_CALLBACK, STOP_CANCELLED = 1, 3, 5

LOG_FN = C.CFUNCTYPE(None, C.c_int, C.c_char_p, C.c_void_p)
PROGRESS_FN = C.CFUNCTYPE(C.c_bool, C.c_float, C.c_void_p)
READ_FN = C.CFUNCTYPE(C.c_bool, C.c_void_p, C.c_uint64, C.c_void_p, C.c_size_t)
TOKEN_FN = C.CFUNCTYPE(C.c_bool, C.c_int32, C.POINTER(C.c_char), C.c_size_t, C.c_void_p)


class ModelParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("progress", PROGRESS_FN), ("progress_user", C.c_void_p),
                ("max_kv", C.c_uint64), ("max_tensors", C.c_uint64), ("max_string_bytes", C.c_uint64),
                ("max_array_elements", C.c_uint64), ("max_metadata_bytes", C.c_uint64),
                ("pack_weights", C.c_int32)]


class ModelReader(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("size", C.c_uint64), ("read", READ_FN), ("user", C.c_void_p)]


class ModelInfo(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("architecture", C.c_char_p), ("name", C.c_char_p),
                ("chat_template", C.c_char_p)] + \
               [(f, C.c_int64) for f in ("n_vocab", "n_embd", "n_layer", "n_head", "n_head_kv", "head_dim",
                                         "n_expert", "n_expert_used", "n_ctx_train")] + \
               [("n_params", C.c_uint64), ("weight_bytes", C.c_uint64), ("has_tokenizer", C.c_bool)]


class BackendInfo(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("name", C.c_char_p), ("description", C.c_char_p),
                ("path", C.c_char_p), ("device", C.c_char_p), ("available", C.c_bool)]


class SessionParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("n_ctx", C.c_int64), ("n_threads", C.c_int32),
                ("backend", C.c_char_p), ("max_batch", C.c_int64), ("max_memory", C.c_uint64),
                ("n_seq", C.c_int32), ("kv_type", C.c_int32)]


class SamplerParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("temp", C.c_float), ("top_k", C.c_int32), ("top_p", C.c_float),
                ("min_p", C.c_float), ("repeat_penalty", C.c_float), ("frequency_penalty", C.c_float),
                ("presence_penalty", C.c_float), ("penalty_last_n", C.c_int32), ("seed", C.c_uint64)]


class GenerateParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("prompt_text", C.c_char_p), ("prompt_tokens", C.POINTER(C.c_int32)),
                ("n_prompt_tokens", C.c_size_t), ("max_tokens", C.c_int32), ("stop_at_eog", C.c_bool),
                ("on_token", TOKEN_FN), ("user", C.c_void_p), ("async_callbacks", C.c_int)]


class GenerateResult(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("n_prompt", C.c_int64), ("n_generated", C.c_int64),
                ("reason", C.c_int), ("seconds", C.c_double)]


class ChatMessage(C.Structure):
    _fields_ = [("role", C.c_char_p), ("content", C.c_char_p)]


P = C.c_void_p
PP = C.POINTER(C.c_void_p)
SZ = C.POINTER(C.c_size_t)


def sig(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype, f.argtypes = restype, list(argtypes)
    return f


S = C.c_int  # moe_status
moe_version_string = sig("moe_version_string", C.c_char_p)
moe_version = sig("moe_version", C.c_uint32)
moe_check_abi = sig("moe_check_abi", S, C.c_uint32)
moe_last_error = sig("moe_last_error", C.c_char_p)
moe_status_name = sig("moe_status_name", C.c_char_p, S)
moe_log_set = sig("moe_log_set", None, LOG_FN, P, C.c_int)
moe_backend_list_create = sig("moe_backend_list_create", S, PP)
moe_backend_list_count = sig("moe_backend_list_count", C.c_size_t, P)
moe_backend_list_get = sig("moe_backend_list_get", S, P, C.c_size_t, C.POINTER(BackendInfo))
moe_backend_list_free = sig("moe_backend_list_free", None, P)
moe_model_default_params = sig("moe_model_default_params", ModelParams)
moe_model_load = sig("moe_model_load", S, C.c_char_p, C.POINTER(ModelParams), PP)
moe_model_load_from_memory = sig("moe_model_load_from_memory", S, C.c_void_p, C.c_size_t, C.POINTER(ModelParams), PP)
moe_model_load_from_reader = sig("moe_model_load_from_reader", S, C.POINTER(ModelReader), C.POINTER(ModelParams), PP)
moe_model_free = sig("moe_model_free", None, P)
moe_model_get_info = sig("moe_model_get_info", S, P, C.POINTER(ModelInfo))
moe_model_meta_count = sig("moe_model_meta_count", C.c_size_t, P)
moe_model_meta_key = sig("moe_model_meta_key", S, P, C.c_size_t, C.c_char_p, C.c_size_t, SZ)
moe_model_meta_str = sig("moe_model_meta_str", S, P, C.c_char_p, C.c_char_p, C.c_size_t, SZ)
moe_token_eos = sig("moe_token_eos", C.c_int32, P)
moe_token_is_eog = sig("moe_token_is_eog", C.c_bool, P, C.c_int32)
moe_tokenize = sig("moe_tokenize", S, P, C.c_char_p, C.c_size_t, C.c_bool, C.c_bool, C.POINTER(C.c_int32),
                   C.c_size_t, SZ)
moe_detokenize = sig("moe_detokenize", S, P, C.POINTER(C.c_int32), C.c_size_t, C.c_bool, C.c_char_p, C.c_size_t, SZ)
moe_chat_format = sig("moe_chat_format", S, P, C.c_char_p, C.POINTER(ChatMessage), C.c_size_t, C.c_bool,
                      C.c_char_p, C.c_size_t, SZ)
moe_session_default_params = sig("moe_session_default_params", SessionParams)
moe_session_create = sig("moe_session_create", S, P, C.POINTER(SessionParams), PP)
moe_session_free = sig("moe_session_free", None, P)
moe_session_n_past = sig("moe_session_n_past", C.c_int64, P)
moe_session_n_vocab = sig("moe_session_n_vocab", C.c_int64, P)
moe_session_eval = sig("moe_session_eval", S, P, C.POINTER(C.c_int32), C.c_size_t, C.c_bool)
moe_session_logits = sig("moe_session_logits", S, P, C.c_int64, C.POINTER(C.POINTER(C.c_float)))
moe_session_argmax = sig("moe_session_argmax", S, P, C.c_int64, C.POINTER(C.c_int32))
moe_session_truncate = sig("moe_session_truncate", S, P, C.c_int64)
moe_session_state_save = sig("moe_session_state_save", S, P, C.c_void_p, C.c_size_t, SZ)
moe_session_state_load = sig("moe_session_state_load", S, P, C.c_void_p, C.c_size_t)
moe_sampler_default_params = sig("moe_sampler_default_params", SamplerParams)
moe_sampler_create = sig("moe_sampler_create", S, C.POINTER(SamplerParams), PP)
moe_sampler_free = sig("moe_sampler_free", None, P)
moe_generate_default_params = sig("moe_generate_default_params", GenerateParams)
moe_session_generate = sig("moe_session_generate", S, P, P, C.POINTER(GenerateParams), C.POINTER(GenerateResult))
moe_async_start = sig("moe_async_start", S, P, P, C.POINTER(GenerateParams), PP)
moe_async_poll = sig("moe_async_poll", S, P, C.c_char_p, C.c_size_t, SZ, C.POINTER(C.c_bool))
moe_async_cancel = sig("moe_async_cancel", S, P)
moe_async_wait = sig("moe_async_wait", S, P, C.POINTER(GenerateResult))
moe_async_free = sig("moe_async_free", None, P)


def check(status, expected=OK):
    if status != expected:
        raise AssertionError("status %s (%s), expected %s; last error: %s" % (
            status, moe_status_name(status).decode(), expected, moe_last_error().decode()))


def load_model():
    m = P()
    check(moe_model_load(MODEL.encode(), None, C.byref(m)))
    return m


def new_session(m, n_ctx=256):
    sp = moe_session_default_params()
    sp.n_ctx, sp.n_threads = n_ctx, 1
    s = P()
    check(moe_session_create(m, C.byref(sp), C.byref(s)))
    return s


def new_sampler(seed):
    pp = moe_sampler_default_params()
    pp.seed = seed
    smp = P()
    check(moe_sampler_create(C.byref(pp), C.byref(smp)))
    return smp


def generate(m, prompt, seed, n):
    """Synchronous generation on a fresh session; returns (ids, text)."""
    s, smp = new_session(m), new_sampler(seed)
    ids, text = [], []

    def on_token(tok, ptr, length, user):
        if tok >= 0:
            ids.append(tok)
        text.append(C.string_at(ptr, length))
        return True

    cb = TOKEN_FN(on_token)
    gp = moe_generate_default_params()
    gp.prompt_text, gp.max_tokens, gp.stop_at_eog, gp.on_token = prompt, n, False, cb
    check(moe_session_generate(s, smp, C.byref(gp), None))
    moe_sampler_free(smp)
    moe_session_free(s)
    return ids, b"".join(text)


class CApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = load_model()

    @classmethod
    def tearDownClass(cls):
        moe_model_free(cls.m)

    def test_version_abi_and_struct_sizes(self):
        self.assertEqual(moe_version_string(), b"0.1.0")
        self.assertEqual(moe_version(), 100)
        check(moe_check_abi(1))
        check(moe_check_abi(2), ABI_MISMATCH)
        self.assertIn(b"ABI", moe_last_error())
        # the Python mirrors of the structs have the library's sizes
        self.assertEqual(moe_model_default_params().struct_size, C.sizeof(ModelParams))
        self.assertEqual(moe_session_default_params().struct_size, C.sizeof(SessionParams))
        self.assertEqual(moe_sampler_default_params().struct_size, C.sizeof(SamplerParams))
        self.assertEqual(moe_generate_default_params().struct_size, C.sizeof(GenerateParams))

    def test_backends_and_log(self):
        lst = P()
        check(moe_backend_list_create(C.byref(lst)))
        names = []
        for i in range(moe_backend_list_count(lst)):
            info = BackendInfo(struct_size=C.sizeof(BackendInfo))
            check(moe_backend_list_get(lst, i, C.byref(info)))
            names.append(info.name)
        moe_backend_list_free(lst)
        self.assertIn(b"cpu", names)
        seen = []
        cb = LOG_FN(lambda level, msg, user: seen.append((level, msg)))
        moe_log_set(cb, None, 0)
        m = P()
        check(moe_model_load(b"/nonexistent.gguf", None, C.byref(m)), IO)
        moe_log_set(LOG_FN(), None, 1)
        self.assertTrue(any(b"nonexistent" in msg for _, msg in seen))

    def test_load_errors(self):
        m = P()
        check(moe_model_load(b"/nonexistent/x.gguf", None, C.byref(m)), IO)
        self.assertIn(b"x.gguf", moe_last_error())
        self.assertFalse(m.value)
        bad = os.path.join(TMP, "py_corrupt.gguf")
        with open(bad, "wb") as f:
            f.write(b"GGUF\x03\x00\x00\x00" + b"\xff" * 100)
        check(moe_model_load(bad.encode(), None, C.byref(m)), BAD_FORMAT)
        mp = moe_model_default_params()
        mp.struct_size = 1
        check(moe_model_load(MODEL.encode(), C.byref(mp), C.byref(m)), ABI_MISMATCH)
        # a progress callback that cancels
        calls = []
        mp = moe_model_default_params()
        mp.progress = PROGRESS_FN(lambda p, user: calls.append(p) or p < 0.5)
        check(moe_model_load(MODEL.encode(), C.byref(mp), C.byref(m)), ABORTED)
        self.assertGreaterEqual(len(calls), 2)

    def test_load_from_memory_and_reader(self):
        with open(MODEL, "rb") as f:
            data = f.read()
        buf = C.create_string_buffer(data, len(data))  # must outlive the model
        m = P()
        check(moe_model_load_from_memory(buf, len(data), None, C.byref(m)))
        info = ModelInfo(struct_size=C.sizeof(ModelInfo))
        check(moe_model_get_info(m, C.byref(info)))
        self.assertEqual(info.architecture, b"llama")
        self.assertEqual((info.n_expert, info.n_expert_used), (8, 2))
        self.assertTrue(info.has_tokenizer)
        moe_model_free(m)

        def read(user, offset, dst, n):
            C.memmove(dst, data[offset:offset + n], n)
            return True

        reader = ModelReader(C.sizeof(ModelReader), len(data), READ_FN(read), None)
        check(moe_model_load_from_reader(C.byref(reader), None, C.byref(m)))
        moe_model_free(m)
        reader.read = READ_FN(lambda user, offset, dst, n: False)
        check(moe_model_load_from_reader(C.byref(reader), None, C.byref(m)), IO)

    def test_metadata(self):
        def meta(key):  # ask the length, then fetch: the usual two-call pattern
            n = C.c_size_t()
            check(moe_model_meta_str(self.m, key, None, 0, C.byref(n)), BUFFER_TOO_SMALL)
            buf = C.create_string_buffer(n.value + 1)
            check(moe_model_meta_str(self.m, key, buf, len(buf), C.byref(n)))
            return buf.value

        self.assertEqual(meta(b"general.name"), b"shakespeare-moe-q8_0")
        self.assertEqual(meta(b"llama.context_length"), b"256")
        self.assertEqual(meta(b"tokenizer.ggml.merges"), b"[array of 767 string]")
        keys = []
        for i in range(moe_model_meta_count(self.m)):
            buf, n = C.create_string_buffer(128), C.c_size_t()
            check(moe_model_meta_key(self.m, i, buf, len(buf), C.byref(n)))
            keys.append(buf.value)
        self.assertEqual(keys[0], b"general.architecture")
        self.assertIn(b"tokenizer.ggml.tokens", keys)
        n = C.c_size_t()
        check(moe_model_meta_str(self.m, b"no.such.key", None, 0, C.byref(n)), INVALID_ARGUMENT)
        self.assertIn(b"no.such.key", moe_last_error())

    def test_text_and_chat(self):
        text = b"ROMEO: But soft"
        n = C.c_size_t()
        check(moe_tokenize(self.m, text, len(text), False, False, None, 0, C.byref(n)), BUFFER_TOO_SMALL)
        ids = (C.c_int32 * n.value)()
        check(moe_tokenize(self.m, text, len(text), False, False, ids, n.value, C.byref(n)))
        out = C.create_string_buffer(256)
        nb = C.c_size_t()
        check(moe_detokenize(self.m, ids, n.value, False, out, 256, C.byref(nb)))
        self.assertEqual(out.value, text)
        self.assertTrue(moe_token_is_eog(self.m, moe_token_eos(self.m)))
        msgs = (ChatMessage * 1)(ChatMessage(b"user", b"Hi"))
        check(moe_chat_format(None, b"chatml", msgs, 1, True, out, 256, C.byref(nb)))
        self.assertEqual(out.value, b"<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")

    def test_eval_logits_state(self):
        s = new_session(self.m, 64)
        ids = (C.c_int32 * 3)(5, 6, 7)
        check(moe_session_eval(s, ids, 3, True))
        lg = C.POINTER(C.c_float)()
        check(moe_session_logits(s, -1, C.byref(lg)))
        vocab = moe_session_n_vocab(s)
        row = lg[:vocab]
        best = C.c_int32()
        check(moe_session_argmax(s, -1, C.byref(best)))
        self.assertEqual(best.value, max(range(vocab), key=lambda i: (row[i], -i)))
        size = C.c_size_t()
        check(moe_session_state_save(s, None, 0, C.byref(size)), BUFFER_TOO_SMALL)
        state = C.create_string_buffer(size.value)
        check(moe_session_state_save(s, state, size.value, C.byref(size)))
        s2 = new_session(self.m, 64)
        check(moe_session_state_load(s2, state, size.value))
        check(moe_session_logits(s2, -1, C.byref(lg)))
        self.assertEqual(lg[:vocab], row)
        check(moe_session_truncate(s2, 10), INVALID_ARGUMENT)
        check(moe_session_truncate(s2, 1))
        self.assertEqual(moe_session_n_past(s2), 1)
        check(moe_session_eval(s, (C.c_int32 * 1)(99999), 1, False), INVALID_ARGUMENT)
        check(moe_session_eval(s, (C.c_int32 * 62)(), 62, False), CONTEXT_FULL)
        moe_session_free(s)
        moe_session_free(s2)

    def test_generate_and_async_agree(self):
        ids, text = generate(self.m, b"ROMEO:", 42, 20)
        self.assertEqual(len(ids), 20)
        s, smp = new_session(self.m), new_sampler(42)
        gp = moe_generate_default_params()
        gp.prompt_text, gp.max_tokens, gp.stop_at_eog = b"ROMEO:", 20, False
        a = P()
        check(moe_async_start(s, smp, C.byref(gp), C.byref(a)))
        got, done = [], C.c_bool(False)
        buf, n = C.create_string_buffer(16), C.c_size_t()
        while not done.value:
            check(moe_async_poll(a, buf, 16, C.byref(n), C.byref(done)))
            got.append(buf.raw[:n.value])
            time.sleep(0.001)
        r = GenerateResult(struct_size=C.sizeof(GenerateResult))
        check(moe_async_wait(a, C.byref(r)))
        moe_async_free(a)
        self.assertEqual(b"".join(got), text)
        self.assertEqual((r.n_generated, r.reason), (20, STOP_MAX_TOKENS))
        # cancel a long one
        s2 = new_session(self.m, 4096)
        gp.max_tokens = -1
        check(moe_async_start(s2, smp, C.byref(gp), C.byref(a)))
        check(moe_session_eval(s2, (C.c_int32 * 1)(1), 1, False), BUSY)
        check(moe_async_cancel(a))
        check(moe_async_wait(a, C.byref(r)), ABORTED)
        self.assertEqual(r.reason, STOP_CANCELLED)
        moe_async_free(a)
        moe_sampler_free(smp)
        moe_session_free(s)
        moe_session_free(s2)

    def test_callback_stops_generation(self):
        s, smp = new_session(self.m), new_sampler(1)
        seen = []
        cb = TOKEN_FN(lambda tok, ptr, n, user: seen.append(tok) or len(seen) < 3)
        gp = moe_generate_default_params()
        gp.prompt_text, gp.max_tokens, gp.on_token = b"KING:", 50, cb
        r = GenerateResult(struct_size=C.sizeof(GenerateResult))
        check(moe_session_generate(s, smp, C.byref(gp), C.byref(r)))
        self.assertEqual((r.reason, r.n_generated), (STOP_CALLBACK, 3))
        moe_sampler_free(smp)
        moe_session_free(s)

    def test_python_threads_share_the_model(self):
        prompts = [b"ROMEO:", b"JULIET:", b"HAMLET:"]
        alone = [generate(self.m, p, 3, 24) for p in prompts]
        together = [None] * 3

        def work(i):
            together[i] = generate(self.m, prompts[i], 3, 24)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(together, alone)


if __name__ == "__main__":
    unittest.main(verbosity=1)
