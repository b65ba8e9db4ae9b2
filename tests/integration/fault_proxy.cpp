// fault_proxy: a tiny HTTP/1.1 forwarder for the oci-fetch/oci-push bats
// tests. It listens on 127.0.0.1 (an ephemeral port, printed on stdout),
// forwards each request to the registry on 127.0.0.1:UPSTREAM over a fresh
// connection with "Connection: close", and misbehaves on the first COUNT
// requests that match:
//
//   fault_proxy UPSTREAM_PORT MODE COUNT
//     cut       GET .../blobs/...: send the headers and half the body, then close
//     corrupt   GET .../blobs/...: flip one byte in the middle of the body
//     500, 429  GET .../blobs/...: answer that status with an empty body
//     badjson   GET .../manifests/...: replace the body with malformed JSON
//     push500   POST/PATCH/PUT .../blobs/uploads/...: answer 500
//     none      forward everything untouched
//
// One request per connection keeps it simple; clients simply reconnect.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

int g_upstream = 0;
std::string g_mode;
std::atomic<int> g_left{0};

bool send_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return s;
}

// Read one request (headers plus Content-Length body) from the client.
bool read_request(int fd, std::string& head, std::string& body) {
  std::string buf;
  char tmp[65536];
  size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
    ssize_t r = recv(fd, tmp, sizeof tmp, 0);
    if (r <= 0) return false;
    buf.append(tmp, static_cast<size_t>(r));
  }
  head = buf.substr(0, end + 2);
  body = buf.substr(end + 4);
  size_t len = 0;
  std::string lh = lower(head);
  if (auto p = lh.find("\r\ncontent-length:"); p != std::string::npos)
    len = std::strtoull(lh.c_str() + p + 17, nullptr, 10);
  while (body.size() < len) {
    ssize_t r = recv(fd, tmp, sizeof tmp, 0);
    if (r <= 0) return false;
    body.append(tmp, static_cast<size_t>(r));
  }
  return true;
}

// Drop the client's Connection header and ask the upstream to close.
std::string rewrite_head(const std::string& head) {
  std::string out;
  size_t pos = 0;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    std::string line = head.substr(pos, e - pos);
    pos = e + 2;
    if (lower(line).rfind("connection:", 0) == 0) continue;
    out += line + "\r\n";
  }
  return out + "Connection: close\r\n\r\n";
}

void handle(int client) {
  std::string head, body;
  if (!read_request(client, head, body)) {
    close(client);
    return;
  }
  std::string first = head.substr(0, head.find("\r\n"));
  bool is_get = first.rfind("GET ", 0) == 0;
  bool blob = is_get && first.find("/blobs/sha256:") != std::string::npos;
  bool manifest = is_get && first.find("/manifests/") != std::string::npos;
  bool upload = !is_get && first.find("/blobs/uploads/") != std::string::npos;
  bool target = g_mode == "badjson" ? manifest : g_mode == "push500" ? upload : blob;
  bool fault = g_mode != "none" && target && g_left.fetch_sub(1) > 0;

  if (fault && (g_mode == "500" || g_mode == "429" || g_mode == "push500")) {
    std::string code = g_mode == "push500" ? "500" : g_mode;
    std::string r = "HTTP/1.1 " + code + (code == "500" ? " Internal Server Error" : " Too Many Requests") +
        "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    send_all(client, r.data(), r.size());
    close(client);
    return;
  }
  int up = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(g_upstream));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(up, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(up);
    close(client);
    return;
  }
  std::string req = rewrite_head(head) + body;
  send_all(up, req.data(), req.size());
  std::string resp;
  char tmp[65536];
  ssize_t r;
  while ((r = recv(up, tmp, sizeof tmp, 0)) > 0) resp.append(tmp, static_cast<size_t>(r));
  close(up);
  size_t hend = resp.find("\r\n\r\n");
  bool ok200 = resp.rfind("HTTP/1.1 200", 0) == 0 || resp.rfind("HTTP/1.1 206", 0) == 0;
  if (fault && ok200 && hend != std::string::npos) {
    size_t blen = resp.size() - hend - 4;
    if (g_mode == "cut") {
      resp.resize(hend + 4 + blen / 2);
    } else if (g_mode == "corrupt" && blen > 0) {
      resp[hend + 4 + blen / 2] ^= 0x01;
    } else if (g_mode == "badjson") {
      std::string h = resp.substr(0, hend + 2);
      std::string lh = lower(h);
      if (auto p = lh.find("\r\ncontent-length:"); p != std::string::npos) {
        size_t e = h.find("\r\n", p + 2);
        h.erase(p + 2, e - p - 2);
        h.insert(p + 2, "Content-Length: 9");
      }
      resp = h + "\r\n{\"bad\": [";
    }
  }
  send_all(client, resp.data(), resp.size());
  close(client);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: fault_proxy UPSTREAM_PORT MODE COUNT\n");
    return 2;
  }
  g_upstream = std::atoi(argv[1]);
  g_mode = argv[2];
  g_left = std::atoi(argv[3]);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(s, 64) != 0) {
    std::perror("fault_proxy: bind");
    return 1;
  }
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  std::printf("%d\n", ntohs(a.sin_port));
  std::fflush(stdout);
  for (;;) {
    int c = accept(s, nullptr, nullptr);
    if (c < 0) continue;
    std::thread(handle, c).detach();
  }
}
