#pragma once
// oci-build's git sources for `ADD <git ref> <dir>`, as BuildKit takes them:
// "https://host/repo.git#REF:SUBDIR", "git://host/repo#REF",
// "ssh://git@host/repo.git", "git@host:repo.git#REF". REF is a branch, a
// tag or a full commit id (default: the remote's HEAD); SUBDIR a directory
// of the checkout to add instead of its top. The git command does the work
// (with the user's git configuration; prompts are off), so ssh sources use
// the agent given with --ssh.

#include <string>
#include <string_view>

namespace ocikit::build::git {

struct Ref {
  std::string url;  ///< what git fetches from
  std::string ref;  ///< branch, tag or commit ("" = HEAD)
  std::string subdir;  ///< "" = the whole checkout
};

/// True when an ADD source names a git repository: git@host:path, git:// or
/// ssh:// URLs, and http(s) URLs whose path ends in ".git".
bool is_git_source(std::string_view src);

/// Split a source into URL, ref and subdir. Throws Errc::invalid for an
/// empty URL or a subdir leaving the checkout.
Ref parse(const std::string& src);

/// The commit `r.ref` names on the remote (`git ls-remote`; a tag's commit,
/// not the tag object); a full 40-digit commit id is taken as is. ssh_sock:
/// the ssh agent for ssh URLs ("" = as in the environment). Throws
/// Errc::not_found when the remote has no such ref, Errc::failure with
/// git's message when git fails.
std::string resolve(const Ref& r, const std::string& ssh_sock);

/// Fetch `commit` of `r.url` (shallow where the server allows it) into the
/// new directory `dir` and check it out with its submodules. The .git
/// directory stays; the caller drops it unless --keep-git-dir.
void checkout(const Ref& r, const std::string& commit, const std::string& dir, const std::string& ssh_sock);

}  // namespace ocikit::build::git
