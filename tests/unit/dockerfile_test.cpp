#include "common/dockerfile.hpp"

#include "common/error.hpp"
#include "common/fs.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <map>

using namespace ocikit;
using namespace ocikit::dockerfile;
namespace stdfs = std::filesystem;

namespace {

std::string error_of(std::string_view text) {
  try {
    parse(text, "Dockerfile");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::invalid);
    return e.what();
  }
  return "";
}

EnvLookup env_of(std::map<std::string, std::string> m) {
  return [m](std::string_view k) -> std::optional<std::string> {
    auto it = m.find(std::string(k));
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace

TEST_CASE("dockerfile: BuildKit parser corpus") {
  const char* root = std::getenv("OCIKIT_SOURCE_ROOT");
  REQUIRE(root != nullptr);
  // ../shared next to the checkout (CI, /work/main); ../../shared from a worktree.
  stdfs::path corpus = stdfs::path(root) / ".." / "shared" / "dockerfile-corpus";
  if (!stdfs::is_directory(corpus)) corpus = stdfs::path(root) / ".." / ".." / "shared" / "dockerfile-corpus";
  if (!stdfs::is_directory(corpus)) {
    MESSAGE("dockerfile corpus absent at " << corpus.string() << ", skipped");
    return;
  }
  int dumps = 0, dumps_ok = 0, negative = 0, plain = 0;
  for (const auto& entry : stdfs::directory_iterator(corpus)) {
    if (!entry.is_directory()) continue;
    std::string name = entry.path().filename().string();
    CAPTURE(name);
    std::string text = fs::read_file((entry.path() / "Dockerfile").string());
    if (name.find("testfiles-negative") != std::string::npos) {
      ++negative;
      static const std::map<std::string, std::string> kErrors = {
          {"empty_dockerfile", "Dockerfile: file with no instructions"},
          {"env_no_value", "Dockerfile:3: ENV must have two arguments"},
          {"only_comments", "Dockerfile:3: file with no instructions"},
          {"shykes-nested-json",
           "Dockerfile:1: when using JSON array syntax, arrays must be comprised of strings only"},
      };
      std::string err;
      try {
        parse_instructions(text, "Dockerfile");
      } catch (const Error& e) {
        err = e.what();
      }
      CHECK_FALSE(err.empty());
      for (const auto& [suffix, msg] : kErrors)
        if (name.size() > suffix.size() && name.ends_with(suffix)) CHECK(err == msg);
    } else if (stdfs::exists(entry.path() / "result")) {
      ++dumps;
      std::string expected = fs::read_file((entry.path() / "result").string());
      std::string got;
      CHECK_NOTHROW(got = dump(parse_instructions(text, "Dockerfile")));
      CHECK(got == expected);
      if (got == expected) ++dumps_ok;
    } else {
      ++plain;
      Dockerfile df;
      CHECK_NOTHROW(df = parse(text, name));
      // Every instruction must also expand (with all variables unset).
      EnvLookup unset = [](std::string_view) { return std::optional<std::string>(); };
      for (const auto& st : df.stages) {
        CHECK_NOTHROW(expand_instruction(st.from, unset, df.directives.escape, name));
        for (const auto& in : st.instructions) CHECK_NOTHROW(expand_instruction(in, unset, df.directives.escape, name));
      }
    }
  }
  MESSAGE("corpus: " << dumps_ok << "/" << dumps << " dumps match, " << negative << " negative, " << plain
                     << " real-world files");
  CHECK(dumps > 0);
}

TEST_CASE("dockerfile: dump of instruction forms") {
  struct Row {
    const char* text;
    const char* dump;
  };
  for (Row r : {
           Row{"FROM a\nRUN echo hi", "(from \"a\")\n(run \"echo hi\")\n"},
           Row{"FROM a AS b", "(from \"a\" \"AS\" \"b\")\n"},
           Row{"FROM --platform=linux/arm64 a", "(from [\"--platform=linux/arm64\"] \"a\")\n"},
           Row{"RUN --mount=type=cache,target=/c --network=none make",
               "(run [\"--mount=type=cache,target=/c\" \"--network=none\"] \"make\")\n"},
           Row{"CMD [\"a\", \"b c\"]", "(cmd \"a\" \"b c\")\n"},
           Row{"CMD [\"a\", 1]x", "(cmd \"[\\\"a\\\", 1]x\")\n"},
           Row{"ENV a=1 b=\"2 3\"", "(env \"a\" \"1\" \"=\" \"b\" \"\\\"2 3\\\"\" \"=\")\n"},
           Row{"ENV a 1 2", "(env \"a\" \"1 2\" \"\")\n"},
           Row{"LABEL \"k y\"=v", "(label \"\\\"k y\\\"\" \"v\" \"=\")\n"},
           Row{"ONBUILD COPY --from=x a b", "(onbuild (copy [\"--from=x\"] \"a\" \"b\"))\n"},
           Row{"# escape=`\nRUN a `\n  b", "(run \"a   b\")\n"},
           Row{"RUN a \\\n # comment\n\n  b", "(run \"a   b\")\n"},
           Row{"HEALTHCHECK NONE", "(healthcheck \"NONE\")\n"},
           Row{"FORM a b", "(form \"\")\n"},
           Row{"CMD", "(cmd)\n"},
           Row{"VOLUME [\"/a\", \"/b\"]", "(volume \"/a\" \"/b\")\n"},
           Row{"COPY --chmod=\"0755\" a b", "(copy [\"--chmod=0755\"] \"a\" \"b\")\n"},
       }) {
    CAPTURE(r.text);
    CHECK(dump(parse_instructions(r.text, "Dockerfile")) == r.dump);
  }
}

TEST_CASE("dockerfile: directives only at the top") {
  Directives d;
  parse_instructions("# syntax=docker/dockerfile:1\n# escape=`\n# check=skip=A,B;error=true\nFROM a\n", "Dockerfile",
                     &d);
  CHECK(d.syntax == "docker/dockerfile:1");
  CHECK(d.escape == '`');
  CHECK(d.check_skip == std::vector<std::string>{"A", "B"});
  CHECK(d.check_error);
  Directives late;
  parse_instructions("FROM a\n# escape=`\n", "Dockerfile", &late);
  CHECK(late.escape == '\\');
  Directives after_blank;
  parse_instructions("\n# escape=`\nFROM a\n", "Dockerfile", &after_blank);
  CHECK(after_blank.escape == '\\');
  CHECK(error_of("# escape=x\nFROM a") == "Dockerfile:1: invalid escape token 'x' does not match ` or \\");
  CHECK(error_of("# escape=`\n# escape=\\\nFROM a") == "Dockerfile:2: only one escape parser directive can be used");
}

TEST_CASE("dockerfile: heredocs") {
  auto list = parse_instructions(
      "FROM a\n"
      "RUN <<EOF\necho $HOME\nEOF\n"
      "COPY <<-'A' <<\"B\" /dst/\n\t\tone\n\tA\ntwo\nB\n"
      "RUN 3<<X cat /dev/fd/3\nx\nX\n"
      "RUN [\"echo\", \"<<EOF\"]\n",
      "Dockerfile");
  REQUIRE(list.size() == 5);
  REQUIRE(list[1].heredocs.size() == 1);
  CHECK(list[1].heredocs[0].name == "EOF");
  CHECK(list[1].heredocs[0].content == "echo $HOME\n");
  CHECK(list[1].heredocs[0].expand);
  CHECK(list[1].line == 2);
  CHECK(list[1].end_line == 4);
  REQUIRE(list[2].heredocs.size() == 2);
  CHECK(list[2].heredocs[0].name == "A");
  CHECK(list[2].heredocs[0].chomp);
  CHECK_FALSE(list[2].heredocs[0].expand);
  CHECK(list[2].heredocs[0].content == "one\n");
  CHECK(list[2].heredocs[1].name == "B");
  CHECK_FALSE(list[2].heredocs[1].expand);
  CHECK(list[2].heredocs[1].content == "two\n");
  CHECK(list[2].args == std::vector<std::string>{"<<-'A'", "<<\"B\"", "/dst/"});
  REQUIRE(list[3].heredocs.size() == 1);
  CHECK(list[3].heredocs[0].fd == 3);
  CHECK(list[4].heredocs.empty());
  CHECK(list[4].line == 13);
  try {
    parse_instructions("FROM a\nRUN <<EOF\nno end\n", "x/Dockerfile");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "x/Dockerfile:2: unterminated heredoc");
  }
}

TEST_CASE("dockerfile: validation errors name file and line") {
  struct Row {
    const char* text;
    const char* err;
  };
  for (Row r : {
           Row{"FROM a\n\nFORM b", "Dockerfile:3: unknown instruction: FORM"},
           Row{"FROM a\nENV =x", "Dockerfile:2: ENV names can not be blank"},
           Row{"FROM a b", "Dockerfile:1: FROM requires either one or three arguments"},
           Row{"FROM a\nENV PATH", "Dockerfile:2: ENV must have two arguments"},
           Row{"FROM a\nCOPY --user=me a b", "Dockerfile:2: unknown flag: user"},
           Row{"FROM a\nCOPY a",
               "Dockerfile:2: COPY requires at least two arguments, but only one was provided. "
               "Destination could not be determined"},
           Row{"FROM a\nSHELL sh -c", "Dockerfile:2: SHELL requires the arguments to be in JSON form"},
           Row{"FROM a\nONBUILD ONBUILD RUN x", "Dockerfile:2: chaining ONBUILD via ONBUILD ONBUILD isn't allowed"},
           Row{"FROM a\nONBUILD FROM b", "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger"},
           Row{"FROM a\nONBUILD MAINTAINER b", "Dockerfile:2: MAINTAINER isn't allowed as an ONBUILD trigger"},
           Row{"RUN x", "Dockerfile:1: no build stage in current context"},
           Row{"", "Dockerfile: file with no instructions"},
           Row{"# only\n", "Dockerfile:1: file with no instructions"},
           Row{"\\\n \\\n", "Dockerfile:2: file with no instructions"},
           Row{"FROM a\nRUN 99999999999<<EOF\nx\nEOF",
               "Dockerfile:2: invalid file descriptor in heredoc: 99999999999<<EOF"},
           Row{"FROM a\nCMD [\"a\", [\"b\"]]",
               "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only"},
           Row{"FROM a AS 1x",
               "Dockerfile:1: invalid name for build stage: \"1x\", name can't start with a number or "
               "contain symbols"},
           Row{"FROM a AS x\nFROM b AS X", "Dockerfile:2: duplicate stage name \"x\""},
           Row{"FROM a\nRUN --mount=type=foo x", "Dockerfile:2: unsupported mount type \"foo\""},
           Row{"FROM a\nRUN --network=bridge x", "Dockerfile:2: unsupported network mode \"bridge\""},
           Row{"FROM a\nHEALTHCHECK NONE x", "Dockerfile:2: HEALTHCHECK NONE takes no arguments"},
           Row{"FROM a\nHEALTHCHECK --interval=5x CMD x", "Dockerfile:2: invalid duration \"5x\""},
           Row{"FROM a\nHEALTHCHECK --timeout=.s CMD x", "Dockerfile:2: invalid duration \".s\""},
           Row{"FROM a\nHEALTHCHECK FOO x", "Dockerfile:2: unknown type \"FOO\" in HEALTHCHECK (try CMD)"},
           Row{"FROM a\nCOPY --link=maybe a b", "Dockerfile:2: expecting boolean value for flag link, not: maybe"},
           Row{"FROM a\nCOPY --from a b", "Dockerfile:2: missing a value on flag: from"},
           Row{"FROM a\nWORKDIR", "Dockerfile:2: WORKDIR requires exactly one argument"},
       }) {
    CAPTURE(r.text);
    CHECK(error_of(r.text) == r.err);
  }
}

TEST_CASE("dockerfile: stages, global args and typed views") {
  auto df = parse(
      "ARG BASE=alpine\n"
      "FROM --platform=$BUILDPLATFORM ${BASE}:3 AS Build\n"
      "RUN --mount=type=cache,target=/root/.cache,sharing=locked --mount=type=secret,id=tok \\\n"
      "    --network=none make\n"
      "FROM scratch\n"
      "COPY --from=build --chown=1:2 --chmod=0644 --link --exclude=*.o a b /out/\n"
      "ADD --checksum=sha256:00 --keep-git-dir=true https://x/y.tar /\n"
      "ADD --unpack=false a.tar /\n"
      "HEALTHCHECK --interval=1m30s --retries=3 CMD curl -f http://localhost/\n"
      "ENV A=1 B=\"two words\"\n",
      "Dockerfile");
  REQUIRE(df.global_args.size() == 1);
  REQUIRE(df.stages.size() == 2);
  CHECK(df.stages[0].name == "build");
  CHECK(df.stages[0].base == "${BASE}:3");
  CHECK(df.stages[0].platform == "$BUILDPLATFORM");
  CHECK(df.stages[0].line == 2);
  auto run = run_options(df.stages[0].instructions.at(0));
  REQUIRE(run.mounts.size() == 2);
  CHECK(run.mounts[0].type == Mount::Type::cache);
  CHECK(run.mounts[0].target == "/root/.cache");
  CHECK(run.mounts[0].id == "/root/.cache");
  CHECK(run.mounts[0].sharing == "locked");
  CHECK(run.mounts[1].type == Mount::Type::secret);
  CHECK(run.mounts[1].target == "/run/secrets/tok");
  CHECK(run.network == "none");
  CHECK(df.stages[0].instructions[0].args == std::vector<std::string>{"make"});
  auto& st = df.stages[1];
  auto cp = copy_options(st.instructions.at(0));
  CHECK(cp.from == "build");
  CHECK(cp.chown == "1:2");
  CHECK(cp.chmod == "0644");
  CHECK(cp.link);
  CHECK(cp.excludes == std::vector<std::string>{"*.o"});
  CHECK(cp.sources == std::vector<std::string>{"a", "b"});
  CHECK(cp.dest == "/out/");
  auto add = copy_options(st.instructions.at(1));
  CHECK(add.checksum == "sha256:00");
  CHECK(add.keep_git_dir);
  CHECK_FALSE(add.unpack.has_value());
  CHECK(cp.unpack == std::nullopt);
  CHECK(copy_options(st.instructions.at(2)).unpack == false);
  auto hc = healthcheck(st.instructions.at(3));
  CHECK(hc.test == std::vector<std::string>{"CMD-SHELL", "curl -f http://localhost/"});
  CHECK(hc.interval == 90'000'000'000LL);
  CHECK(hc.retries == 3);
  auto env = expand_instruction(st.instructions.at(4), env_of({}), '\\');
  CHECK(key_values(env) == std::vector<std::pair<std::string, std::string>>{{"A", "1"}, {"B", "two words"}});
}

TEST_CASE("dockerfile: expansion per instruction") {
  auto env = env_of({{"V", "x y"}, {"E", ""}, {"D", "/data"}, {"P", "80/tcp 443"}});
  auto list = parse_instructions(
      "FROM a\n"
      "RUN echo $V\n"
      "WORKDIR $D/sub\n"
      "COPY --chown=$V ${D}/a '$D' /dst\n"
      "ARG N=${E:-dflt} M\n"
      "LABEL k=\"$V\" 'q'='$V'\n"
      "CMD echo $V\n"
      "EXPOSE $P 22\n",
      "Dockerfile");
  auto run = expand_instruction(list[1], env, '\\');
  CHECK(run.args == std::vector<std::string>{"echo $V"});
  CHECK(expand_instruction(list[2], env, '\\').args == std::vector<std::string>{"/data/sub"});
  auto cp = expand_instruction(list[3], env, '\\');
  CHECK(cp.args == std::vector<std::string>{"/data/a", "$D", "/dst"});
  CHECK(cp.flag("chown") == "x y");
  auto args = arg_decls(expand_instruction(list[4], env, '\\'));
  REQUIRE(args.size() == 2);
  CHECK(args[0].name == "N");
  CHECK(args[0].default_value == "dflt");
  CHECK_FALSE(args[1].default_value.has_value());
  CHECK(key_values(expand_instruction(list[5], env, '\\')) ==
        std::vector<std::pair<std::string, std::string>>{{"k", "x y"}, {"q", "$V"}});
  CHECK(expand_instruction(list[6], env, '\\').args == std::vector<std::string>{"echo $V"});
  CHECK(expand_instruction(list[7], env, '\\').args == std::vector<std::string>{"80/tcp", "443", "22"});
  auto bad = parse_instructions("FROM a\nWORKDIR ${D\n", "Dockerfile");
  try {
    expand_instruction(bad[1], env, '\\');
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "Dockerfile:2: syntax error: missing '}'");
  }
}

TEST_CASE("dockerfile: shell word expansion") {
  auto env = env_of({{"A", "a"}, {"E", ""}, {"P", "/usr/local/bin"}, {"S", "one two"}, {"F", "file.tar.gz"}});
  struct Row {
    const char* in;
    const char* out;
  };
  for (Row r : {
           Row{"$A", "a"},
           Row{"${A}b", "ab"},
           Row{"$Ab", ""},
           Row{"${U:-x}", "x"},
           Row{"${E:-x}", "x"},
           Row{"${E-x}", ""},
           Row{"${U-x}", "x"},
           Row{"${A:+y}", "y"},
           Row{"${E:+y}", ""},
           Row{"${E+y}", "y"},
           Row{"${U+y}", ""},
           Row{"'$A'", "$A"},
           Row{"\"$A\"", "a"},
           Row{"\\$A", "$A"},
           Row{"\"\\$A\"", "$A"},
           Row{"a\\ b", "a b"},
           Row{"\"a\\b\"", "a\\b"},
           Row{"$", "$"},
           Row{"${P#*/}", "usr/local/bin"},
           Row{"${P##*/}", "bin"},
           Row{"${F%.*}", "file.tar"},
           Row{"${F%%.*}", "file"},
           Row{"${F/./-}", "file-tar.gz"},
           Row{"${F//./-}", "file-tar-gz"},
           Row{"${P/\\/usr/}", "/local/bin"},
           Row{"${U/x/y}", ""},
           Row{"${A//*/z}", "z"},
           Row{"${A:-${U:-z}}", "a"},
           Row{"${U:-${E:-z}}", "z"},
       }) {
    CAPTURE(r.in);
    CHECK(expand_word(r.in, env) == r.out);
  }
  CHECK(expand_words("$S \"$S\" x'y z'", env) == std::vector<std::string>{"one", "two", "one two", "xy z"});
  LexOptions bt;
  bt.escape = '`';
  CHECK(expand_word("C:\\dir`$A", env, bt) == "C:\\dir$A");
  struct Bad {
    const char* in;
    const char* err;
  };
  for (Bad b : {
           Bad{"${A", "syntax error: missing '}'"},
           Bad{"${:}", "syntax error: bad substitution"},
           Bad{"${U:?must be set}", "U: must be set"},
           Bad{"${U?}", "U: is not allowed to be unset"},
           Bad{"${E:?}", "E: is not allowed to be empty"},
           Bad{"'abc", "unexpected end of statement while looking for matching single-quote"},
           Bad{"\"abc", "unexpected end of statement while looking for matching double-quote"},
           Bad{"${A:#x}", "unsupported modifier (:#) in substitution"},
       }) {
    CAPTURE(b.in);
    try {
      expand_word(b.in, env);
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(std::string(e.what()) == b.err);
    }
  }
}

TEST_CASE("dockerfile: RUN commands") {
  auto list = parse_instructions(
      "FROM a\n"
      "RUN echo hi\n"
      "RUN [\"/bin/true\", \"x\"]\n"
      "RUN <<EOF\necho one\nEOF\n"
      "RUN <<EOF\n#!/usr/bin/env python3\nprint(1)\nEOF\n"
      "RUN cat <<A <<B\na\nA\nb\nB\n",
      "Dockerfile");
  const std::vector<std::string> sh = {"/bin/sh", "-c"};
  CHECK(run_command(list[1], sh).argv == std::vector<std::string>{"/bin/sh", "-c", "echo hi"});
  CHECK(run_command(list[2], sh).argv == std::vector<std::string>{"/bin/true", "x"});
  CHECK(run_command(list[3], sh).argv == std::vector<std::string>{"/bin/sh", "-c", "echo one\n"});
  auto script = run_command(list[4], sh);
  CHECK(script.argv.empty());
  REQUIRE(script.script.has_value());
  CHECK(script.script->content == "#!/usr/bin/env python3\nprint(1)\n");
  CHECK(run_command(list[5], sh).argv == std::vector<std::string>{"/bin/sh", "-c", "cat <<A <<B\na\nA\nb\nB"});
}
