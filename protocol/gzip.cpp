#include "protocol/gzip.h"

#include "protocol/request_parser.h"

#include <zlib.h>

#include <stdexcept>

namespace protocol {

namespace {
constexpr int kLevel = 6;
constexpr int kGzipWindowBits = 15 + 16;  // 32 KiB window, gzip framing
constexpr int kMemLevel = 8;
}  // namespace

std::string gzip_compress(std::string_view data) {
  z_stream zs{};
  if (deflateInit2(&zs, kLevel, Z_DEFLATED, kGzipWindowBits, kMemLevel, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2 failed");
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);  // deflateBound guarantees one call suffices
  const std::size_t produced = out.size() - zs.avail_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate failed");
  out.resize(produced);
  return out;
}

std::optional<std::string> gzip_decompress(std::string_view data) {
  z_stream zs{};
  if (inflateInit2(&zs, kGzipWindowBits) != Z_OK) return std::nullopt;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buf[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;  // truncated input
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END || zs.avail_in != 0) return std::nullopt;
  return out;
}

bool accepts_gzip(std::string_view v) noexcept {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  // Parameters: only q matters. q=0, q=0.0, q=0.000 refuse; anything else accepts.
  auto refused = [&](std::string_view params) {
    bool zero = false;
    while (!params.empty()) {
      const auto next = params.find(';');
      const std::string_view p = trim(params.substr(0, next));
      params = next == std::string_view::npos ? std::string_view{} : params.substr(next + 1);
      if (p.size() < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=') continue;
      const std::string_view q = trim(p.substr(2));
      zero = !q.empty() && q[0] == '0' && q.find_first_not_of("0.", 1) == std::string_view::npos;
    }
    return zero;
  };
  // "*" only speaks for codings not listed by name (RFC 9110 12.5.3), so "gzip;q=0, *" refuses
  // gzip: the answer comes from the named entries when there are any, else from the wildcard.
  bool named = false, named_accepts = false, wildcard_accepts = false;
  while (!v.empty()) {
    const auto comma = v.find(',');
    const std::string_view item = v.substr(0, comma);
    v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
    const auto semi = item.find(';');
    const std::string_view coding = trim(item.substr(0, semi));
    const bool accepted = semi == std::string_view::npos || !refused(item.substr(semi + 1));
    if (iequals(coding, "gzip") || iequals(coding, "x-gzip")) {
      named = true;
      named_accepts = named_accepts || accepted;  // x-gzip is an alias: either one suffices
    } else if (coding == "*") {
      wildcard_accepts = wildcard_accepts || accepted;
    }
  }
  return named ? named_accepts : wildcard_accepts;
}

}  // namespace protocol
