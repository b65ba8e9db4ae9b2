#pragma once
// A scripted http::Transport for unit tests: a handler decides each answer,
// and every request is recorded.
#include <functional>
#include <mutex>
#include <vector>

#include "common/error.hpp"
#include "common/http.hpp"

namespace ocikit::testing {

struct FakeTransport : http::Transport {
  /// Returns the response; to deliver a body to a sink, fill Response::body
  /// with a 2xx status (the fake feeds it to the sink as curl would).
  std::function<http::Response(const http::Request&)> handler;
  std::vector<http::Request> seen;
  std::mutex mu;

  http::Response perform(const http::Request& req) override {
    {
      std::lock_guard lk(mu);
      seen.push_back(req);
    }
    http::Response r = handler(req);
    if (r.ok() && req.on_status) req.on_status(r.status);
    if (r.ok() && req.sink && !r.body.empty()) {
      req.sink(r.body.data(), r.body.size());
      r.body.clear();
    }
    return r;
  }
};

inline http::Response resp(long status, std::string body = "", http::Headers h = {}) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(h);
  return r;
}

}  // namespace ocikit::testing
