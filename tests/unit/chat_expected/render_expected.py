#!/usr/bin/python3
# render_expected.py — renders each model's real Jinja chat template over the sample conversations of test_chat.cpp.
# Writes the expected prompts into the GENERATED block of tests/unit/test_chat.cpp, which checks moe::format_chat,
# and the template sources for the detection test into detect_sources.inc next to this script.
#
# Usage (Debian: apt-get install python3-jinja2):
#   /usr/bin/python3 tests/unit/chat_expected/render_expected.py [--llama-templates DIR] [--print]
# DIR defaults to build/llama-ref/llama.cpp/models/templates (fetched by .ci/run); the other templates are in
# templates/ next to this script, each with its source noted below.
#
# Rendering follows transformers' apply_chat_template: a sandboxed Jinja2 environment with trim_blocks and
# lstrip_blocks, raise_exception() and strftime_now() as globals, bos_token / eos_token from the model's tokenizer.
# strftime_now is pinned to 2025-03-05 and Llama 3.1's date_string to "05 Mar 2025" so the strings are stable.
import argparse
import datetime
import json
import os
import re
import sys

import jinja2
import jinja2.ext
import jinja2.sandbox

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
TEST_FILE = os.path.join(REPO, "tests", "unit", "test_chat.cpp")
FIXED_DATE = datetime.datetime(2025, 3, 5)

# The sample conversations; test_chat.cpp builds the same ones (sample_conversation()).
CONVERSATIONS = {
    "system": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Hello!"},
        {"role": "assistant", "content": "  Hi there. How can I help?  "},
        {"role": "user", "content": "Explain mixture-of-experts in one line.\n"},
    ],
    "no_system": [
        {"role": "user", "content": "Hello!"},
        {"role": "assistant", "content": "Hi there."},
        {"role": "user", "content": "What is 2+2?"},
    ],
    "ends_assistant": [
        {"role": "user", "content": "Hello!"},
        {"role": "assistant", "content": "Hi there."},
    ],
    "think": [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "<think>\nThe user greets me.\n</think>\n\nHello! How can I help?"},
        {"role": "user", "content": "Bye"},
    ],
}

DS_BOS, DS_EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"

# kind -> (template file, where it comes from, bos_token, eos_token, extra variables)
# "llama:" files are read from llama.cpp's models/templates; the others from templates/ here.
KINDS = [
    ("chatml", "chatml-openhermes-2.5.jinja", "teknium/OpenHermes-2.5-Mistral-7B (llama.cpp tests/test-chat-template.cpp)", "", "", {}),
    ("qwen2", "qwen2-instruct.jinja", "Qwen/Qwen2-57B-A14B-Instruct tokenizer_config.json", "", "<|im_end|>", {}),
    ("qwen2.5", "llama:Qwen-Qwen2.5-7B-Instruct.jinja", "llama.cpp models/templates/Qwen-Qwen2.5-7B-Instruct.jinja", "", "<|im_end|>", {}),
    ("qwen3", "llama:Qwen-Qwen3-0.6B.jinja", "llama.cpp models/templates/Qwen-Qwen3-0.6B.jinja (same as Qwen3-30B-A3B)", "", "<|im_end|>", {}),
    ("deepseek2", "deepseek-v2-lite-chat.jinja", "deepseek-ai/DeepSeek-V2-Lite-Chat (llama.cpp tests/test-chat-template.cpp)", DS_BOS, DS_EOS, {}),
    ("deepseek3", "deepseek-v3.jinja", "deepseek-ai/DeepSeek-V3 tokenizer_config.json", DS_BOS, DS_EOS, {}),
    ("deepseek-r1", "deepseek-r1.jinja", "deepseek-ai/DeepSeek-R1 tokenizer_config.json", DS_BOS, DS_EOS, {}),
    ("deepseek3.1", "deepseek-v3.1.jinja", "deepseek-ai/DeepSeek-V3.1 GGUF tokenizer.chat_template", DS_BOS, DS_EOS, {}),
    ("mistral-legacy", "mistral-legacy.jinja", "mistralai/Mixtral-8x7B-Instruct-v0.1 original template (llama.cpp tests/test-chat-template.cpp)", "<s>", "</s>", {}),
    ("mistral-v1", "mixtral-8x7b-instruct-v0.1.jinja", "mistralai/Mixtral-8x7B-Instruct-v0.1 current template (llama.cpp tests/test-chat-template.cpp)", "<s>", "</s>", {}),
    ("mistral-v3", "mistral-large-2407.jinja", "mistralai/Mistral-Large-Instruct-2407 = Mixtral-8x22B-Instruct-v0.1 style (llama.cpp tests/test-chat-template.cpp)", "<s>", "</s>", {}),
    ("mistral-v3-tekken", "llama:mistralai-Mistral-Nemo-Instruct-2407.jinja", "llama.cpp models/templates/mistralai-Mistral-Nemo-Instruct-2407.jinja", "<s>", "</s>", {}),
    ("mistral-v7", "mistral-large-2411.jinja", "mistralai/Mistral-Large-Instruct-2411 (llama.cpp tests/test-chat-template.cpp)", "<s>", "</s>", {}),
    ("mistral-v7-tekken", "llama:Mistral-Small-3.2-24B-Instruct-2506.jinja", "llama.cpp models/templates/Mistral-Small-3.2-24B-Instruct-2506.jinja", "<s>", "</s>", {}),
    ("llama3", "llama-3-instruct.jinja", "meta-llama/Meta-Llama-3-8B-Instruct tokenizer_config.json", "<|begin_of_text|>", "<|eot_id|>", {}),
    ("llama3.1", "llama:meta-llama-Llama-3.3-70B-Instruct.jinja", "llama.cpp models/templates/meta-llama-Llama-3.3-70B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", {"date_string": "05 Mar 2025"}),
    ("olmoe", "olmoe-1b-7b-0924-instruct.jinja", "allenai/OLMoE-1B-7B-0924-Instruct tokenizer_config.json", "<|endoftext|>", "<|endoftext|>", {}),
    ("gpt-oss", "llama:openai-gpt-oss-120b.jinja", "llama.cpp models/templates/openai-gpt-oss-120b.jinja", "", "<|return|>", {}),
]

# (case id, conversation, add_generation_prompt, extra variables)
CASES = [
    ("system", "system", True, {}),
    ("no_system", "no_system", True, {}),
    ("system_no_prompt", "system", False, {}),
    ("ends_assistant", "ends_assistant", False, {}),
]
THINK_CASES = {  # extra cases for the templates that treat reasoning specially
    "qwen3": [("think", "think", True, {}), ("no_think", "no_system", True, {"enable_thinking": False})],
    "deepseek-r1": [("think", "think", True, {})],
    "deepseek3.1": [("think", "think", True, {}), ("thinking_on", "no_system", True, {"thinking": True})],
}


def raise_exception(msg):
    raise jinja2.exceptions.TemplateError(msg)


def make_env():
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                                       extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = lambda x, indent=None, separators=None, sort_keys=False: json.dumps(
        x, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys)
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: FIXED_DATE.strftime(fmt)
    return env


def c_literal(s):
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def render_all(llama_dir):
    env = make_env()
    rows = []
    for kind, file, source, bos, eos, extra in KINDS:
        if file.startswith("llama:"):
            path = os.path.join(llama_dir, file[len("llama:"):])
        else:
            path = os.path.join(HERE, "templates", file)
        template = env.from_string(open(path, encoding="utf-8").read())
        for case, conv, add_gen, case_extra in CASES + THINK_CASES.get(kind, []):
            vars_ = dict(messages=CONVERSATIONS[conv], add_generation_prompt=add_gen, bos_token=bos, eos_token=eos)
            vars_.update(extra)
            vars_.update(case_extra)
            try:
                text = template.render(**vars_)
            except jinja2.exceptions.TemplateError as e:
                print(f"skip {kind}/{case}: the template raises: {e}", file=sys.stderr)
                continue
            if kind == "mistral-v7-tekken" and conv != "system":
                continue  # without a system message it inserts Mistral Small 3.2's own long default prompt
            rows.append((kind, case, source, bos, eos, extra, case_extra, text))
    return rows


def cpp_block(rows):
    lines = ["// clang-format off"]
    last_kind = None
    for kind, case, source, bos, eos, extra, case_extra, text in rows:
        if kind != last_kind:
            params = f"bos_token={bos!r}, eos_token={eos!r}"
            for k, v in extra.items():
                params += f", {k}={v!r}"
            lines.append(f"// {kind}: {source}; {params}")
            last_kind = kind
        note = "".join(f", {k}={v!r}" for k, v in case_extra.items())
        lines.append(f"{{\"{kind}\", \"{case}\", {c_literal(text)}}},{'  // ' + note[2:] if note else ''}")
    lines.append("// clang-format on")
    return "\n".join(lines) + "\n"


# Detection data: (template, expected kind). Full texts go into detect_sources.inc; for Meta's Llama 3 templates
# (Llama license) only a distinctive snippet is stored. "-" expects detection to fail (errc::unsupported).
DETECT = [
    ("chatml-openhermes-2.5.jinja", "chatml"),
    ("qwen2-instruct.jinja", "qwen2"),
    ("llama:Qwen-Qwen2.5-7B-Instruct.jinja", "qwen2.5"),
    ("llama:Qwen-Qwen3-0.6B.jinja", "qwen3"),
    ("deepseek-v2-lite-chat.jinja", "deepseek2"),
    ("deepseek-v3.jinja", "deepseek3"),
    ("deepseek-r1.jinja", "deepseek-r1"),
    ("llama:deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", "deepseek-r1"),
    ("deepseek-v3.1.jinja", "deepseek3.1"),
    ("mistral-legacy.jinja", "mistral-legacy"),
    ("mixtral-8x7b-instruct-v0.1.jinja", "mistral-v1"),
    ("mistral-large-2407.jinja", "mistral-v3"),
    ("llama:mistralai-Mistral-Nemo-Instruct-2407.jinja", "mistral-v3-tekken"),
    ("mistral-large-2411.jinja", "mistral-v7"),
    ("llama:Mistral-Small-3.2-24B-Instruct-2506.jinja", "mistral-v7-tekken"),
    ("olmoe-1b-7b-0924-instruct.jinja", "olmoe"),
    ("llama:openai-gpt-oss-120b.jinja", "gpt-oss"),
    ("llama:google-gemma-2-2b-it.jinja", "-"),
    ("llama:microsoft-Phi-3.5-mini-instruct.jinja", "-"),
]
SNIPPETS = [  # (name, snippet, expected kind)
    ("Meta-Llama-3-8B-Instruct (snippet)",
     "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}",
     "llama3"),
    ("Llama-3.3-70B-Instruct (snippet)",
     '{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}{{- "Cutting Knowledge Date: December 2023\\n" }}'
     "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}",
     "llama3.1"),
    ("Llama-2-chat style (snippet)", "{{ bos_token + '[INST] <<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' }}", "-"),
]
CHUNK = 3000  # UTF-8 bytes per raw literal: ISO C++ only promises 4095 per literal (-Woverlength-strings)


def detect_inc(llama_dir):
    def raw(text):
        assert ")moe_tpl\"" not in text
        parts, cur = [], ""
        for ch in text:  # whole code points, at most CHUNK bytes of UTF-8 per literal
            if len((cur + ch).encode("utf-8")) > CHUNK:
                parts.append(cur)
                cur = ""
            cur += ch
        parts.append(cur)
        return ", ".join('R"moe_tpl(' + p + ')moe_tpl"' for p in parts)

    out = ["// detect_sources.inc — generated by render_expected.py: chat templates (full text, split into literals of",
           "// at most 3000 bytes) and the kind detect_chat_template() must give. Included by test_chat.cpp.",
           "// clang-format off"]
    for file, kind in DETECT:
        path = os.path.join(llama_dir, file[6:]) if file.startswith("llama:") else os.path.join(HERE, "templates", file)
        text = open(path, encoding="utf-8").read()
        out.append(f'{{"{file}", "{kind}", {{{raw(text)}}}}},')
    for name, text, kind in SNIPPETS:
        out.append(f'{{"{name}", "{kind}", {{{raw(text)}}}}},')
    out.append("// clang-format on")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama-templates", default=os.path.join(REPO, "build", "llama-ref", "llama.cpp", "models", "templates"))
    ap.add_argument("--print", action="store_true", help="print the block instead of writing test_chat.cpp")
    args = ap.parse_args()
    block = cpp_block(render_all(args.llama_templates))
    if args.print:
        sys.stdout.write(block)
        return
    src = open(TEST_FILE, encoding="utf-8").read()
    begin, end = "// BEGIN GENERATED by chat_expected/render_expected.py\n", "// END GENERATED\n"
    i, j = src.index(begin) + len(begin), src.index(end)
    open(TEST_FILE, "w", encoding="utf-8").write(src[:i] + block + src[j:])
    print(f"wrote {block.count(chr(10))} lines into {TEST_FILE}")
    inc = os.path.join(HERE, "detect_sources.inc")
    open(inc, "w", encoding="utf-8").write(detect_inc(args.llama_templates))
    print(f"wrote {inc}")


if __name__ == "__main__":
    main()
