// oci-run manage/parse: docker run flag parsers, accepted and rejected values.
#include "manage/parse.hpp"

#include <doctest/doctest.h>

#include "common/error.hpp"
#include "error_of.hpp"

using namespace ocikit;
using namespace ocikit::manage;

namespace {
std::string error_of(auto&& fn) { return testing::error_of(fn, Errc::usage); }
}  // namespace

TEST_CASE("manage_parse: -v specs") {
  auto b = parse_volume("/host/dir:/data:ro");
  CHECK(b.type == "bind");
  CHECK(b.source == "/host/dir");
  CHECK(b.destination == "/data");
  CHECK(b.read_only);
  auto v = parse_volume("cache:/var/cache");
  CHECK(v.type == "volume");
  CHECK(v.source == "cache");
  CHECK_FALSE(v.read_only);
  auto anon = parse_volume("/scratch");
  CHECK(anon.type == "volume");
  CHECK(anon.source.empty());
  for (const char* bad : {":/x", "data:relative", "a:b:c:d", "data:/x:rx", "bad/name:/x", "/"}) {
    CAPTURE(bad);
    CHECK(error_of([&] { parse_volume(bad); }).rfind("invalid volume specification \"" + std::string(bad) + "\"", 0) ==
          0);
  }
}

TEST_CASE("manage_parse: --mount, --tmpfs, --restart") {
  auto t = parse_mount("type=tmpfs,target=/run,tmpfs-size=64m");
  CHECK(t.type == "tmpfs");
  CHECK(t.options == "size=64m");
  CHECK(parse_mount("type=volume,src=v,dst=/v,readonly").read_only);
  CHECK_FALSE(error_of([] { parse_mount("type=nfs,target=/x"); }).empty());
  CHECK_FALSE(error_of([] { parse_mount("type=bind,source=/no/such/okt,target=/x"); }).empty());
  CHECK(parse_tmpfs("/tmp:size=1m").options == "size=1m");
  CHECK(parse_restart("on-failure:3") == std::pair<std::string, int>{"on-failure", 3});
  CHECK(parse_restart("always").first == "always");
  CHECK(error_of([] { parse_restart("sometimes"); }) ==
        "invalid restart policy \"sometimes\" (want no, on-failure[:N], always or unless-stopped)");
  CHECK_FALSE(error_of([] { parse_restart("always:2"); }).empty());
}

TEST_CASE("manage_parse: --expose as docker's ExposedPorts keys") {
  CHECK(parse_expose({"80", "53/udp", "80/tcp", "8000-8002/sctp"}) ==
        std::vector<std::string>{"80/tcp", "53/udp", "8000/sctp", "8001/sctp", "8002/sctp"});
  CHECK(parse_expose({}).empty());
  CHECK(parse_expose({"1-65535"}).size() == 65535);
  for (const char* bad : {"", "0", "65536", "80/icmp", "9-1", "a", "80-", "-80", "1234567"}) {
    CAPTURE(bad);
    CHECK(error_of([&] { parse_expose({bad}); }) ==
          "invalid --expose \"" + std::string(bad) + "\" (want PORT[-PORT][/tcp|udp|sctp])");
  }
}

TEST_CASE("manage_parse: -p specs and resources") {
  for (const char* ok : {"80", "8080:80", "127.0.0.1:8080:80/udp", "8000-8001:8000-8001", "[::1]:80:80", ":80"}) {
    CAPTURE(ok);
    CHECK(check_publish(ok) == ok);
  }
  for (const char* bad : {"99999:80", "abc", "80/icmp", "1:2:3:4", "9-1:9-1"}) {
    CAPTURE(bad);
    CHECK(error_of([&] { check_publish(bad); }) == "invalid publish spec \"" + std::string(bad) + "\"");
  }
  CHECK(parse_bytes("64m", "--memory") == 64 * 1024 * 1024);
  CHECK(parse_bytes("1g", "--memory") == 1073741824);
  CHECK(parse_bytes("512", "--memory") == 512);
  CHECK(error_of([] { parse_bytes("lots", "--memory"); }) == "invalid --memory \"lots\"");
  auto r = parse_resources("64m", "1.5", 100);
  CHECK(r["memory"]["limit"] == 64 * 1024 * 1024);
  CHECK(r["cpu"]["quota"] == 150000);
  CHECK(r["cpu"]["period"] == 100000);
  CHECK(r["pids"]["limit"] == 100);
  CHECK(parse_resources("", "", 0).empty());
  CHECK_FALSE(error_of([] { parse_resources("1k", "", 0); }).empty());
  CHECK_FALSE(error_of([] { parse_resources("", "x", 0); }).empty());
}

TEST_CASE("manage_parse: --security-opt") {
  runtime_spec::Options so;
  apply_security_opt("seccomp=unconfined", so);
  CHECK(so.seccomp == "unconfined");
  apply_security_opt("no-new-privileges", so);
  CHECK(so.no_new_privileges);
  apply_security_opt("no-new-privileges:false", so);
  CHECK_FALSE(so.no_new_privileges);
  CHECK_FALSE(error_of([&] { apply_security_opt("bogus=1", so); }).empty());
}

TEST_CASE("manage_parse: --ulimit") {
  auto n = parse_ulimit("nofile=1024:2048");
  CHECK(n["type"] == "RLIMIT_NOFILE");
  CHECK(n["soft"] == 1024);
  CHECK(n["hard"] == 2048);
  auto c = parse_ulimit("core=0");
  CHECK(c["type"] == "RLIMIT_CORE");
  CHECK(c["soft"] == 0);
  CHECK(c["hard"] == 0);
  auto u = parse_ulimit("stack=8192:-1");
  CHECK(u["hard"] == UINT64_MAX);
  struct Bad {
    const char* spec;
    const char* why;
  };
  for (auto b : {Bad{"nofile", "want name=soft[:hard]"}, Bad{"files=1", "unknown limit \"files\""},
                 Bad{"nofile=x", "\"x\" is not a number"},
                 Bad{"nofile=10:5", "the soft limit must be less than or equal to the hard limit"},
                 Bad{"nproc=-1:10", "the soft limit must be less than or equal to the hard limit"}}) {
    CAPTURE(b.spec);
    CHECK(error_of([&] { parse_ulimit(b.spec); }) == "invalid --ulimit \"" + std::string(b.spec) + "\": " + b.why);
  }
}

TEST_CASE("manage_parse: runtime start errors in docker's words") {
  CHECK(docker_exec_error("exec: executable file not found in $PATH: nosuch") ==
        "exec: \"nosuch\": executable file not found in $PATH");
  CHECK(docker_exec_error("exec: permission denied: /etc/passwd") == "exec: \"/etc/passwd\": permission denied");
  CHECK(docker_exec_error("exec: no such file: /x/y") == "exec: \"/x/y\": stat /x/y: no such file or directory");
  CHECK(docker_exec_error("setrlimit: Operation not permitted") == "setrlimit: Operation not permitted");
}

TEST_CASE("manage_parse: the errno text the runtime appends is dropped") {
  CHECK(docker_exec_error("exec: permission denied: /etc/passwd: Permission denied") ==
        "exec: \"/etc/passwd\": permission denied");
}
