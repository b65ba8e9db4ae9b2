// oci-run manage/attach: the monitor's frames and the detach keys.
#include "manage/monitor_protocol.hpp"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "common/error.hpp"

using namespace ocikit;
using namespace ocikit::manage;

TEST_CASE("manage_attach: frames survive a socket in pieces") {
  int sv[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  CHECK(write_frame(sv[0], Frame::kHello, "{\"stdin\":true}"));
  CHECK(write_frame(sv[0], Frame::kStdin, ""));
  CHECK(write_frame(sv[0], Frame::kSignal, "15"));
  close(sv[0]);
  FrameReader rd;
  std::vector<std::pair<Frame, std::string>> got;
  while (rd.fill(sv[1]))
    while (auto f = rd.next()) got.push_back(*f);
  close(sv[1]);
  REQUIRE(got.size() == 3);
  CHECK(got[0].first == Frame::kHello);
  CHECK(got[0].second == "{\"stdin\":true}");
  CHECK(got[1].first == Frame::kStdin);
  CHECK(got[1].second.empty());
  CHECK(got[2].second == "15");
  // A frame split anywhere waits for its rest.
  FrameReader part;
  std::string raw = std::string("\x01\x05\x00\x00\x00", 5) + "hello";
  for (size_t i = 0; i < raw.size(); i++) {
    CHECK_FALSE(part.next().has_value());
    part.feed(&raw[i], 1);
  }
  auto f = part.next();
  REQUIRE(f.has_value());
  CHECK(f->first == Frame::kStdout);
  CHECK(f->second == "hello");
}

TEST_CASE("manage_attach: detach keys") {
  CHECK(parse_detach_keys("ctrl-p,ctrl-q") == "\x10\x11");
  CHECK(parse_detach_keys("ctrl-a") == "\x01");
  CHECK(parse_detach_keys("x,ctrl-[") == "x\x1b");
  for (const char* bad : {"ctrl-", "ctrl-1", "abc", ""}) {
    CAPTURE(bad);
    try {
      parse_detach_keys(bad);
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::usage);
      CHECK(std::string(e.what()).rfind("invalid detach keys \"" + std::string(bad) + "\"", 0) == 0);
    }
  }
}
