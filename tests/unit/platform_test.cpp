#include "common/platform.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "common/error.hpp"

using namespace ocikit;
using platform::Platform;

TEST_CASE("platform: parse and normalise") {
  struct Row {
    const char* in;
    const char* out;
  };
  for (Row r :
       {Row{"linux/amd64", "linux/amd64"}, Row{"linux/x86_64", "linux/amd64"}, Row{"linux/x86-64", "linux/amd64"},
        Row{"linux/aarch64", "linux/arm64"}, Row{"linux/arm64/8", "linux/arm64/v8"}, Row{"linux/armhf", "linux/arm/v7"},
        Row{"linux/armel", "linux/arm/v6"}, Row{"linux/arm", "linux/arm/v7"}, Row{"linux/arm/6", "linux/arm/v6"},
        Row{"linux/i386", "linux/386"}, Row{"arm64", "linux/arm64"}, Row{"Linux/AMD64", "linux/amd64"},
        Row{"linux/ppc64le", "linux/ppc64le"}, Row{"windows/amd64", "windows/amd64"}}) {
    CAPTURE(r.in);
    CHECK(platform::parse(r.in).str() == r.out);
  }
  for (const char* bad : {"", "linux/", "/amd64", "linux/amd64/v8/x", "linux/am d64", "linux//v7"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(platform::parse(bad), Error);
  }
  CHECK_THROWS_WITH(platform::parse("a/b/c/d"), "invalid platform \"a/b/c/d\": want os/arch[/variant]");
  CHECK_THROWS_WITH(platform::parse("linux/"), "invalid platform \"linux/\": empty component");
}

TEST_CASE("platform: matching") {
  struct Row {
    const char* want;
    const char* have;
    bool ok;
  };
  for (Row r : {Row{"linux/amd64", "linux/x86_64", true}, Row{"linux/arm64", "linux/arm64/v8", true},
                Row{"linux/arm64/v8", "linux/arm64", true}, Row{"linux/arm64/v8", "linux/aarch64", true},
                Row{"linux/arm/v7", "linux/arm/v6", true}, Row{"linux/arm/v6", "linux/arm/v7", false},
                Row{"linux/amd64", "linux/arm64", false}, Row{"linux/amd64", "windows/amd64", false},
                Row{"linux/arm64/v9", "linux/arm64", false}}) {
    CAPTURE(r.want);
    CAPTURE(r.have);
    CHECK(platform::matches(platform::parse(r.want), platform::parse(r.have)) == r.ok);
  }
  Platform w{"windows", "amd64", "", "10.0.17763.1", {}};
  Platform h{"windows", "amd64", "", "10.0.14393.1", {}};
  CHECK_FALSE(platform::matches(w, h));
  h.os_version = w.os_version;
  CHECK(platform::matches(w, h));
  auto me = platform::host();
  CHECK(me.os == "linux");
  CHECK(platform::matches(me, me));
  CHECK(platform::normalize(me) == me);
}

TEST_CASE("platform: json round trip and bad json") {
  Platform p{"windows", "amd64", "", "10.0.1", {"win32k"}};
  auto j = platform::to_json(p);
  CHECK(j.dump() == R"({"architecture":"amd64","os":"windows","os.features":["win32k"],"os.version":"10.0.1"})");
  CHECK(platform::from_json(j) == p);
  CHECK(platform::to_json(platform::parse("linux/arm/v7")).dump() ==
        R"({"architecture":"arm","os":"linux","variant":"v7"})");
  struct Row {
    const char* json;
    const char* err;
  };
  for (Row r : {Row{"[]", "invalid platform: not an object"},
                Row{R"({"os":"linux"})", "invalid platform: missing \"architecture\""},
                Row{R"({"architecture":"amd64"})", "invalid platform: missing \"os\""},
                Row{R"({"architecture":1,"os":"linux"})", "invalid platform: \"architecture\" must be a string"},
                Row{R"({"architecture":"a","os":"linux","os.features":"x"})",
                    "invalid platform: \"os.features\" must be an array of strings"}}) {
    CAPTURE(r.json);
    CHECK_THROWS_WITH_AS(platform::from_json(nlohmann::json::parse(r.json)), r.err, Error);
  }
}
