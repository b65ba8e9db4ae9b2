// Distribution-spec registry client (see registry.hpp).
#include "common/registry.hpp"

#include <algorithm>
#include <chrono>
#include <set>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/digest.hpp"
#include "common/error.hpp"
#include "common/log.hpp"

namespace ocikit::registry {
namespace {

bool is_digest_ref(const std::string& ref) { return ref.find(':') != std::string::npos; }

std::string pull_scope(const std::string& repo) { return auth::repository_scope(repo, false); }
std::string push_scope(const std::string& repo) { return auth::repository_scope(repo, true); }

std::string strip_params(std::string ct) {
  if (auto semi = ct.find(';'); semi != std::string::npos) ct.resize(semi);
  while (!ct.empty() && ct.back() == ' ') ct.pop_back();
  return ct;
}

}  // namespace

std::string manifest_accept() {
  return std::string(kOciIndex) + ", " + std::string(kOciManifest) + ", " + std::string(kDockerList) + ", " +
      std::string(kDockerManifest);
}

Client::Client(std::string host, http::Transport& t, auth::Credentials creds, Options o)
    : host_(std::move(host)), transport_(t), auth_(t, std::move(creds), o.retry), opts_(std::move(o)) {
  std::string scheme = opts_.scheme.empty() ? http::default_scheme(host_) : opts_.scheme;
  // docker.io is the reference name; the API lives on registry-1.docker.io.
  std::string api_host = host_ == "docker.io" || host_ == "index.docker.io" ? "registry-1.docker.io" : host_;
  base_ = scheme + "://" + api_host;
}

std::string Client::url(std::string_view path) const { return base_ + std::string(path); }

std::string Client::repo_scope(const std::string& repo) const {
  return opts_.push ? push_scope(repo) : pull_scope(repo);
}

std::string Client::resolve_location(const std::string& loc) const {
  if (loc.empty()) fail(Errc::invalid, host_ + ": upload response without a Location header");
  if (loc.starts_with("http://") || loc.starts_with("https://")) return loc;
  if (loc.starts_with("/")) return base_ + loc;
  return base_ + "/" + loc;
}

bool Client::same_origin(const std::string& u) const {
  // Scheme, host and port exactly as the registry's own base URL.
  if (!u.starts_with(base_)) return false;
  return u.size() == base_.size() || u[base_.size()] == '/' || u[base_.size()] == '?';
}

http::Response Client::send(http::Request req, const std::string& scope) {
  if (!req.url.starts_with("http://") && !req.url.starts_with("https://")) req.url = url(req.url);
  // An absolute Location or Link elsewhere (a storage backend, another
  // registry) is followed without the registry's credentials or token:
  // they go only to the scheme, host and port they were issued for.
  if (!same_origin(req.url)) {
    http::Response r = http::perform_with_retry(transport_, req, opts_.retry);
    if (r.status == 401)
      fail(Errc::unauthorized, req.url + ": unauthorized (credentials are only sent to " + base_ + ")");
    return r;
  }
  size_t nheaders = req.headers.size();
  for (int round = 0;; ++round) {
    req.headers.resize(nheaders);
    std::string sent = auth_.authorization(scope);
    if (!sent.empty()) req.headers.emplace_back("Authorization", sent);
    http::Response r = http::perform_with_retry(transport_, req, opts_.retry);
    if (r.status != 401) return r;
    // Another thread may have answered the challenge meanwhile: try its answer.
    if (round < 2 && auth_.authorization(scope) != sent) continue;
    if (round >= 2 || !auth_.handle_challenge(r, scope, sent))
      fail(Errc::unauthorized, host_ + ": unauthorized: " + http::describe_status(r));
  }
}

Manifest Client::get_manifest(const std::string& repo, const std::string& ref) {
  std::string where = host_ + "/" + repo + (is_digest_ref(ref) ? "@" : ":") + ref;
  http::Request req;
  req.url = "/v2/" + repo + "/manifests/" + ref;
  req.headers.emplace_back("Accept", manifest_accept());
  std::string body;
  req.sink = [&](const char* d, size_t n) {
    if (body.size() + n > opts_.max_manifest_size)
      fail(Errc::invalid,
           "manifest " + where + " is larger than " + std::to_string(opts_.max_manifest_size) + " bytes");
    body.append(d, n);
  };
  http::Response r = send(std::move(req), repo_scope(repo));
  if (r.status == 404) fail(Errc::not_found, "manifest " + where + " not found: " + http::describe_status(r));
  if (!r.ok()) fail("get manifest " + where + ": " + http::describe_status(r));
  Manifest m;
  m.body = std::move(body);
  if (is_digest_ref(ref)) {
    digest::Digest want = digest::parse(ref);
    digest::Digest got = digest::of(m.body, want.algorithm);
    if (got != want) fail(Errc::invalid, "manifest " + where + ": digest mismatch (content is " + got.str() + ")");
    m.digest = want.str();
  } else {
    m.digest = digest::of(m.body).str();
  }
  m.media_type = strip_params(r.header("Content-Type"));
  bool known = m.media_type == kOciIndex || m.media_type == kOciManifest || m.media_type == kDockerList ||
      m.media_type == kDockerManifest;
  if (!known) {
    // Some registries answer application/json; the document names itself.
    auto j = nlohmann::json::parse(m.body, nullptr, false);
    if (j.is_object() && j.contains("mediaType") && j["mediaType"].is_string())
      m.media_type = j["mediaType"].get<std::string>();
  }
  return m;
}

std::optional<Head> Client::head_manifest(const std::string& repo, const std::string& ref) {
  http::Request req;
  req.method = "HEAD";
  req.url = "/v2/" + repo + "/manifests/" + ref;
  req.headers.emplace_back("Accept", manifest_accept());
  http::Response r = send(std::move(req), repo_scope(repo));
  if (r.status == 404) return std::nullopt;
  if (!r.ok()) fail("head manifest " + host_ + "/" + repo + ":" + ref + ": " + http::describe_status(r));
  return Head{r.header("Docker-Content-Digest"), strip_params(r.header("Content-Type")),
              static_cast<uint64_t>(std::strtoull(r.header("Content-Length").c_str(), nullptr, 10))};
}

std::string Client::put_manifest(const std::string& repo, const std::string& ref, std::string_view media_type,
                                 const std::string& body) {
  http::Request req;
  req.method = "PUT";
  req.url = "/v2/" + repo + "/manifests/" + ref;
  req.headers.emplace_back("Content-Type", std::string(media_type));
  req.body = body;
  http::Response r = send(std::move(req), push_scope(repo));
  std::string where = host_ + "/" + repo + (is_digest_ref(ref) ? "@" : ":") + ref;
  if (!r.ok()) fail("put manifest " + where + ": " + http::describe_status(r));
  std::string d = digest::of(body).str();
  if (std::string h = r.header("Docker-Content-Digest"); !h.empty() && h != d)
    fail(Errc::invalid, "put manifest " + where + ": registry reports digest " + h + ", expected " + d);
  return d;
}

std::optional<Head> Client::head_blob(const std::string& repo, const std::string& digest) {
  http::Request req;
  req.method = "HEAD";
  req.url = "/v2/" + repo + "/blobs/" + digest;
  http::Response r = send(std::move(req), repo_scope(repo));
  if (r.status == 404) return std::nullopt;
  if (!r.ok()) fail("head blob " + digest + " in " + host_ + "/" + repo + ": " + http::describe_status(r));
  return Head{r.header("Docker-Content-Digest"), strip_params(r.header("Content-Type")),
              static_cast<uint64_t>(std::strtoull(r.header("Content-Length").c_str(), nullptr, 10))};
}

void Client::fetch_blob(const std::string& repo, const std::string& digest, int64_t size, const http::Sink& sink,
                        const Progress& progress, bool verify) {
  log::debug("fetch blob " + digest + " from " + host_ + "/" + repo);
  fetch("/v2/" + repo + "/blobs/" + digest, &repo, host_ + "/" + repo, digest, size, sink, progress, verify);
}

void Client::fetch_url(const std::string& url, const std::string& digest, int64_t size, const http::Sink& sink,
                       const Progress& progress, bool verify) {
  if (!url.starts_with("http://") && !url.starts_with("https://"))
    fail(Errc::invalid, "blob " + digest + ": unsupported URL " + url + " (only http and https)");
  log::debug("fetch blob " + digest + " from " + url);
  fetch(url, nullptr, url, digest, size, sink, progress, verify);
}

void Client::fetch(const std::string& url, const std::string* repo, const std::string& where, const std::string& digest,
                   int64_t size, const http::Sink& sink, const Progress& progress, bool verify) {
  digest::Digest want = digest::parse(digest);
  digest::Hasher hasher(want.algorithm);
  uint64_t received = 0;  // bytes hashed and handed to the sink
  int delay = opts_.retry.base_delay_ms;
  for (int attempt = 1;; ++attempt) {
    uint64_t skip = 0;  // bytes of a restarted (200) answer we already have
    http::Request req;
    req.url = url;
    if (received > 0) req.headers.emplace_back("Range", "bytes=" + std::to_string(received) + "-");
    req.on_status = [&](long status) {
      // A server that ignores Range sends the whole blob again (200).
      skip = (received > 0 && status == 200) ? received : 0;
    };
    req.sink = [&](const char* d, size_t n) {
      if (skip > 0) {
        size_t drop = static_cast<size_t>(std::min<uint64_t>(skip, n));
        skip -= drop;
        d += drop;
        n -= drop;
        if (n == 0) return;
      }
      if (size >= 0 && received + n > static_cast<uint64_t>(size))
        fail(Errc::invalid,
             "blob " + digest + ": size mismatch (more than the expected " + std::to_string(size) + " bytes)");
      if (verify) hasher.update(d, n);
      sink(d, n);
      received += n;
      if (progress) progress(received);
    };
    try {
      // Registry credentials go to the registry only, never to a layer's URL.
      http::Response r =
          repo ? send(std::move(req), repo_scope(*repo)) : http::perform_with_retry(transport_, req, opts_.retry);
      if (r.status == 404) fail(Errc::not_found, "blob " + digest + " not found in " + where);
      if (r.status == 416 && received > 0)
        fail(Errc::invalid, "blob " + digest + ": " + where + " refused to resume at byte " + std::to_string(received));
      if (!r.ok()) fail("get blob " + digest + " from " + where + ": " + http::describe_status(r));
      break;
    } catch (const Error& e) {
      // Connection failures are retried from where the data stopped.
      if (e.code() != Errc::io || attempt >= opts_.retry.attempts) throw;
      log::info(std::string(e.what()) + "; resuming at byte " + std::to_string(received));
      std::this_thread::sleep_for(std::chrono::milliseconds(delay));
      delay = std::min(delay * 2, opts_.retry.max_delay_ms);
    }
  }
  if (size >= 0 && received != static_cast<uint64_t>(size))
    fail(Errc::invalid,
         "blob " + digest + ": size mismatch (got " + std::to_string(received) + " bytes, expected " +
             std::to_string(size) + ")");
  if (!verify) return;
  digest::Digest got = hasher.finish();
  if (got != want) fail(Errc::invalid, "blob " + digest + ": digest mismatch (content is " + got.str() + ")");
}

bool Client::push_blob(const std::string& repo, const std::string& digest, uint64_t size, int fd,
                       const std::vector<std::string>& mount_from, const Progress& progress) {
  return upload(repo, digest, size, fd, nullptr, mount_from, progress);
}

void Client::push_blob_data(const std::string& repo, const std::string& digest, const std::string& data) {
  upload(repo, digest, data.size(), -1, &data, {}, {});
}

bool Client::upload(const std::string& repo, const std::string& digest, uint64_t size, int fd, const std::string* data,
                    const std::vector<std::string>& mount_from, const Progress& progress) {
  std::string scope = push_scope(repo);
  std::string where = "blob " + digest + " to " + host_ + "/" + repo;
  std::string location;
  for (const auto& from : mount_from) {
    if (from == repo) continue;
    http::Request req;
    req.method = "POST";
    req.url = "/v2/" + repo + "/blobs/uploads/?mount=" + digest + "&from=" + from;
    // The token must allow pulling from the source repository too. A mount
    // the credentials do not allow is no error: the blob is uploaded.
    http::Response r;
    try {
      r = send(std::move(req), scope + " " + pull_scope(from));
    } catch (const Error& e) {
      if (e.code() != Errc::unauthorized) throw;
      log::debug("mount " + digest + " from " + from + ": " + e.what());
      continue;
    }
    if (r.status == 201) {
      log::debug("mounted " + digest + " from " + from);
      if (progress) progress(size);
      return true;
    }
    if (r.status == 202) {  // not mountable: the registry opened an upload instead
      log::debug("mount " + digest + " from " + from + ": declined, the registry opened an upload");
      location = resolve_location(r.header("Location"));
      break;
    }
  }
  if (location.empty()) {
    http::Request req;
    req.method = "POST";
    req.url = "/v2/" + repo + "/blobs/uploads/";
    http::Response r = send(std::move(req), scope);
    if (r.status != 202 && r.status != 201) fail("push " + where + ": start upload: " + http::describe_status(r));
    location = resolve_location(r.header("Location"));
  }
  auto with_query = [](const std::string& loc, const std::string& q) {
    return loc + (loc.find('?') == std::string::npos ? "?" : "&") + q;
  };
  uint64_t off = 0;
  if (size > opts_.chunk_size) {
    // PATCH every chunk but the last; the closing PUT carries that one (one
    // request, and one registry-side fsync and hash-state save, less per blob).
    while (size - off > opts_.chunk_size) {
      uint64_t n = std::min<uint64_t>(opts_.chunk_size, size - off);
      http::Request req;
      req.method = "PATCH";
      req.url = location;
      req.headers.emplace_back("Content-Type", "application/octet-stream");
      req.headers.emplace_back("Content-Range", std::to_string(off) + "-" + std::to_string(off + n - 1));
      if (data) req.body = data->substr(off, n);
      else {
        req.body_fd = fd;
        req.body_offset = off;
        req.body_length = n;
      }
      http::Response r = send(std::move(req), scope);
      if (r.status != 202)
        fail("push " + where + ": upload chunk at byte " + std::to_string(off) + ": " + http::describe_status(r));
      location = resolve_location(r.header("Location"));
      off += n;
      if (progress) progress(off);
    }
  }
  http::Request req;
  req.method = "PUT";
  req.url = with_query(location, "digest=" + digest);
  req.headers.emplace_back("Content-Type", "application/octet-stream");
  if (off < size) {
    if (data) req.body = data->substr(off);
    else {
      req.body_fd = fd;
      req.body_offset = off;
      req.body_length = size - off;
    }
  }
  http::Response r = send(std::move(req), scope);
  if (r.status != 201) fail("push " + where + ": " + http::describe_status(r));
  if (progress) progress(size);
  return false;
}

std::vector<std::string> Client::list_tags(const std::string& repo) {
  std::vector<std::string> tags;
  std::string next = "/v2/" + repo + "/tags/list";
  constexpr int kMaxTagPages = 100000;
  std::set<std::string> seen = {next};
  int pages = 0;
  while (!next.empty()) {
    http::Request req;
    req.url = next;
    http::Response r = send(std::move(req), repo_scope(repo));
    if (r.status == 404) fail(Errc::not_found, "repository " + host_ + "/" + repo + " not found");
    if (!r.ok()) fail("list tags of " + host_ + "/" + repo + ": " + http::describe_status(r));
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (!j.is_object()) fail(Errc::invalid, "list tags of " + host_ + "/" + repo + ": response is not a JSON object");
    if (j.contains("tags") && j["tags"].is_array())
      for (const auto& t : j["tags"])
        if (t.is_string()) tags.push_back(t.get<std::string>());
    // Link: </v2/repo/tags/list?last=x&n=y>; rel="next". A registry that
    // sends the same page again (or pages without end) is stopped.
    next = http::next_link(r.header("Link"));
    if (!next.empty() && !seen.insert(next).second)
      fail(Errc::invalid, "list tags of " + host_ + "/" + repo + ": the registry's Link header loops back to " + next);
    if (++pages > kMaxTagPages)
      fail(Errc::invalid,
           "list tags of " + host_ + "/" + repo + ": more than " + std::to_string(kMaxTagPages) + " pages");
  }
  return tags;
}

}  // namespace ocikit::registry
