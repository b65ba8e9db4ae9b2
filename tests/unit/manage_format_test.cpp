// oci-run-manage's display helpers (manage/format.hpp) and volume names.
#include <doctest/doctest.h>

#include <cstdlib>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "format.hpp"
#include "volumes.hpp"

using namespace ocikit;
using namespace ocikit::manage;

TEST_CASE("manage_format: human sizes as docker prints them") {
  struct {
    uint64_t n;
    const char* dec;
    const char* bin;
  } cases[] = {
      {0, "0B", "0B"},
      {999, "999B", "999B"},
      {1000, "1kB", "1000B"},
      {1234, "1.23kB", "1.205KiB"},
      {1536, "1.54kB", "1.5KiB"},
      {7800000, "7.8MB", "7.439MiB"},
      {128000000, "128MB", "122.1MiB"},
      {5ULL * 1000 * 1000 * 1000, "5GB", "4.657GiB"},
  };
  for (auto& c : cases) {
    CAPTURE(c.n);
    CHECK(human_size(c.n) == c.dec);
    CHECK(human_bytes(c.n) == c.bin);
  }
}

TEST_CASE("manage_format: docker-style durations") {
  struct {
    int64_t s;
    const char* want;
  } cases[] = {
      {0, "Less than a second"}, {1, "1 second"},         {59, "59 seconds"},       {60, "About a minute"},
      {119, "About a minute"},   {120, "2 minutes"},      {3599, "59 minutes"},     {3600, "About an hour"},
      {5400, "2 hours"},         {47 * 3600, "47 hours"}, {48 * 3600, "2 days"},    {13 * 86400, "13 days"},
      {14 * 86400, "2 weeks"},   {59 * 86400, "8 weeks"}, {60 * 86400, "2 months"}, {729 * 86400, "24 months"},
      {730 * 86400, "2 years"},
  };
  for (auto& c : cases) {
    CAPTURE(c.s);
    CHECK(human_duration(c.s) == c.want);
  }
  CHECK(human_ago(1000, 1120) == "2 minutes ago");
  CHECK(human_ago(std::nullopt, 1120) == "N/A");
}

TEST_CASE("manage_format: RFC 3339 times") {
  CHECK(parse_rfc3339("1970-01-01T00:00:00Z") == 0);
  CHECK(parse_rfc3339("2024-05-01T10:00:00Z") == 1714557600);
  CHECK(parse_rfc3339("2024-05-01T10:00:00.123456789Z") == 1714557600);
  CHECK(parse_rfc3339("2024-05-01T12:00:00+02:00") == 1714557600);
  CHECK(parse_rfc3339("2024-05-01T08:30:00-01:30") == 1714557600);
  for (const char* bad : {"", "2024-05-01", "2024-05-01T10:00:00", "2024-13-01T10:00:00Z", "2024-05-01T10:00:00Zx",
                          "2024-05-01T10:00:00.Z", "yesterday"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_rfc3339(bad).has_value());
  }
  CHECK(format_rfc3339(1714557600) == "2024-05-01T10:00:00Z");
  auto now = now_rfc3339_nanos();
  CHECK(now.size() == 30);
  CHECK(parse_rfc3339(now).has_value());
}

TEST_CASE("manage_format: id prefixes") {
  std::vector<std::string> ids = {"abc123" + std::string(58, '0'), "abd456" + std::string(58, '1'),
                                  "abc123" + std::string(58, '0')};
  CHECK(match_id_prefix(ids, "abc") == 0u);
  CHECK(match_id_prefix(ids, "sha256:abd") == 1u);
  CHECK(match_id_prefix(ids, ids[1]) == 1u);
  CHECK_FALSE(match_id_prefix(ids, "ff").has_value());
  try {
    match_id_prefix(ids, "ab");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "ambiguous id prefix \"ab\"");
  }
  CHECK_THROWS_AS(match_id_prefix(ids, ""), Error);
}

TEST_CASE("manage_format: --format templates") {
  nlohmann::json o = {{"Name", "v1"}, {"Driver", "local"}, {"Size", 3}, {"Labels", {{"a", "b"}}}};
  CHECK(render_template("{{.Name}}", o) == "v1");
  CHECK(render_template("{{ .Name }}\\t{{.Driver}}", o) == "v1\tlocal");
  CHECK(render_template("n={{.Size}}", o) == "n=3");
  CHECK(render_template("{{json .Labels}}", o) == "{\"a\":\"b\"}");
  CHECK(render_template("{{json .}}", o) == o.dump());
  nlohmann::json c = {{"State", {{"Pid", 42}, {"Running", true}}},
                      {"Config", {{"Cmd", {"sh", "-c", "x"}}, {"Labels", {{"com.x/y", "v"}, {"a", "b"}}}}},
                      {"Name", "/web"}, {"Gone", nullptr}};
  CHECK(render_template("{{.State.Pid}} {{.State.Running}}", c) == "42 true");
  CHECK(render_template("{{.Config.Cmd}}", c) == "[sh -c x]");
  CHECK(render_template("{{.Config.Labels}}", c) == "map[a:b com.x/y:v]");
  CHECK(render_template("{{index .Config.Labels \"com.x/y\"}}", c) == "v");
  CHECK(render_template("{{index .Config.Cmd 2}}", c) == "x");
  CHECK(render_template("{{join .Config.Cmd \",\"}}", c) == "sh,-c,x");
  CHECK(render_template("{{upper .Name}}", c) == "/WEB");
  CHECK(render_template("{{.Config.Nope}}|{{.Gone}}", c) == "<no value>|<nil>");
  CHECK(render_template("{{json .State}}", c) == R"({"Pid":42,"Running":true})");
  CHECK(render_template_table("table {{.ID}}\t{{.Names}}", {{{"ID", "abc"}, {"Names", "web"}}}, {{"ID", "CONTAINER ID"}}) ==
        "CONTAINER ID   NAMES\nabc            web\n");
  // what docker users write with inspect -f: range, if/else, with,
  // parentheses with a field after them, pipelines, len, $
  nlohmann::json n = {
      {"NetworkSettings",
       {{"Networks", {{"b", {{"IPAddress", "10.0.0.3"}}}, {"a", {{"IPAddress", "10.0.0.2"}}}}},
        {"Ports", {{"80/tcp", {{{"HostIp", "0.0.0.0"}, {"HostPort", "49153"}}}}, {"81/tcp", nullptr}}}}},
      {"Mounts", {{{"Source", "/s1"}, {"Destination", "/d1"}}, {{"Source", "/s2"}, {"Destination", "/d2"}}}},
      {"Name", "/web"},
      {"State", {{"Running", false}, {"ExitCode", 3}}},
      {"Empty", nlohmann::json::array()}};
  CHECK(render_template("{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", n) == "10.0.0.2 10.0.0.3 ");
  CHECK(render_template("{{range .Mounts}}{{.Source}}:{{.Destination}},{{end}}", n) == "/s1:/d1,/s2:/d2,");
  CHECK(render_template("{{(index (index .NetworkSettings.Ports \"80/tcp\") 0).HostPort}}", n) == "49153");
  CHECK(render_template("{{if .State.Running}}up{{else}}down {{.State.ExitCode}}{{end}}", n) == "down 3");
  CHECK(render_template("{{with .State}}{{.ExitCode}}{{end}}|{{with .Empty}}x{{else}}none{{end}}", n) == "3|none");
  CHECK(render_template("{{range .Empty}}x{{else}}empty{{end}}", n) == "empty");
  CHECK(render_template("{{.Name | upper}} {{len .Mounts}} {{json (index .Mounts 1).Source}}", n) == "/WEB 2 \"/s2\"");
  CHECK(render_template("{{range .Mounts}}{{$.Name}}{{end}}", n) == "/web/web");
  for (const char* bad : {"{{.Nope}}", "{{.Name", "{{nosuch .Name}}", "{{index .Name}}", "{{.}}x{{", "{{.A..B}}",
                          "{{range .Name}}x{{end}}", "{{if .Name}}x", "{{end}}", "{{(index .Labels \"a\"}}"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(render_template(bad, o), Error);
  }
}

TEST_CASE("manage_format: commit --change") {
  image::ContainerConfig c;
  c.env = {"PATH=/bin", "A=1"};
  c.working_dir = "/srv";
  apply_change(c, R"(CMD ["/bin/echo", "hi"])");
  CHECK(*c.cmd == std::vector<std::string>{"/bin/echo", "hi"});
  apply_change(c, "CMD echo $A");
  CHECK(*c.cmd == std::vector<std::string>{"/bin/sh", "-c", "echo $A"});
  apply_change(c, R"(ENTRYPOINT ["/bin/sh"])");
  CHECK(*c.entrypoint == std::vector<std::string>{"/bin/sh"});
  apply_change(c, "ENV A=2 B=\"x y\"");
  CHECK(c.env == std::vector<std::string>{"PATH=/bin", "A=2", "B=x y"});
  apply_change(c, "ENV C $B");
  CHECK(c.env.back() == "C=x y");
  apply_change(c, "LABEL k=v");
  CHECK(c.labels.at("k") == "v");
  apply_change(c, "EXPOSE 80 53/udp");
  CHECK(c.exposed_ports == std::vector<std::string>{"53/udp", "80/tcp"});
  apply_change(c, "VOLUME /data");
  CHECK(c.volumes == std::vector<std::string>{"/data"});
  apply_change(c, "WORKDIR sub");
  CHECK(c.working_dir == "/srv/sub");
  apply_change(c, "USER 1000:1000");
  CHECK(c.user == "1000:1000");
  apply_change(c, "STOPSIGNAL SIGINT");
  CHECK(c.stop_signal == "SIGINT");
  try {
    apply_change(c, "RUN true");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "--change \"RUN true\": unsupported instruction run");
  }
  CHECK_THROWS_AS(apply_change(c, "USER"), Error);
}

TEST_CASE("manage_format: tables, truncation, labels, volume names") {
  CHECK(format_table({{"DRIVER", "VOLUME NAME"}, {"local", "v"}}) == "DRIVER    VOLUME NAME\nlocal     v\n");
  CHECK(format_table({{"A", "B", "C"}, {"a-very-long-cell", "b", "c"}}) ==
        "A" + std::string(18, ' ') + "B         C\na-very-long-cell   b         c\n");
  CHECK(truncate_text("abcdef", 4) == "abc…");
  CHECK(truncate_text("abc", 4) == "abc");
  CHECK(truncate_text("abcdef", 0) == "abcdef");
  auto l = parse_labels({"a=b", "c", "d=e=f"});
  CHECK(l == std::vector<std::pair<std::string, std::string>>{{"a", "b"}, {"c", ""}, {"d", "e=f"}});
  CHECK_THROWS_AS(parse_labels({"=x"}), Error);
  for (const char* ok : {"ab", "my-vol_1.x", "0a"}) CHECK(is_valid_volume_name(ok));
  for (const char* bad : {"", "a", "-ab", "a/b", "a b", ".."}) {
    CAPTURE(bad);
    CHECK_FALSE(is_valid_volume_name(bad));
  }
}

TEST_CASE("manage_format: volume store lifecycle") {
  char tmpl[] = "/tmp/okt-manage2-vol-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  VolumeStore vs(dir);
  auto a = vs.create("data1", {{"k", "v"}});
  CHECK(a.name == "data1");
  CHECK(a.mountpoint == dir + "/volumes/data1/_data");
  CHECK_FALSE(a.anonymous());
  CHECK(fs::exists(a.mountpoint));
  auto again = vs.create("data1");
  CHECK(again.created_at == a.created_at);
  CHECK(again.labels.at("k") == "v");
  auto anon = vs.create();
  CHECK(anon.anonymous());
  CHECK(anon.name.size() == 64);
  CHECK(vs.list().size() == 2);
  CHECK(to_json(a)["Scope"] == "local");
  CHECK_THROWS_AS(vs.create("x/y"), Error);
  CHECK_FALSE(fs::exists(dir + "/volumes/x"));

  // a container bundle mounting data1 makes it in use
  fs::mkdir_p(dir + "/containers/c1/bundle");
  nlohmann::json cfg = {{"mounts", {{{"destination", "/d"}, {"source", a.mountpoint + "/sub"}, {"type", "bind"}}}}};
  fs::write_file_atomic(dir + "/containers/c1/bundle/config.json", cfg.dump());
  CHECK(vs.users("data1") == std::vector<std::string>{"c1"});
  CHECK(vs.users(anon.name).empty());
  try {
    vs.remove("data1");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "remove data1: volume is in use by container c1");
  }
  uint64_t freed = 0;
  CHECK(vs.prune(false, freed) == std::vector<std::string>{anon.name});
  CHECK(vs.prune(true, freed).empty());
  vs.remove("data1", true);
  CHECK(vs.list().empty());
  try {
    vs.inspect("data1");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "no such volume: data1");
  }
  fs::remove_all(dir);
}
