#include "common/platform.hpp"

#include <sys/utsname.h>

#include <cctype>

#include <nlohmann/json.hpp>

#include "common/error.hpp"

namespace ocikit::platform {

namespace {
[[noreturn]] void bad(std::string_view input, std::string_view why) {
  fail(Errc::invalid, "invalid platform \"" + std::string(input) + "\": " + std::string(why));
}

int arm_level(const std::string& variant) {
  if (variant.size() == 2 && variant[0] == 'v' && variant[1] >= '5' && variant[1] <= '8') return variant[1] - '0';
  return -1;
}
}  // namespace

std::string Platform::str() const {
  std::string s = os + "/" + architecture;
  if (!variant.empty()) s += "/" + variant;
  return s;
}

Platform normalize(Platform p) {
  for (auto* s : {&p.os, &p.architecture, &p.variant})
    for (char& c : *s)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  if (p.os == "macos") p.os = "darwin";
  const std::string& a = p.architecture;
  if (a == "x86_64" || a == "x86-64" || a == "amd64") {
    p.architecture = "amd64";
    if (p.variant == "v1") p.variant.clear();
  } else if (a == "i386" || a == "i686" || a == "x86") {
    p.architecture = "386";
  } else if (a == "aarch64" || a == "arm64" || a == "armv8l") {
    p.architecture = "arm64";
    if (p.variant == "8" || p.variant == "v8" || p.variant == "v8.0") p.variant = "v8";
  } else if (a == "armhf" || a == "armv7l" || a == "armv7") {
    p.architecture = "arm";
    p.variant = "v7";
  } else if (a == "armel" || a == "armv6l" || a == "armv6") {
    p.architecture = "arm";
    p.variant = "v6";
  } else if (a == "armv5tel" || a == "armv5") {
    p.architecture = "arm";
    p.variant = "v5";
  } else if (a == "arm") {
    if (p.variant.empty() || p.variant == "7") p.variant = "v7";
    else if (p.variant == "5" || p.variant == "6" || p.variant == "8") p.variant = "v" + p.variant;
  } else if (a == "ppc64el") {
    p.architecture = "ppc64le";
  }
  return p;
}

Platform parse(std::string_view s) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    auto sl = s.find('/', start);
    parts.emplace_back(s.substr(start, sl == std::string_view::npos ? sl : sl - start));
    if (sl == std::string_view::npos) break;
    start = sl + 1;
  }
  for (auto& part : parts)
    if (part.empty()) bad(s, "empty component");
  Platform p;
  if (parts.size() == 1) {
    p.os = "linux";
    p.architecture = parts[0];
  } else if (parts.size() <= 3) {
    p.os = parts[0];
    p.architecture = parts[1];
    if (parts.size() == 3) p.variant = parts[2];
  } else {
    bad(s, "want os/arch[/variant]");
  }
  for (auto& part : parts)
    for (char c : part)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.')
        bad(s, "unexpected character '" + std::string(1, c) + "'");
  return normalize(p);
}

Platform host() {
  struct utsname u {};
  ::uname(&u);
  Platform p;
  p.os = "linux";
  p.architecture = u.machine;
  return normalize(p);
}

bool matches(const Platform& want_in, const Platform& have_in) {
  Platform want = normalize(want_in), have = normalize(have_in);
  if (want.os != have.os || want.architecture != have.architecture) return false;
  if (!want.os_version.empty() && want.os_version != have.os_version) return false;
  if (want.variant.empty() || want.variant == have.variant) return true;
  if (want.architecture == "arm64") return (want.variant == "v8" && have.variant.empty());
  if (want.architecture == "arm") {
    int w = arm_level(want.variant), h = arm_level(have.variant);
    return w > 0 && h > 0 && h <= w;
  }
  return false;
}

nlohmann::json to_json(const Platform& p) {
  nlohmann::json j = nlohmann::json::object();
  j["architecture"] = p.architecture;
  j["os"] = p.os;
  if (!p.os_version.empty()) j["os.version"] = p.os_version;
  if (!p.os_features.empty()) j["os.features"] = p.os_features;
  if (!p.variant.empty()) j["variant"] = p.variant;
  return j;
}

Platform from_json(const nlohmann::json& j) {
  auto bad_json = [](const std::string& why) { fail(Errc::invalid, "invalid platform: " + why); };
  if (!j.is_object()) bad_json("not an object");
  Platform p;
  auto str_field = [&](const char* key, std::string& out, bool required) {
    auto it = j.find(key);
    if (it == j.end()) {
      if (required) bad_json(std::string("missing \"") + key + "\"");
      return;
    }
    if (!it->is_string()) bad_json(std::string("\"") + key + "\" must be a string");
    out = it->get<std::string>();
  };
  str_field("architecture", p.architecture, true);
  str_field("os", p.os, true);
  str_field("variant", p.variant, false);
  str_field("os.version", p.os_version, false);
  if (auto it = j.find("os.features"); it != j.end()) {
    if (!it->is_array()) bad_json("\"os.features\" must be an array of strings");
    for (const auto& f : *it) {
      if (!f.is_string()) bad_json("\"os.features\" must be an array of strings");
      p.os_features.push_back(f.get<std::string>());
    }
  }
  return p;
}

}  // namespace ocikit::platform
