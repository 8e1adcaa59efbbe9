// moe.hpp — the C++ API in one include: load a GGUF model, open a session, evaluate tokens, read logits.
//
//   auto m = moe::model::load("model.gguf");            if (!m) { puts(m.error().to_string().c_str()); }
//   auto s = moe::session::create(*m, {});
//   int32_t prompt[] = {1, 15043, 3186};
//   moe::status st = s->eval(prompt, 3);                 // logits of the last token
//   int32_t next = s->argmax();                          // greedy next token
//
// Errors come back as moe::status / moe::result<T>; nothing throws out of the library and nothing aborts.
#pragma once

#include <moe/chat.hpp>
#include <moe/config.hpp>
#include <moe/dtype.hpp>
#include <moe/model.hpp>
#include <moe/perplexity.hpp>
#include <moe/quant.hpp>
#include <moe/sampler.hpp>
#include <moe/session.hpp>
#include <moe/status.hpp>
#include <moe/tokenizer.hpp>
