#include "common/ssh.hpp"

#include <doctest/doctest.h>
#include <cstdlib>

#include "common/error.hpp"

using namespace ocikit;

TEST_CASE("ssh: parse_url takes docker's ssh://[user@]host[:port][/path]") {
  struct Case {
    const char* in;
    const char* user;
    const char* host;
    int port;
    const char* path;
  };
  for (const Case& c : {Case{"ssh://h", "", "h", 0, ""}, Case{"ssh://root@10.202.0.2", "root", "10.202.0.2", 0, ""},
                        Case{"ssh://u@host.example:2222/img:1", "u", "host.example", 2222, "img:1"},
                        Case{"ssh://[fd00::2]:22/a/b", "", "fd00::2", 22, "a/b"}}) {
    CAPTURE(c.in);
    ssh::Address a = ssh::parse_url(c.in);
    CHECK(a.user == c.user);
    CHECK(a.host == c.host);
    CHECK(a.port == c.port);
    CHECK(a.path == c.path);
  }
  CHECK(ssh::parse_url("ssh://u@[fd00::2]:2222").str() == "ssh://u@[fd00::2]:2222");
}

TEST_CASE("ssh: parse_url refuses what could read as an option or escape") {
  for (const char* in : {"ssh://-oProxyCommand=x", "ssh://-l@h", "ssh://u@-h", "ssh://h:0", "ssh://h:65536",
                         "ssh://h:x", "ssh://h:", "ssh://", "ssh://@h", "ssh://a b", "ssh://h;rm", "ssh://h/../x",
                         "ssh://h\n", "http://h", "ssh://[::1", "ssh://$(id)@h"}) {
    CAPTURE(in);
    CHECK_THROWS_AS(ssh::parse_url(in), Error);
  }
  try {
    ssh::parse_url("ssh://h:99999");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "invalid ssh address \"ssh://h:99999\": bad port");
  }
}

TEST_CASE("ssh: shell_quote survives a POSIX shell") {
  CHECK(ssh::shell_quote("abc-1.2/x:y=z") == "abc-1.2/x:y=z");
  CHECK(ssh::shell_quote("") == "''");
  CHECK(ssh::shell_quote("a b") == "'a b'");
  CHECK(ssh::shell_quote("it's") == "'it'\\''s'");
  CHECK(ssh::shell_quote("$(id);`x`") == "'$(id);`x`'");
}

TEST_CASE("ssh: command puts the host after -- and the remote words on one quoted line") {
  unsetenv("OCIKIT_SSH_CONFIG");
  setenv("OCIKIT_SSH_COMMAND", "ssh -F /c  -i /k", 1);
  ssh::Address a = ssh::parse_url("ssh://root@h:2200");
  auto argv = ssh::command(a, {"oci-run", "run", "sh", "-c", "exit 7"}, {true, true});
  std::vector<std::string> want = {"ssh", "-F", "/c", "-i", "/k", "-o", "ConnectTimeout=10", "-o", "BatchMode=yes",
                                   "-t", "-p", "2200", "-l", "root", "--", "h", "oci-run run sh -c 'exit 7'"};
  CHECK(argv == want);
  unsetenv("OCIKIT_SSH_COMMAND");
  setenv("OCIKIT_SSH_CONFIG", "/cfg", 1);
  argv = ssh::command(ssh::parse_url("ssh://h"), {"x"});
  want = {"ssh", "-F", "/cfg", "-o", "ConnectTimeout=10", "-T", "--", "h", "x"};
  CHECK(argv == want);
  unsetenv("OCIKIT_SSH_CONFIG");
}

TEST_CASE("ssh: session tokens are 32 lowercase hex characters, fresh each time; nothing else passes") {
  std::string a = ssh::new_session_token(), b = ssh::new_session_token();
  CHECK(a.size() == 32);
  CHECK(ssh::is_session_token(a));
  CHECK(ssh::is_session_token(b));
  CHECK(a != b);
  CHECK(ssh::is_session_token("0123456789abcdef0123456789abcdef"));
  for (const char* bad : {"", "0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdef0",
                          "0123456789ABCDEF0123456789abcdef", "../../../../etc/passwd/aaaaaaaaaa",
                          "0123456789abcdef0123456789abcde/", "0123456789abcdef0123456789abcde\n",
                          "0123456789abcdef 123456789abcdef", "g123456789abcdef0123456789abcdef"}) {
    CAPTURE(bad);
    CHECK_FALSE(ssh::is_session_token(bad));
  }
  CHECK_FALSE(ssh::is_session_token(std::string_view("0123456789abcdef\0" "123456789abcdef", 32)));
}
