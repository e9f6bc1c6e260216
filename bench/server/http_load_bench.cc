// HTTPS load on one endpoint of a running livegate-server (issue 12: the
// transport's throughput before/after the event-driven front). N client
// threads each keep one TLS connection alive and send GET <path> back to
// back for the given time (reconnecting when the server closes, e.g. at
// keep_alive_max_count), or open a new connection per request with
// --new-connection. Prints requests/s and latency percentiles.
//
//   build/bench/server/livegate_bench_http_load --port 8443 [--path /healthz]
//       [--connections 32] [--seconds 10] [--new-connection] [--json]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  int port = 8443;
  std::string path = "/healthz";
  int connections = 32;
  double seconds = 10;
  bool new_connection = false;
  bool json = false;
};

struct Conn {
  int fd = -1;
  SSL* ssl = nullptr;
  std::string buf;
  void Close() {
    if (ssl) SSL_free(ssl);
    if (fd >= 0) close(fd);
    ssl = nullptr;
    fd = -1;
    buf.clear();
  }
  bool Open(SSL_CTX* ctx, int port) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    const int yes = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return false;
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    const bool ok = SSL_connect(ssl) == 1;
    ERR_clear_error();
    return ok;
  }
  // One request/response; returns the status (0 on failure) and whether
  // the server keeps the connection.
  int Request(const std::string& req, bool* keep) {
    if (SSL_write(ssl, req.data(), static_cast<int>(req.size())) <= 0) return 0;
    char tmp[16384];
    for (;;) {
      const auto end = buf.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::string head = buf.substr(0, end);
        for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const auto cl = head.find("content-length:");
        const std::size_t len = cl == std::string::npos ? 0 : std::strtoul(head.c_str() + cl + 15, nullptr, 10);
        if (buf.size() >= end + 4 + len) {
          const int status = std::atoi(buf.c_str() + 9);
          *keep = head.find("connection: close") == std::string::npos;
          buf.erase(0, end + 4 + len);
          return status;
        }
      }
      const int n = SSL_read(ssl, tmp, sizeof(tmp));
      if (n <= 0) {
        ERR_clear_error();
        return 0;
      }
      buf.append(tmp, static_cast<std::size_t>(n));
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (k == "--port") a.port = std::atoi(next().c_str());
    else if (k == "--path") a.path = next();
    else if (k == "--connections") a.connections = std::atoi(next().c_str());
    else if (k == "--seconds") a.seconds = std::atof(next().c_str());
    else if (k == "--new-connection") a.new_connection = true;
    else if (k == "--json") a.json = true;
    else {
      std::fprintf(stderr, "usage: %s --port P [--path /healthz] [--connections N] [--seconds S] [--new-connection] [--json]\n", argv[0]);
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  const std::string req = "GET " + a.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                          (a.new_connection ? "Connection: close\r\n" : "") + "\r\n";
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(a.connections));
  std::vector<long> errors(static_cast<std::size_t>(a.connections), 0), non200(lat.size(), 0),
      reconnects(lat.size(), 0);
  std::vector<std::thread> threads;
  const auto t0 = Clock::now();
  for (int t = 0; t < a.connections; ++t) {
    threads.emplace_back([&, t] {
      Conn c;
      auto& l = lat[static_cast<std::size_t>(t)];
      while (!stop) {
        const auto r0 = Clock::now();
        if (c.fd < 0) {
          if (!c.Open(ctx, a.port)) {
            ++errors[static_cast<std::size_t>(t)];
            c.Close();
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            continue;
          }
          ++reconnects[static_cast<std::size_t>(t)];
        }
        bool keep = false;
        const int status = c.Request(req, &keep);
        if (status == 0) {
          ++errors[static_cast<std::size_t>(t)];
          c.Close();
          continue;
        }
        if (status != 200) ++non200[static_cast<std::size_t>(t)];
        l.push_back(std::chrono::duration<double, std::milli>(Clock::now() - r0).count());
        if (!keep || a.new_connection) c.Close();
      }
      c.Close();
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(a.seconds));
  stop = true;
  for (auto& th : threads) th.join();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<double> all;
  long errs = 0, bad = 0, conns = 0;
  for (std::size_t i = 0; i < lat.size(); ++i) {
    all.insert(all.end(), lat[i].begin(), lat[i].end());
    errs += errors[i];
    bad += non200[i];
    conns += reconnects[i];
  }
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<std::size_t>(p * all.size()))];
  };
  const double rps = static_cast<double>(all.size()) / secs;
  if (a.json) {
    std::printf("{\"path\":\"%s\",\"connections\":%d,\"new_connection\":%s,\"seconds\":%.1f,\"requests\":%zu,"
                "\"requests_per_s\":%.0f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f,\"errors\":%ld,"
                "\"non_200\":%ld,\"tls_connections\":%ld}\n",
                a.path.c_str(), a.connections, a.new_connection ? "true" : "false", secs, all.size(), rps,
                pct(0.5), pct(0.99), all.empty() ? 0.0 : all.back(), errs, bad, conns);
  } else {
    std::printf("GET %s, %d connections%s, %.1f s: %zu requests, %.0f req/s, p50 %.2f ms, p99 %.2f ms, "
                "max %.2f ms, %ld errors, %ld non-200, %ld TLS connections\n",
                a.path.c_str(), a.connections, a.new_connection ? " (new connection per request)" : " (keep-alive)",
                secs, all.size(), rps, pct(0.5), pct(0.99), all.empty() ? 0.0 : all.back(), errs, bad, conns);
  }
  SSL_CTX_free(ctx);
  return errs > 0 || bad > 0 ? 1 : 0;
}
