// oci-run's ELF entry point (tools/oci-run/early_seal.cpp) re-executes
// from a sealed copy before glibc starts, for exactly the command lines that
// main would send to the runtime's create or run anyway.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <stdlib.h>

#include <cstdlib>

#include "common/fs.hpp"
#include "router.hpp"

extern "C" bool ocikit_early_seal_wanted(long argc, char** argv);

namespace {

bool wanted(std::vector<std::string> args) {
  args.insert(args.begin(), "oci-run");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return ocikit_early_seal_wanted(static_cast<long>(args.size()), argv.data());
}

}  // namespace

TEST_CASE("create and run with a bundle flag, after any global options") {
  CHECK(wanted({"run", "-b", "/b", "id"}));
  CHECK(wanted({"create", "--bundle", "/b", "--pid-file", "/p", "id"}));
  CHECK(wanted({"create", "--bundle=/b", "id"}));
  CHECK(wanted({"run", "-b/b", "id"}));
  CHECK(wanted({"run", "id", "-b", "/b"}));  // anywhere before "--", as router.cpp reads it
  CHECK(wanted({"--root", "/r", "--log", "/l", "--log-format", "json", "create", "-b", "/b", "id"}));
  CHECK(wanted({"--debug", "--systemd-cgroup", "run", "--detach", "-b", "/b", "id"}));
  CHECK(wanted(
      {"--state-dir", "/s", "--store", "/st", "--log-level", "debug", "--rootless", "false", "run", "-b", "/b", "x"}));
}

TEST_CASE("everything else starts glibc first") {
  CHECK_FALSE(wanted({}));
  CHECK_FALSE(wanted({"run", "id"}));  // bundle from the cwd, or an image
  CHECK_FALSE(wanted({"run", "--", "-b", "/b"}));
  CHECK_FALSE(wanted({"exec", "-b", "/b", "id"}));
  CHECK_FALSE(wanted({"start", "id"}));
  CHECK_FALSE(wanted({"--root", "run", "state", "-b", "x"}));  // "run" is the value of --root
  CHECK_FALSE(wanted({"--root=/r"}));
  CHECK_FALSE(wanted({"--root"}));
  CHECK_FALSE(wanted({"", "run", "-b", "/b"}));
  CHECK_FALSE(wanted({"spec", "-b", "/b"}));
}

TEST_CASE("the runtime handles each such command line (router.cpp agrees)") {
  using ocikit::run::Route;
  for (std::vector<std::string> args : {std::vector<std::string>{"-b", "/b", "id"},
                                        {"--bundle", "/b", "name", "image"},
                                        {"--bundle=/b", "-d", "x"},
                                        {"-b/b", "x"}}) {
    std::vector<std::string> line = {"run"};
    line.insert(line.end(), args.begin(), args.end());
    REQUIRE(wanted(line));
    for (const char* cmd : {"run", "create"}) {
      ocikit::run::CommandLine cl;
      cl.cmd = cmd;
      cl.args = args;
      cl.state_dir = "/nonexistent";
      CHECK(ocikit::run::route(cl) == Route::runtime);
    }
  }
}

TEST_CASE("the entry point knows router.hpp's global options (its own copy: no globals before relocation)") {
  // A value-taking option it did not know would make its value the command;
  // a flag it took for value-taking would swallow the command.
  for (const auto& o : ocikit::run::kGlobalOptions) {
    CAPTURE(o.name);
    std::vector<std::string> line = {o.name};
    if (o.takes_value) line.push_back("v");
    for (const char* a : {"run", "-b", "/b", "x"}) line.push_back(a);
    CHECK(wanted(line));
  }
}

TEST_CASE("-H/--host and --context send any command to oci-run-manage (runc's verbs have no other host)") {
  using ocikit::run::Route;
  struct Case {
    std::vector<std::string> line;
    Route want;
  };
  for (const Case& c : {Case{{"-H", "ssh://h", "ps"}, Route::docker}, Case{{"--host=ssh://h", "run", "img"}, Route::docker},
                        Case{{"--root", "/r", "-H", "ssh://h", "create", "-b", "/b", "x"}, Route::docker},
                        Case{{"--context", "far", "images"}, Route::docker},
                        Case{{"--context", "default", "state", "x"}, Route::runtime},
                        Case{{"state", "x"}, Route::runtime}}) {
    std::vector<std::string> args = {"oci-run"};
    args.insert(args.end(), c.line.begin(), c.line.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    auto cl = ocikit::run::scan(static_cast<int>(args.size()), argv.data());
    cl.state_dir = "/nonexistent";
    CAPTURE(args.back());
    CHECK(ocikit::run::route(cl) == c.want);
  }
}

TEST_CASE("router: pause names a managed container (docker's) or a runtime id (runc's); docker-only verbs") {
  using ocikit::run::Route;
  char tmpl[] = "/tmp/okt-route-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  std::string state = tmpl;
  std::string id(64, 'a');
  std::string dir = state + "/containers/" + id;
  REQUIRE(std::system(("mkdir -p " + dir).c_str()) == 0);
  ocikit::fs::write_file_atomic(dir + "/record.json", R"({"id":")" + id + R"(","name":"web"})");
  auto route_of = [&](std::vector<std::string> line) {
    ocikit::run::CommandLine cl;
    cl.cmd = line[0];
    cl.args.assign(line.begin() + 1, line.end());
    cl.state_dir = state;
    return ocikit::run::route(cl);
  };
  CHECK(route_of({"pause", "web"}) == Route::docker);
  CHECK(route_of({"pause", id}) == Route::docker);
  CHECK(route_of({"pause", "runc-only-id"}) == Route::runtime);
  CHECK(route_of({"resume", "web"}) == Route::runtime);
  for (const char* cmd : {"unpause", "rename", "port", "diff", "export", "import", "save", "load"}) {
    CAPTURE(cmd);
    CHECK(route_of({cmd, "x"}) == Route::docker);
  }
  std::system(("rm -rf " + state).c_str());
}
