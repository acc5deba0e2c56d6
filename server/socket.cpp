#include "server/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace server {

ListenAddress parse_listen(const std::string& spec) {
  std::string host, port;
  if (!spec.empty() && spec.front() == '[') {
    const auto close = spec.find(']');
    if (close == std::string::npos || close + 1 >= spec.size() || spec[close + 1] != ':')
      throw std::invalid_argument(
          fmt::format("bad listen address '{}' (want [V6ADDR]:PORT)", spec));
    host = spec.substr(1, close - 1);
    port = spec.substr(close + 2);
  } else {
    const auto colon = spec.rfind(':');
    if (colon == std::string::npos)
      throw std::invalid_argument(fmt::format("bad listen address '{}' (want HOST:PORT)", spec));
    host = spec.substr(0, colon);
    port = spec.substr(colon + 1);
    if (host.empty()) host = "0.0.0.0";
  }
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) > 65535)
    throw std::invalid_argument(fmt::format("bad port in listen address '{}'", spec));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0 || !res)
    throw std::invalid_argument(
        fmt::format("cannot resolve listen address '{}': {}", spec, gai_strerror(rc)));
  ListenAddress out;
  std::memcpy(&out.addr, res->ai_addr, res->ai_addrlen);
  out.len = res->ai_addrlen;
  freeaddrinfo(res);
  return out;
}

int open_listener(const ListenAddress& where, int backlog) {
  const auto fail = [&](const char* what) {
    const int e = errno;
    throw std::system_error(e, std::generic_category(),
                            fmt::format("{} {}", what, "listen socket"));
  };
  const int fd = ::socket(where.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  const int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
    ::close(fd);
    fail("setsockopt");
  }
  if (where.addr.ss_family == AF_INET6)
    (void)::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&where.addr), where.len) < 0 ||
      ::listen(fd, backlog) < 0) {
    const int e = errno;
    ::close(fd);
    errno = e;
    fail("bind/listen");
  }
  return fd;
}

ListenAddress bound_address(int fd) {
  ListenAddress out;
  out.len = sizeof out.addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&out.addr), &out.len) < 0)
    throw std::system_error(errno, std::generic_category(), "getsockname");
  return out;
}

std::string local_address(int fd) {
  const ListenAddress a = bound_address(fd);
  char host[INET6_ADDRSTRLEN] = "?";
  if (a.addr.ss_family == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&a.addr);
    ::inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
    return fmt::format("[{}]:{}", host, ntohs(s6->sin6_port));
  }
  const auto* s4 = reinterpret_cast<const sockaddr_in*>(&a.addr);
  ::inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
  return fmt::format("{}:{}", host, ntohs(s4->sin_port));
}

int accept_client(int listen_fd, int& err) noexcept {
  const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    err = errno;
    return -1;
  }
  const int one = 1;
  // Responses leave in one writev; Nagle would only hold back the tail of a large one.
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  err = 0;
  return fd;
}

Io read_some(int fd, char* buf, std::size_t cap, std::size_t& n) noexcept {
  for (;;) {
    const ssize_t r = ::recv(fd, buf, cap, 0);
    if (r > 0) {
      n = static_cast<std::size_t>(r);
      return Io::Done;
    }
    if (r == 0) return Io::PeerClosed;
    if (errno == EINTR) continue;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? Io::Again : Io::Failed;
  }
}

Io write_some(int fd, const iovec* iov, int iovcnt, std::size_t& n) noexcept {
  for (;;) {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(iov);
    msg.msg_iovlen = static_cast<std::size_t>(iovcnt);
    const ssize_t r = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (r >= 0) {
      n = static_cast<std::size_t>(r);
      return Io::Done;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Io::Again;
    return errno == EPIPE || errno == ECONNRESET ? Io::PeerClosed : Io::Failed;
  }
}

void close_fd(int fd) noexcept {
  if (fd >= 0) ::close(fd);  // never retried on EINTR: on Linux the fd is gone either way
}

int open_reserve_fd() noexcept { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

}  // namespace server
