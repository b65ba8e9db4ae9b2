// oci-build's git sources (see git.hpp).
#include "git.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

#include "common/error.hpp"
#include "common/process.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"
#include "common/text.hpp"

extern char** environ;

namespace ocikit::build::git {

namespace {

bool is_hex_commit(const std::string& s) {
  return s.size() == 40 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

bool is_ssh(const std::string& url) { return url.rfind("git@", 0) == 0 || url.rfind("ssh://", 0) == 0; }

struct Output {
  int status = 0;  ///< exit status, -1 when killed
  std::string out, err;
};

// Run git with `args` (no shell): stdin /dev/null, stdout and stderr
// captured, prompts off, SSH_AUTH_SOCK = ssh_sock when given.
Output run_git(const std::vector<std::string>& args, const std::string& ssh_sock) {
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) {
    std::string_view v(*e);
    if (v.starts_with("GIT_TERMINAL_PROMPT=") || (!ssh_sock.empty() && v.starts_with("SSH_AUTH_SOCK="))) continue;
    env_s.emplace_back(v);
  }
  env_s.emplace_back("GIT_TERMINAL_PROMPT=0");
  if (!ssh_sock.empty()) env_s.push_back("SSH_AUTH_SOCK=" + ssh_sock);
  std::vector<std::string> argv = {"git"};
  argv.insert(argv.end(), args.begin(), args.end());
  process::Spec spec{.argv = argv, .env = env_s};
  Output r;
  try {
    auto o = process::capture(spec);
    r.status = o.status >= 128 ? -1 : o.status;
    r.out = std::move(o.out);
    r.err = std::move(o.err);
  } catch (const Error& e) {
    if (e.code() != Errc::io) throw;
    r.status = 127;
    r.err = "cannot run git: not installed?\n";
  }
  return r;
}

// What git said on stderr, on one line: from its first "fatal:" or
// "error:" line on (it may continue on the next ones), else its last line.
std::string git_message(const std::string& err) {
  std::vector<std::string> lines;
  for (auto& line : text::split(err, '\n')) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  if (lines.empty()) return "git failed";
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!lines[i].starts_with("fatal:") && !lines[i].starts_with("error:")) continue;
    std::string msg = lines[i];
    for (size_t k = i + 1; k < lines.size(); ++k) msg += " " + lines[k];
    return msg;
  }
  return lines.back();
}

Output must(const std::vector<std::string>& args, const std::string& ssh_sock, const std::string& what) {
  Output r = run_git(args, ssh_sock);
  if (r.status != 0) fail(what + ": " + git_message(r.err));
  return r;
}

}  // namespace

bool is_git_source(std::string_view src) {
  if (src.starts_with("git@") || src.starts_with("git://") || src.starts_with("ssh://")) return true;
  if (!src.starts_with("http://") && !src.starts_with("https://")) return false;
  std::string_view path = src.substr(0, src.find_first_of("#?"));
  return path.ends_with(".git") || path.ends_with(".git/");
}

Ref parse(const std::string& src) {
  Ref r;
  auto hash = src.find('#');
  r.url = src.substr(0, hash);
  if (hash != std::string::npos) {
    std::string frag = src.substr(hash + 1);
    auto colon = frag.find(':');
    r.ref = frag.substr(0, colon);
    if (colon != std::string::npos) r.subdir = frag.substr(colon + 1);
  }
  if (r.url.empty() || r.url == "git@") fail(Errc::invalid, "ADD " + src + ": no repository URL");
  if (!r.subdir.empty()) {
    std::string clean = fs::clean_path(r.subdir);
    if (clean == ".." || clean.starts_with("../"))
      fail(Errc::invalid, "ADD " + src + ": subdir \"" + r.subdir + "\" leaves the repository");
    if (clean.starts_with("/")) clean.erase(0, 1);
    r.subdir = clean == "." ? "" : clean;
  }
  return r;
}

std::string resolve(const Ref& r, const std::string& ssh_sock) {
  if (is_hex_commit(r.ref)) return r.ref;
  std::string want = r.ref.empty() ? "HEAD" : r.ref;
  std::string sock = is_ssh(r.url) ? ssh_sock : "";
  Output o = must({"ls-remote", "--", r.url, want}, sock, "ADD " + r.url);
  // Lines "COMMIT<TAB>REFNAME"; a tag's own commit is its peeled "^{}" line.
  std::string best;
  int best_rank = 0;
  for (const auto& line : text::split(o.out, '\n')) {
    auto tab = line.find('\t');
    if (tab == std::string::npos) continue;
    std::string id = line.substr(0, tab), name = line.substr(tab + 1);
    int rank = 0;
    if (name == want) rank = 4;
    else if (name == "refs/tags/" + want + "^{}") rank = 5;
    else if (name == "refs/heads/" + want) rank = 3;
    else if (name == "refs/tags/" + want) rank = 2;
    if (rank > best_rank && is_hex_commit(id)) {
      best = id;
      best_rank = rank;
    }
  }
  if (best.empty())
    fail(Errc::not_found,
         "ADD " + r.url + ": no branch or tag \"" + want + "\" there" +
             (want.find_first_not_of("0123456789abcdef") == std::string::npos ? " (a commit needs its full 40-digit id)"
                                                                              : ""));
  return best;
}

void checkout(const Ref& r, const std::string& commit, const std::string& dir, const std::string& ssh_sock) {
  std::string sock = is_ssh(r.url) ? ssh_sock : "";
  std::string what = "ADD " + r.url;
  must({"init", "-q", dir}, "", what);
  // Shallow by name (or by id, which servers may refuse); else everything
  // (dumb http, old servers), then the commit.
  std::string by = r.ref.empty() || is_hex_commit(r.ref) ? commit : r.ref;
  Output o = run_git({"-C", dir, "fetch", "-q", "--depth", "1", "--no-tags", "--", r.url, by}, sock);
  if (o.status != 0) {
    log::debug(what + ": shallow fetch failed (" + git_message(o.err) + "); fetching all");
    must({"-C", dir, "fetch", "-q", "--tags", "--", r.url, "+refs/heads/*:refs/remotes/origin/*"}, sock, what);
  }
  Output c = run_git({"-C", dir, "cat-file", "-e", commit + "^{commit}"}, "");
  if (c.status != 0) fail(what + ": commit " + commit + " not found (did \"" + r.ref + "\" move?)");
  must({"-C", dir, "-c", "advice.detachedHead=false", "checkout", "-q", commit}, "", what);
  if (fs::exists(dir + "/.gitmodules"))
    must({"-C", dir, "submodule", "update", "-q", "--init", "--recursive", "--depth", "1"}, sock,
         what + ": submodules");
  if (!r.subdir.empty()) {
    // A directory of the checkout itself: not through a symlink out of it.
    char* top = ::realpath(dir.c_str(), nullptr);
    char* sub = ::realpath((dir + "/" + r.subdir).c_str(), nullptr);
    std::string t = top ? top : "", u = sub ? sub : "";
    std::free(top);
    std::free(sub);
    struct stat st {};
    if (u.empty() || ::stat(u.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      fail(Errc::not_found, what + ": no directory \"" + r.subdir + "\" in commit " + commit);
    if (t.empty() || !u.starts_with(t + "/"))
      fail(Errc::invalid, what + ": \"" + r.subdir + "\" leads out of the repository");
  }
}

}  // namespace ocikit::build::git
