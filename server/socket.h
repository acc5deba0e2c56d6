// Every socket syscall of the server lives in socket.cpp (STYLE.md 2): listening sockets,
// accept4, recv, sendmsg, close. Hot-path functions never throw and never block (all sockets are
// non-blocking); startup functions throw std::system_error.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace server {

enum class Io : std::uint8_t { Done, Again, PeerClosed, Failed };

// A resolved listen address. parse_listen accepts "HOST:PORT", "[V6ADDR]:PORT" and ":PORT"
// (all IPv4 interfaces); HOST may be a name (resolved once, at startup). Throws
// std::invalid_argument with a message fit for the user.
struct ListenAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
};
[[nodiscard]] ListenAddress parse_listen(const std::string& spec);

// A non-blocking SO_REUSEPORT listening socket (IPv6 ones are V6ONLY: one address, one family).
// Throws std::system_error naming the address.
[[nodiscard]] int open_listener(const ListenAddress& where, int backlog);
// "127.0.0.1:8080" / "[::1]:8080" of a bound socket (its real port when bound to port 0).
[[nodiscard]] std::string local_address(int fd);
// The same listener address with its port replaced by the one `fd` is bound to, so that more
// reactors can join a port the kernel picked.
[[nodiscard]] ListenAddress bound_address(int fd);

// accept4 (non-blocking, close-on-exec) + TCP_NODELAY. Returns the fd, or -1 with `err` set
// to errno (EAGAIN: nothing to accept; EMFILE/ENFILE: out of fds; others: that client failed).
[[nodiscard]] int accept_client(int listen_fd, int& err) noexcept;

// One recv(2) of at most `cap` bytes. Done sets `n` > 0. recv and sendmsg rather than read
// and writev: they skip the VFS layer (vfs_read, vfs_writev, sock_read_iter; bench/RESULTS.md,
// issue 6).
[[nodiscard]] Io read_some(int fd, char* buf, std::size_t cap, std::size_t& n) noexcept;
// One sendmsg(2) of the iovecs, MSG_NOSIGNAL. Done sets `n` (possibly less than asked: a partial
// write).
[[nodiscard]] Io write_some(int fd, const iovec* iov, int iovcnt, std::size_t& n) noexcept;
void close_fd(int fd) noexcept;

// An fd that only exists to be given up when accept4 fails with EMFILE: close it, accept and
// close the client (so it is not left hanging in the backlog), reopen it.
[[nodiscard]] int open_reserve_fd() noexcept;

}  // namespace server
