// chat.hpp — moe-run's interactive chat: keeps the conversation, formats it with the model's chat template,
// evaluates only what is new since the last turn, and streams each reply. Called from main.cpp with --chat.
#pragma once

#include "options.hpp"

#include <moe/moe.hpp>
#include <moe/sampler.hpp>

int run_chat(const run_options& o, const moe::model& m, moe::session& s, moe::sampler& smp);
