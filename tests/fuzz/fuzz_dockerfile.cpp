// Dockerfile text: the lexer (heredocs, escapes, line continuations, parser
// directives), the parser, variable expansion and every instruction's
// option and argument parsing, then the dump of what was parsed.
#include "common/dockerfile.hpp"
#include "fuzz_common.hpp"

using namespace ocikit::dockerfile;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz_one(data, size, [](std::string_view text) {
    Directives dirs;
    (void)dump(parse_instructions(text, "Dockerfile", &dirs));
    Dockerfile df = parse(text, "Dockerfile");
    EnvLookup env = [](std::string_view k) -> std::optional<std::string> {
      if (k == "HOME") return std::string("/root");
      return std::nullopt;
    };
    std::vector<Instruction> all = df.global_args;
    for (auto& st : df.stages) {
      all.push_back(st.from);
      all.insert(all.end(), st.instructions.begin(), st.instructions.end());
    }
    for (auto& raw : all) {
      try {
        Instruction e = expand_instruction(raw, env, df.directives.escape, "Dockerfile");
        const std::string& kw = e.keyword;
        if (kw == "run") {
          (void)run_options(e);
          (void)run_command(e, {"/bin/sh", "-c"});
        } else if (kw == "copy" || kw == "add") {
          (void)copy_options(e);
        } else if (kw == "healthcheck") {
          (void)healthcheck(e);
        } else if (kw == "env" || kw == "label") {
          (void)key_values(e);
        } else if (kw == "arg") {
          (void)arg_decls(e);
        }
      } catch (const std::exception&) {
      }
    }
  });
}
