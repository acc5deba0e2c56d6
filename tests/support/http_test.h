// Real-socket test helpers: a spawned `reviewsd serve` child and a blocking HTTP/1.1 client.
// Every wait is bounded; the child is killed (SIGKILL) at destruction if still running.
#pragma once

#include "support/test_env.h"

#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace testenv {

// How the child is started, beyond its arguments.
struct SpawnOptions {
  // RLIMIT_NOFILE of the child, soft and hard (the server raises its soft limit to the hard
  // one, so both must be lowered); 0 keeps the test's own limits.
  rlim_t max_fds = 0;
};

// `reviewsd serve <extra...> --listen 127.0.0.1:0 --threads 2` (an option in `extra` wins:
// the first occurrence counts), stderr to a log file, in this process's environment less every
// REVIEWSD_* variable (settings a developer's shell exports do not reach it); the constructor
// waits (up to 10 s) for the "listening on" line and reads the port from it.
class ServerProcess {
 public:
  explicit ServerProcess(std::vector<std::string> extra = {}, SpawnOptions spawn = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] std::string log() const;
  [[nodiscard]] int fd_count() const;
  // Waits (bounded) until the server's fd count is back to `baseline`.
  [[nodiscard]] bool fds_back_to(int baseline,
                                 std::chrono::milliseconds within = std::chrono::seconds(3)) const;
  // SIGTERM, then waits up to `within` for exit; returns the exit status (-1: still running).
  int terminate_and_wait(std::chrono::milliseconds within);
  // Polls GET `target` until it answers `status` (bounded by `within`). True if it did.
  bool wait_for_status(const std::string& target, int status,
                       std::chrono::milliseconds within = std::chrono::seconds(10)) const;

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::string log_path_;
};

// The value of an unlabeled sample in GET /metrics on `port` (fails the test if absent).
[[nodiscard]] std::uint64_t metric(std::uint16_t port, const std::string& name);

// The first line of `log` (e.g. ServerProcess::log()) that contains every one of `parts`, or ""
// if none does.
[[nodiscard]] std::string line_with(const std::string& log,
                                    std::initializer_list<std::string_view> parts);

// A database of its own loaded with the real sample, and `reviewsd serve --db <it> <extra...>`
// on it, answering /readyz 200 before the constructor returns.
class SampleServer {
 public:
  explicit SampleServer(std::vector<std::string> extra = {});
  [[nodiscard]] std::string db() const { return tdb_.conninfo(); }
  [[nodiscard]] ServerProcess& server() { return server_; }

 private:
  static std::vector<std::string> load_then_args(const TempDatabase& tdb,
                                                 std::vector<std::string> extra);
  TempDatabase tdb_;  // declared first: made (and loaded) before the server starts
  ServerProcess server_;
};

struct HttpResponse {
  int status = 0;  // 0: EOF or timeout before a whole response
  std::string head, body;
  [[nodiscard]] bool has_header(const std::string& line) const {
    return head.find("\r\n" + line + "\r\n") != std::string::npos;
  }
  // Value of the first header `name` (exact case as the server writes it), or "".
  [[nodiscard]] std::string header(const std::string& name) const;
};

// A blocking client socket on 127.0.0.1 with a 5 s receive timeout (a bug fails the test, never
// hangs it). Throws std::runtime_error when it cannot connect or send (no Catch assertions
// inside: it is used from the client threads of concurrency tests, and Catch is not
// thread-safe).
class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port, int rcvbuf = 0);
  ~HttpClient() { close(); }
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  void close();
  void send(const std::string& data);
  // Reads one response (Content-Length framed; `head_only` for HEAD).
  HttpResponse read_response(bool head_only = false);
  // One request and its response: "GET target HTTP/1.1" with Host, plus `headers` lines.
  HttpResponse request(const std::string& method, const std::string& target,
                       const std::string& headers = "", const std::string& body = "");
  // True when the server closed the connection with nothing more to read.
  bool at_eof();
  [[nodiscard]] int fd() const { return fd_; }

 private:
  bool fill();
  int fd_ = -1;
  std::string buf_;
};

}  // namespace testenv
