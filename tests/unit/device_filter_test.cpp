#include "common/device_filter.hpp"

#include <doctest/doctest.h>

#include <string>

#include "common/error.hpp"

using namespace ocikit;
using json = nlohmann::json;

namespace {

// The last two instructions: r0 = IMM; exit.
int verdict_at_end(const std::vector<bpf_insn>& p) {
  REQUIRE(p.size() >= 2);
  CHECK(p.back().code == (BPF_JMP | BPF_EXIT));
  return p[p.size() - 2].imm;
}

}  // namespace

TEST_CASE("device_filter: no rules deny everything") {
  auto p = device_filter::build_program(json::array());
  CHECK(p.size() == 8);  // 6 loads of the context, r0 = 0, exit
  CHECK(verdict_at_end(p) == 0);
}

TEST_CASE("device_filter: a rule matching everything ends the program") {
  // docker's defaults start with deny-all: the program checks the later
  // rules first and falls through to that rule, which returns 0 at once.
  json rules = json::parse(R"([{"allow":false,"access":"rwm"},
                               {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}])");
  auto p = device_filter::build_program(rules);
  // 6 loads; the c 1:3 rule: 3 compares, r0 = 1, exit; the deny-all: r0 = 0, exit.
  CHECK(p.size() == 6 + 5 + 2);
  CHECK(verdict_at_end(p) == 0);
  CHECK(p[6].code == (BPF_JMP | BPF_JNE | BPF_K));
  CHECK(p[6].imm == BPF_DEVCG_DEV_CHAR);
  CHECK(p[6].off == 4);  // to the next rule
  CHECK(p[9].imm == 1);  // allow
  // A later allow-all makes the earlier rules unreachable: nothing after it.
  auto q = device_filter::build_program(json::parse(R"([{"allow":false},{"allow":true}])"));
  CHECK(q.size() == 8);
  CHECK(verdict_at_end(q) == 1);
}

TEST_CASE("device_filter: partial access is a subset check") {
  auto p = device_filter::build_program(json::parse(R"([{"allow":true,"type":"b","access":"r"}])"));
  // type compare, mov, and, jne (access), r0 = 1, exit, then default deny.
  CHECK(p.size() == 6 + 6 + 2);
  CHECK(p[8].imm == BPF_DEVCG_ACC_READ);
}

TEST_CASE("device_filter: malformed rules are errors") {
  auto err = [](const char* text) {
    try {
      device_filter::build_program(json::parse(text));
    } catch (const Error& e) {
      CHECK(e.code() == Errc::invalid);
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(err(R"({"allow":true})") == "linux.resources.devices: expected an array");
  CHECK(err(R"([{"type":"c"}])") == "devices: \"allow\" is required");
  CHECK(err(R"([{"allow":true,"type":"x"}])") == "devices: invalid device type \"x\"");
  CHECK(err(R"([{"allow":true,"access":"rwx"}])") == "devices: invalid access \"rwx\"");
  CHECK(err(R"([7])") == "devices: expected an object, got 7");
}
