// oci-build: COPY and ADD (see builder.hpp).
//
// The cache key of a COPY is computed before anything is copied: from the
// context, the names, types, modes, link targets and content digests of the
// files it would copy (contents through the stat cache, so unchanged files
// are not read again); from another stage or an image, that source's own key
// (its content follows from it). Only on a miss are the files staged into a
// fresh upper dir that becomes the layer.
//
// ADD from an http(s) URL (docker's rules): the file keeps its name from the
// URL path when the destination is a directory, mode 0600 unless --chmod,
// its mtime from Last-Modified, and is never extracted. Its key part is the
// URL and --checksum when given (then a cached step fetches nothing), else
// the ETag a HEAD request returns, else the content digest (downloaded).
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "builder.hpp"
#include "git.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/http.hpp"
#include "common/layer.hpp"

namespace ocikit::build {
namespace {

struct CopyCtx {
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::optional<mode_t> mode;
  bool use_ignore = false;
  std::string root;  ///< source root (context or a mounted stage rootfs)
  const df::IgnoreMatcher* ignore = nullptr;
};

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> kids;
  DIR* d = ::opendir(path.c_str());
  if (!d) throw_errno("opendir " + path);
  while (auto* de = ::readdir(d)) {
    std::string n = de->d_name;
    if (n != "." && n != "..") kids.push_back(n);
  }
  ::closedir(d);
  std::sort(kids.begin(), kids.end());
  return kids;
}

bool skipped(const CopyCtx& cx, const std::string& rel, const struct stat& st) {
  if (!cx.use_ignore || rel.empty() || !cx.ignore->ignored(rel, S_ISDIR(st.st_mode))) return false;
  // An ignored dir is still walked when an exception may re-include something inside.
  return !S_ISDIR(st.st_mode) || !cx.ignore->may_match_inside(rel);
}

void copy_meta(const std::string& dst, const struct stat& st, const CopyCtx& cx, bool link) {
  if (::lchown(dst.c_str(), cx.uid.value_or(0), cx.gid.value_or(0)) != 0) throw_errno("chown " + dst);
  if (!link && ::chmod(dst.c_str(), cx.mode ? *cx.mode : (st.st_mode & 07777)) != 0) throw_errno("chmod " + dst);
  struct timespec ts[2] = {st.st_mtim, st.st_mtim};
  ::utimensat(AT_FDCWD, dst.c_str(), ts, AT_SYMLINK_NOFOLLOW);
}

void copy_entry(const CopyCtx& cx, const std::string& rel, const std::string& dst) {
  std::string src = cx.root + "/" + rel;
  struct stat st;
  if (::lstat(src.c_str(), &st) != 0) throw_errno("stat " + rel);
  if (skipped(cx, rel, st)) return;
  if (S_ISDIR(st.st_mode)) {
    if (::mkdir(dst.c_str(), 0755) != 0 && errno != EEXIST) throw_errno("mkdir " + dst);
    for (auto& k : list_dir(src)) copy_entry(cx, rel.empty() ? k : rel + "/" + k, dst + "/" + k);
    copy_meta(dst, st, cx, false);
  } else if (S_ISLNK(st.st_mode)) {
    std::string t(static_cast<size_t>(st.st_size) + 1, '\0');
    ssize_t n = ::readlink(src.c_str(), t.data(), t.size());
    if (n < 0) throw_errno("readlink " + rel);
    t.resize(static_cast<size_t>(n));
    ::unlink(dst.c_str());
    if (::symlink(t.c_str(), dst.c_str()) != 0) throw_errno("symlink " + dst);
    copy_meta(dst, st, cx, true);
  } else if (S_ISREG(st.st_mode)) {
    fs::UniqueFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
    if (in.get() < 0) throw_errno("open " + rel);
    ::unlink(dst.c_str());
    fs::UniqueFd out(::open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (out.get() < 0) throw_errno("create " + dst);
    fs::copy_data(in.get(), out.get(), st.st_size, rel);
    copy_meta(dst, st, cx, false);
  }
}

bool is_tar(const std::string& path) {
  fs::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return false;
  unsigned char head[512];
  ssize_t n = ::pread(fd.get(), head, sizeof head, 0);
  if (n < 4) return false;
  if (layer::detect_compression(head, static_cast<size_t>(n)) != layer::Compression::none) return true;
  return n >= 262 && std::memcmp(head + 257, "ustar", 5) == 0;
}

/// The heredoc a "<<EOF" / "<<-EOF" / "<<'EOF'" COPY source names.
const df::Heredoc& find_heredoc(const df::Instruction& e, const std::string& word) {
  std::string name = word.substr(2);
  if (!name.empty() && name[0] == '-') name.erase(0, 1);
  if (name.size() >= 2 && (name[0] == '"' || name[0] == '\'') && name.back() == name[0])
    name = name.substr(1, name.size() - 2);
  for (auto& h : e.heredocs)
    if (h.name == name) return h;
  fail(Errc::invalid, "COPY source \"" + word + "\": no such heredoc");
}

/// An ADD source URL and what is known of it.
struct UrlSource {
  std::string url;
  std::string name;  ///< file name from the URL path ("" when it has none)
  std::string file;  ///< the downloaded file, "" until fetched
  std::string etag;
  std::optional<digest::Digest> content;
  std::optional<time_t> mtime;
};

bool is_url(const std::string& s) { return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0; }

/// The last path segment of `url` (no query or fragment).
std::string url_file_name(const std::string& url) {
  std::string u = url.substr(0, url.find_first_of("?#"));
  size_t host = u.find("://") + 3;
  size_t slash = u.find('/', host);
  if (slash == std::string::npos) return "";
  return u.substr(u.rfind('/') + 1);
}

/// An RFC 7231 date ("Sun, 06 Nov 1994 08:49:37 GMT").
std::optional<time_t> parse_http_date(const std::string& s) {
  struct tm tm = {};
  const char* end = ::strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end) return std::nullopt;
  return ::timegm(&tm);
}

void take_headers(UrlSource& u, const http::Response& r) {
  u.etag = r.header("ETag");
  if (auto t = parse_http_date(r.header("Last-Modified"))) u.mtime = t;
}

/// HEAD `u.url`: its ETag and Last-Modified (a failing HEAD leaves them empty;
/// the GET that follows reports the error).
void head_url(http::Transport& t, UrlSource& u) {
  http::Request req;
  req.method = "HEAD";
  req.url = u.url;
  try {
    auto r = t.perform(req);
    if (r.ok()) take_headers(u, r);
  } catch (const Error&) {
  }
}

/// GET `u.url` into `file`, hashing it with `algo`.
void download_url(http::Transport& t, UrlSource& u, const std::string& file, digest::Algorithm algo) {
  fs::UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (fd.get() < 0) throw_errno("create " + file);
  digest::Hasher h(algo);
  http::Request req;
  req.url = u.url;
  req.sink = [&](const char* data, size_t n) {
    h.update(data, n);
    while (n > 0) {
      ssize_t w = ::write(fd.get(), data, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) throw_errno("write " + file);
      data += w;
      n -= static_cast<size_t>(w);
    }
  };
  auto r = with_context("ADD " + u.url, [&] { return http::perform_with_retry(t, req, http::default_retry_policy()); });
  if (!r.ok()) fail(Errc::failure, "ADD " + u.url + ": " + http::describe_status(r));
  take_headers(u, r);
  u.content = h.finish();
  u.file = file;
}

}  // namespace

/// `rel` resolved inside `root` as BuildKit's scoped resolution does:
/// symlinks are followed (the last component too), but "/" and ".." stop
/// at the root, so a link to "/" in the context names the context's root,
/// never the host's. Returns the resolved path relative to root ("" for it).
std::string Builder::resolve_in_root(const std::string& root, const std::string& rel) {
  std::string host = fs::secure_join(root, rel);
  std::string r = root;
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  return host.size() > r.size() ? host.substr(r.size() + 1) : "";
}

std::string Builder::context_view(const std::string& source, const std::string& dir) {
  std::string rel = resolve_in_root(context_, source);
  std::string full = context_ + (rel.empty() ? "" : "/" + rel);
  if (ignore_.empty()) return full;
  struct stat st;
  if (::lstat(full.c_str(), &st) != 0) throw_errno("RUN --mount source " + source);
  CopyCtx cx;
  cx.use_ignore = true;
  cx.ignore = &ignore_;
  cx.root = context_;
  if (!rel.empty() && ignore_.ignored(rel, S_ISDIR(st.st_mode)) &&
      !(S_ISDIR(st.st_mode) && ignore_.may_match_inside(rel)))
    fail(Errc::not_found, "RUN --mount source \"" + source + "\": excluded by .dockerignore");
  std::string view = dir + "/context";
  if (S_ISDIR(st.st_mode)) fs::mkdir_p(view);
  else fs::mkdir_p(dir);
  copy_entry(cx, rel, view);
  return view;
}

std::vector<Builder::Source> Builder::resolve_sources(const std::string& root, const std::string& pattern) {
  std::string clean = fs::clean_path("/" + pattern).substr(1);
  if (clean.find_first_of("*?[") == std::string::npos) {
    std::string rel = resolve_in_root(root, clean);
    struct stat st;
    if (::lstat((root + "/" + rel).c_str(), &st) != 0)
      fail(Errc::not_found, "COPY source \"" + pattern + "\": no such file or directory in the build context");
    return {{rel, clean.substr(clean.rfind('/') + 1)}};
  }
  std::vector<Source> out;
  std::string dir = clean.rfind('/') == std::string::npos ? "" : clean.substr(0, clean.rfind('/'));
  std::string base = clean.substr(dir.empty() ? 0 : dir.size() + 1);
  if (dir.find_first_of("*?[") != std::string::npos)
    fail(Errc::invalid, "wildcards in directories are not supported: " + pattern);
  std::string rdir = resolve_in_root(root, dir);
  struct stat dst;
  if (::lstat((root + "/" + rdir).c_str(), &dst) == 0 && S_ISDIR(dst.st_mode))
    for (auto& n : list_dir(root + "/" + rdir))
      if (fnmatch(base.c_str(), n.c_str(), FNM_PERIOD) == 0)
        out.push_back({resolve_in_root(root, rdir.empty() ? n : rdir + "/" + n), n});
  if (out.empty()) fail(Errc::not_found, "COPY source \"" + pattern + "\": no source files were specified");
  return out;
}

void Builder::hash_source(digest::Hasher& h, const std::string& root, const std::string& rel, bool use_ignore) {
  std::string path = root + "/" + rel;
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) throw_errno("stat " + rel);
  CopyCtx cx;
  cx.use_ignore = use_ignore;
  cx.ignore = &ignore_;
  if (skipped(cx, rel, st)) return;
  std::string meta = rel + std::string(1, '\0') + std::to_string(st.st_mode) + "\n";
  h.update(meta.data(), meta.size());
  if (S_ISDIR(st.st_mode)) {
    for (auto& k : list_dir(path)) hash_source(h, root, rel.empty() ? k : rel + "/" + k, use_ignore);
  } else if (S_ISLNK(st.st_mode)) {
    char t[4096];
    ssize_t n = ::readlink(path.c_str(), t, sizeof t);
    if (n > 0) h.update(t, static_cast<size_t>(n));
  } else if (S_ISREG(st.st_mode)) {
    std::string hex = stats_.digest(path, st);
    h.update(hex.data(), hex.size());
  }
}

void Builder::copy(const df::Instruction& e, StageState& s, size_t index, bool add) {
  auto co = df::copy_options(e);
  CopyCtx cx;
  cx.ignore = &ignore_;
  if (!co.chown.empty()) {
    auto colon = co.chown.find(':');
    std::string u = co.chown.substr(0, colon), g = colon == std::string::npos ? u : co.chown.substr(colon + 1);
    auto num = [&](const std::string& v) -> uint32_t {
      if (v == "root") return 0;
      if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos)
        fail(Errc::invalid, "--chown: only numeric ids are supported: \"" + co.chown + "\"");
      return static_cast<uint32_t>(std::stoul(v));
    };
    cx.uid = num(u);
    cx.gid = num(g);
  }
  if (!co.chmod.empty()) {
    if (co.chmod.find_first_not_of("01234567") != std::string::npos || co.chmod.size() > 4)
      fail(Errc::invalid, "--chmod: invalid mode \"" + co.chmod + "\"");
    cx.mode = static_cast<mode_t>(std::stoul(co.chmod, nullptr, 8));
  }
  // Heredoc sources become files named after their delimiter.
  std::vector<std::pair<std::string, std::string>> heredocs;
  std::vector<std::string> sources;
  std::vector<UrlSource> urls;
  std::vector<git::Ref> gits;
  for (auto& src : co.sources) {
    if (src.rfind("<<", 0) == 0 && !e.heredocs.empty()) {
      const df::Heredoc& h = find_heredoc(e, src);
      std::string content = h.content;
      if (h.expand) {
        df::LexOptions lo;
        lo.escape = escape_;
        lo.raw_quotes = true;
        lo.raw_escapes = true;
        content = df::expand_word(content, env_lookup(s), lo);
      }
      heredocs.emplace_back(h.name, content);
    } else {
      if (add && git::is_git_source(src)) {
        gits.push_back(git::parse(src));
        continue;
      }
      if (add && is_url(src)) {
        urls.push_back(UrlSource{src, url_file_name(src), "", "", std::nullopt, std::nullopt});
        continue;
      }
      sources.push_back(src);
    }
  }
  std::string dest = abs_in_workdir(s, co.dest);
  // As BuildKit: a dest ending in "/" or "." ("." and ".." included) is a directory.
  auto ends_dot = [](const std::string& d) {
    return d == "." || d == ".." || (d.size() >= 2 && d.compare(d.size() - 2, 2, "/.") == 0) ||
           (d.size() >= 3 && d.compare(d.size() - 3, 3, "/..") == 0);
  };
  bool dest_dir = co.dest.back() == '/' || ends_dot(co.dest) || co.sources.size() > 1 ||
      (!is_url(co.sources[0]) && co.sources[0].find_first_of("*?[") != std::string::npos);

  // ADD URL: --checksum pins the content; otherwise the ETag (or the content) keys it.
  std::optional<digest::Digest> checksum;
  if (!co.checksum.empty()) {
    if (!add) fail(Errc::invalid, "COPY does not take --checksum");
    if (urls.size() != 1 || !sources.empty() || !heredocs.empty())
      fail(Errc::invalid, "ADD --checksum needs exactly one URL source");
    checksum = with_context("ADD --checksum", [&] { return digest::parse(co.checksum); });
  }
  if (!urls.empty() && !co.from.empty()) fail(Errc::invalid, "ADD --from cannot fetch a URL");
  // ADD <git ref> <dir>: the one source; keyed by the commit the ref names now.
  std::string git_commit, git_sock;
  if (!gits.empty()) {
    if (co.sources.size() != 1) fail(Errc::invalid, "ADD of a git repository takes it as the only source");
    if (!co.from.empty() || !co.checksum.empty())
      fail(Errc::invalid, "ADD of a git repository takes no --from or --checksum");
    if (auto it = o_.ssh.find("default"); it != o_.ssh.end()) git_sock = it->second;
    git_commit = git::resolve(gits[0], git_sock);
  }
  std::optional<TempDir> dl;
  std::optional<http::CurlTransport> transport;
  if (!urls.empty()) {
    dl.emplace(tmp_);
    transport.emplace(http::TlsOptions{});
  }
  std::string url_key;
  for (size_t i = 0; i < urls.size(); ++i) {
    auto& u = urls[i];
    url_key += "url " + u.url + std::string(1, '\0');
    if (checksum) {
      url_key += "checksum " + checksum->str();
      continue;
    }
    head_url(*transport, u);
    if (!u.etag.empty()) {
      url_key += "etag " + u.etag;
    } else {
      download_url(*transport, u, dl->path + "/url-" + std::to_string(i), digest::Algorithm::sha256);
      url_key += "content " + u.content->str();
    }
    url_key += std::string(1, '\0');
  }
  if (urls.size() > 1) dest_dir = true;

  // The key.
  StageState img;
  const StageState* from = co.from.empty() ? nullptr : &source_state(co.from, index, img);
  digest::Hasher h(digest::Algorithm::sha256);
  for (auto& [name, content] : heredocs) {
    std::string part = "heredoc " + name + std::string(1, '\0') + content + std::string(1, '\0');
    h.update(part.data(), part.size());
  }
  std::vector<Source> rels;
  if (from) {
    std::string part = "from " + from->key;
    h.update(part.data(), part.size());
  } else {
    for (auto& src : sources) {
      auto r = resolve_sources(context_, src);
      for (auto& [rel, name] : r) {
        struct stat st;
        if (::lstat((context_ + "/" + rel).c_str(), &st) != 0) throw_errno("stat " + rel);
        cx.use_ignore = true;
        if (!rel.empty() && ignore_.ignored(rel, S_ISDIR(st.st_mode)) &&
            !(S_ISDIR(st.st_mode) && ignore_.may_match_inside(rel)))
          fail(Errc::not_found, "COPY source \"" + rel + "\": excluded by .dockerignore");
        std::string part = "source " + rel + std::string(1, '\0');
        h.update(part.data(), part.size());
        hash_source(h, context_, rel, true);
      }
      if (r.size() > 1) dest_dir = true;
      rels.insert(rels.end(), r.begin(), r.end());
    }
  }
  std::string text = std::string(add ? "ADD" : "COPY") + (co.chown.empty() ? "" : " --chown=" + co.chown) +
      (co.chmod.empty() ? "" : " --chmod=" + co.chmod) + (co.from.empty() ? "" : " --from=" + co.from) + " " +
      join(co.sources) + " " + co.dest;
  if (!gits.empty())
    url_key += "git " + gits[0].url + std::string(1, '\0') + git_commit + std::string(1, '\0') + gits[0].subdir +
        (co.keep_git_dir ? std::string(1, '\0') + "keep-git-dir" : "");
  // A dest ending in "." was copied as a file by older oci-builds: such
  // keys differ, so that their cache entries are not reused.
  // A dest spelled as a file that is a directory in the image was replaced
  // by the file by older oci-builds: such keys differ too ("dest-v2").
  std::string key = sha256_str(s.key + "\n" + text + "\n" + h.finish().str() + (url_key.empty() ? "" : "\n" + url_key) +
                               (ends_dot(co.dest) ? "\ndest-dir" : "") + (dest_dir ? "" : "\ndest-v2"));
  std::string created_by = "/bin/sh -c #(nop) " + text;
  if (cache_hit(s, key, created_by)) return;
  for (size_t i = 0; i < urls.size(); ++i) {
    auto& u = urls[i];
    if (u.file.empty())
      download_url(*transport, u, dl->path + "/url-" + std::to_string(i),
                   checksum ? checksum->algorithm : digest::Algorithm::sha256);
    if (checksum && !(*u.content == *checksum))
      fail(Errc::invalid,
           "ADD " + u.url + ": checksum mismatch: expected " + checksum->str() + ", got " + u.content->str());
  }

  // A miss: stage the files.
  TempDir stage(tmp_);
  Mounts from_mount;
  if (from) {
    fs::mkdir_p(stage.path + "/scratch");
    mount_state(*from, stage.path + "/from", stage.path + "/scratch", from_mount);
    cx.root = stage.path + "/from";
    cx.use_ignore = false;
    for (auto& src : sources) {
      auto r = resolve_sources(cx.root, src);
      if (r.size() > 1) dest_dir = true;
      rels.insert(rels.end(), r.begin(), r.end());
    }
  } else {
    cx.root = context_;
    cx.use_ignore = true;
  }
  // As BuildKit and buildah: a dest that is a directory in the image is
  // one, however it is spelled (COPY f /etc puts /etc/f). The stage's file
  // system is looked at (read-only overlay) only when that can matter.
  if (!dest_dir && s.layers.size() > 0) {
    Mounts view;
    fs::mkdir_p(stage.path + "/dest-scratch");
    mount_state(s, stage.path + "/dest-view", stage.path + "/dest-scratch", view);
    struct stat dst {};
    std::string in_view = stage.path + "/dest-view/" + resolve_in_root(stage.path + "/dest-view", dest);
    if (::lstat(in_view.c_str(), &dst) == 0 && S_ISDIR(dst.st_mode)) dest_dir = true;
  }
  std::string upper = stage.path + "/upper";
  fs::mkdir_p(upper);
  std::string dest_in = upper + dest;
  for (auto& [rel, name] : rels) {
    struct stat st;
    std::string full = cx.root + "/" + rel;
    if (::lstat(full.c_str(), &st) != 0) throw_errno("stat " + rel);
    if (S_ISDIR(st.st_mode)) {
      fs::mkdir_p(dest_in);
      copy_entry(cx, rel, dest_in);
    } else if (add && S_ISREG(st.st_mode) && is_tar(full) && co.unpack.value_or(true)) {
      fs::mkdir_p(dest_in);
      fs::UniqueFd fd(::open(full.c_str(), O_RDONLY | O_CLOEXEC));
      if (fd.get() < 0) throw_errno("open " + rel);
      layer::apply(fd.get(), dest_in);
    } else {
      std::string target = dest_dir ? dest_in + "/" + name : dest_in;
      fs::mkdir_p(target.substr(0, target.rfind('/')));
      copy_entry(cx, rel, target);
    }
  }
  for (auto& u : urls) {
    if (dest_dir && u.name.empty())
      fail(Errc::invalid, "ADD " + u.url + ": the URL names no file; give a destination file name");
    std::string target = dest_dir ? dest_in + "/" + u.name : dest_in;
    fs::mkdir_p(target.substr(0, target.rfind('/')));
    if (::rename(u.file.c_str(), target.c_str()) != 0) throw_errno("rename " + u.file + " " + target);
    if (::lchown(target.c_str(), cx.uid.value_or(0), cx.gid.value_or(0)) != 0) throw_errno("chown " + target);
    if (::chmod(target.c_str(), cx.mode.value_or(0600)) != 0) throw_errno("chmod " + target);
    if (u.mtime) {
      struct timespec ts[2] = {{*u.mtime, 0}, {*u.mtime, 0}};
      ::utimensat(AT_FDCWD, target.c_str(), ts, 0);
    }
  }
  if (!gits.empty()) {
    std::string repo = stage.path + "/git";
    git::checkout(gits[0], git_commit, repo, git_sock);
    if (!co.keep_git_dir) fs::remove_all(repo + "/.git");
    CopyCtx gx = cx;
    gx.use_ignore = false;
    gx.root = gits[0].subdir.empty() ? repo : repo + "/" + gits[0].subdir;
    fs::mkdir_p(dest_in);
    copy_entry(gx, "", dest_in);
  }
  for (auto& [name, content] : heredocs) {
    std::string target = dest_dir ? dest_in + "/" + name : dest_in;
    fs::mkdir_p(target.substr(0, target.rfind('/')));
    fs::write_file_atomic(target, content, 0644);
    if (::lchown(target.c_str(), cx.uid.value_or(0), cx.gid.value_or(0)) != 0) throw_errno("chown " + target);
    if (::chmod(target.c_str(), cx.mode.value_or(0644)) != 0) throw_errno("chmod " + target);
  }
  commit_layer(s, upper, key, created_by);
}

}  // namespace ocikit::build
