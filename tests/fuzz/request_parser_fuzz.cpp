// Fuzz target: protocol::RequestParser and server::Router together, raw bytes in, as a
// connection uses them (server/connection.cpp: feed, dispatch each Complete, stop at Error).
//
// Input layout: byte 0 = flags (bit 0: small limits, so that 413/414/431 are reachable with
// short inputs), bytes 1-2 = split offset (little endian, modulo the stream size + 1), then the
// byte stream a client sends. Seeds are made by make_seeds.sh.
//
// Properties:
// - the stream fed whole, split at the chosen offset, and one byte at a time gives the same
//   requests and the same final state (an error or not; see Outcome for why not always the
//   same status);
// - feed() consumes at most what it is given, everything on NeedMore, at least one byte on
//   Complete, and nothing more after Error (which stays an Error);
// - an error maps to a status in {400, 408, 413, 414, 431, 501, 505} with an "Error: " body;
// - every request satisfies: method name a token that is neither CONNECT nor PRI and matches
//   `method`; target within max_target with no space or control byte; path and query split at
//   the first '?' (absolute-form: of what follows the authority); header names tokens, values
//   without CR, LF, NUL or other controls but HTAB, trimmed; header count and head size within
//   the limits; at most one of Content-Length / Transfer-Encoding, Content-Length equal to the
//   body size, Transfer-Encoding only `chunked`, no framing header means no body; body within
//   max_body; HTTP/1.0 or 1.1; keep-alive as the Connection header and the version say;
// - the request written back (Transfer-Encoding replaced by Content-Length) parses to itself;
// - Router::find on the request's path, for its method, HEAD and OPTIONS, agrees with a naive
//   segment-by-segment matcher over the real route table: same outcome, same handler, same
//   Allow, parameters that are the path's own segments.
#include "fuzz_check.h"
#include "protocol/error_reply.h"
#include "protocol/request_parser.h"
#include "server/router.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using protocol::Method;
using protocol::ParseError;
using protocol::RequestParser;
using server::Router;

// --- requests ---------------------------------------------------------------------------------

struct Snapshot {
  Method method;
  std::string method_name, target, path, query, body;
  std::vector<std::pair<std::string, std::string>> headers;
  int version_minor;
  bool keep_alive;
  bool operator==(const Snapshot&) const = default;
};

struct Outcome {
  std::vector<Snapshot> requests;
  int error_status = 0;  // 0: no error
  // The same requests, and an error either in both or in neither. Not the same status: when
  // one feed() holds both a line-ending error (checked after llhttp ran) and a later llhttp
  // error, the llhttp one is reported, while fed byte by byte the earlier one is: "\n\0GET"
  // is 501 whole and 400 byte by byte. Both close the connection.
  bool operator==(const Outcome& o) const {
    return requests == o.requests && (error_status != 0) == (o.error_status != 0);
  }
};

bool is_tchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool ci_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool ci_prefix(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && ci_equal(s.substr(0, prefix.size()), prefix);
}

std::optional<Method> method_named(std::string_view name) {
  static const std::pair<std::string_view, Method> kMethods[] = {
      {"GET", Method::Get},    {"HEAD", Method::Head},     {"POST", Method::Post},
      {"PUT", Method::Put},    {"DELETE", Method::Delete}, {"OPTIONS", Method::Options},
      {"PATCH", Method::Patch}};
  for (const auto& [n, m] : kMethods)
    if (n == name) return m;
  return std::nullopt;
}

// RFC 9112 3.2: origin-form is path[?query]; absolute-form routes on the path after the
// authority ("/" when there is none). As RequestParser does, the authority ends at the first
// '/' (RFC 3986 also ends it at '?': "http://h?a=/x" has the empty path, but is routed as
// "/x" here and there; harmless while no route takes an absolute-form request specially).
std::pair<std::string_view, std::string_view> expected_path_query(std::string_view t) {
  if (t.size() > 7 && (ci_prefix(t, "http://") || ci_prefix(t, "https://"))) {
    const std::size_t slash = t.find('/', t.find("//") + 2);
    if (slash == std::string_view::npos) return {"/", ""};
    t.remove_prefix(slash);
  }
  const std::size_t q = t.find('?');
  if (q == std::string_view::npos) return {t, ""};
  return {t.substr(0, q), t.substr(q + 1)};
}

void check_request(const protocol::Request& req, const protocol::Limits& limits) {
  // Request line.
  FUZZ_CHECK(!req.method_name.empty());
  for (const char c : req.method_name) FUZZ_CHECK(is_tchar(static_cast<unsigned char>(c)));
  FUZZ_CHECK(req.method_name != "CONNECT" && req.method_name != "PRI");
  FUZZ_CHECK(req.method == method_named(req.method_name).value_or(Method::Other));
  FUZZ_CHECK(!req.target.empty() && req.target.size() <= limits.max_target);
  for (const char c : req.target) {
    const auto u = static_cast<unsigned char>(c);
    FUZZ_CHECK(u > 0x20 && u != 0x7f);
  }
  const auto [path, query] = expected_path_query(req.target);
  FUZZ_CHECK(req.path == path);
  FUZZ_CHECK(req.query == query);
  FUZZ_CHECK(req.version_minor == 0 || req.version_minor == 1);

  // Header fields.
  FUZZ_CHECK(req.headers.size() <= limits.max_headers);
  std::size_t head = 0;
  int content_lengths = 0, transfer_encodings = 0, connections = 0;
  std::string_view content_length, connection;
  for (const auto& h : req.headers) {
    FUZZ_CHECK(!h.name.empty());
    for (const char c : h.name) FUZZ_CHECK(is_tchar(static_cast<unsigned char>(c)));
    for (const char c : h.value) {
      const auto u = static_cast<unsigned char>(c);
      FUZZ_CHECK(u == '\t' || (u >= 0x20 && u != 0x7f));  // no CR, LF, NUL
    }
    if (!h.value.empty()) {
      FUZZ_CHECK(h.value.front() != ' ' && h.value.front() != '\t');
      FUZZ_CHECK(h.value.back() != ' ' && h.value.back() != '\t');
    }
    head += h.name.size() + h.value.size();
    if (ci_equal(h.name, "content-length")) ++content_lengths, content_length = h.value;
    if (ci_equal(h.name, "transfer-encoding")) {
      ++transfer_encodings;
      FUZZ_CHECK(ci_equal(h.value, "chunked"));
    }
    if (ci_equal(h.name, "connection") || ci_equal(h.name, "proxy-connection"))
      ++connections, connection = h.value;
  }
  FUZZ_CHECK(head <= limits.max_head);

  // Framing: exactly one way to know where the body ends.
  FUZZ_CHECK(content_lengths + transfer_encodings <= 1);
  FUZZ_CHECK(req.body.size() <= limits.max_body);
  if (content_lengths == 1) {
    FUZZ_CHECK(!content_length.empty());
    FUZZ_CHECK(content_length.find_first_not_of("0123456789") == std::string_view::npos);
    std::uint64_t n = 0;
    for (const char c : content_length) {
      n = n * 10 + static_cast<std::uint64_t>(c - '0');
      FUZZ_CHECK(n <= limits.max_body);
    }
    FUZZ_CHECK(n == req.body.size());
  } else if (transfer_encodings == 0) {
    FUZZ_CHECK(req.body.empty());
  }

  // Persistence (RFC 9112 9.3).
  if (connections == 0) FUZZ_CHECK(req.keep_alive == (req.version_minor == 1));
  if (connections == 1 && ci_equal(connection, "close")) FUZZ_CHECK(!req.keep_alive);
  if (connections == 1 && ci_equal(connection, "keep-alive")) FUZZ_CHECK(req.keep_alive);
}

Snapshot snapshot(const protocol::Request& req) {
  Snapshot s{req.method,
             std::string(req.method_name),
             std::string(req.target),
             std::string(req.path),
             std::string(req.query),
             std::string(req.body),
             {},
             req.version_minor,
             req.keep_alive};
  for (const auto& h : req.headers) s.headers.emplace_back(h.name, h.value);
  return s;
}

// --- routes -----------------------------------------------------------------------------------

struct RouteDef {
  Method method;
  std::string_view pattern;
};

// server/routes.cpp (debug routes on) and server/api.cpp, in registration order.
constexpr RouteDef kRoutes[] = {
    {Method::Get, "/healthz"},
    {Method::Get, "/bench/fixed"},
    {Method::Get, "/debug/delay"},
    {Method::Get, "/reviews"},
    {Method::Get, "/reviews/:product_id/list"},
    {Method::Get, "/reviews/meta"},
    {Method::Get, "/reviews/:product_id/meta"},
    {Method::Get, "/products/:product_id/related"},
    {Method::Post, "/reviews"},
    {Method::Put, "/reviews/:review_id/helpful"},
    {Method::Put, "/reviews/:review_id/report"},
    {Method::Get, "/readyz"},
};

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);  // one trailing slash
  path.remove_prefix(1);
  if (path.empty()) return out;
  for (;;) {
    const std::size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) return out;
    path.remove_prefix(slash + 1);
  }
}

// A concrete path for a pattern (parameters become "1").
std::string example_path(std::string_view pattern) {
  std::string out;
  for (const auto seg : segments(pattern)) out += "/" + std::string(seg.front() == ':' ? "1" : seg);
  return out.empty() ? "/" : out;
}

struct Routes {
  Router router;
  std::map<const server::Handler*, const RouteDef*> handler_of;
  Routes() {
    for (const auto& r : kRoutes) router.add(r.method, r.pattern, server::Handler{});
    for (const auto& r : kRoutes) {
      const auto m = router.find(r.method, example_path(r.pattern));
      FUZZ_CHECK(m.outcome == Router::Outcome::Found);
      handler_of[m.handler] = &r;
    }
  }
};

void check_route(const Routes& routes, Method method, std::string_view path) {
  const auto m = routes.router.find(method, path);

  // The reference: the first pattern (in registration order) whose segments all match.
  std::optional<std::string_view> pattern;
  if (!path.empty() && path.front() == '/') {
    const auto segs = segments(path);
    for (const auto& r : kRoutes) {
      const auto want = segments(r.pattern);
      bool ok = want.size() == segs.size();
      for (std::size_t i = 0; ok && i < want.size(); ++i)
        ok = want[i].front() == ':' ? !segs[i].empty() : want[i] == segs[i];
      if (ok) {
        pattern = r.pattern;
        break;
      }
    }
  }
  if (!pattern) {
    FUZZ_CHECK(m.outcome == Router::Outcome::NotFound);
    FUZZ_CHECK(m.handler == nullptr && m.params.size == 0);
    return;
  }

  // Parameters: each a non-empty segment of `path` itself (a view into it).
  const auto want = segments(*pattern);
  const auto segs = segments(path);
  std::size_t k = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (want[i].front() != ':') continue;
    FUZZ_CHECK(k < m.params.size);
    FUZZ_CHECK(m.params.items[k].first == want[i].substr(1));
    FUZZ_CHECK(m.params.items[k].second.data() == segs[i].data());
    FUZZ_CHECK(m.params.items[k].second.size() == segs[i].size());
    ++k;
  }
  FUZZ_CHECK(k == m.params.size);

  bool has_get = false;
  const RouteDef* exact = nullptr;
  const RouteDef* get = nullptr;
  std::string allow;
  for (const Method am : {Method::Get, Method::Head, Method::Post, Method::Put, Method::Delete,
                          Method::Patch, Method::Options}) {
    bool has = am == Method::Options;
    for (const auto& r : kRoutes) {
      if (r.pattern != *pattern) continue;
      has = has || r.method == am || (am == Method::Head && r.method == Method::Get);
      if (r.method == method) exact = &r;
      if (r.method == Method::Get) get = &r, has_get = true;
    }
    if (!has) continue;
    if (!allow.empty()) allow += ", ";
    static constexpr std::string_view kNames[] = {"GET",    "HEAD",    "POST", "PUT",
                                                  "DELETE", "OPTIONS", "PATCH"};
    allow += kNames[static_cast<int>(am)];
  }
  if (!exact && method == Method::Head && has_get) exact = get;
  if (exact) {
    FUZZ_CHECK(m.outcome == Router::Outcome::Found);
    FUZZ_CHECK(routes.handler_of.at(m.handler) == exact);
    return;
  }
  FUZZ_CHECK(m.outcome == (method == Method::Options ? Router::Outcome::Preflight
                                                     : Router::Outcome::MethodNotAllowed));
  FUZZ_CHECK(m.allow == allow);
}

// --- driving the parser -----------------------------------------------------------------------

bool allowed_status(int s) {
  return s == 400 || s == 408 || s == 413 || s == 414 || s == 431 || s == 501 || s == 505;
}

// Writes the request back as bytes a client could have sent.
std::string serialize(const Snapshot& s) {
  std::string out =
      s.method_name + " " + s.target + " HTTP/1." + std::to_string(s.version_minor) + "\r\n";
  for (const auto& [name, value] : s.headers) {
    if (ci_equal(name, "transfer-encoding")) {
      out += "Content-Length: " + std::to_string(s.body.size()) + "\r\n";
    } else {
      out += name + ": " + value + "\r\n";
    }
  }
  return out + "\r\n" + s.body;
}

void check_round_trip(const Snapshot& s, const protocol::Limits& limits) {
  const std::string bytes = serialize(s);
  RequestParser p(limits);
  const auto r = p.feed(bytes);
  FUZZ_CHECK(r.status == RequestParser::Status::Complete);
  FUZZ_CHECK(r.consumed == bytes.size());
  Snapshot want = s;
  for (auto& [name, value] : want.headers) {
    if (ci_equal(name, "transfer-encoding")) {
      name = "Content-Length";
      value = std::to_string(s.body.size());
    }
  }
  FUZZ_CHECK(snapshot(p.request()) == want);
}

Outcome run(const std::vector<std::string_view>& chunks, const protocol::Limits& limits,
            const Routes* routes) {
  RequestParser p(limits);
  Outcome out;
  for (std::string_view data : chunks) {
    while (!data.empty()) {
      const std::size_t before = data.size();
      const auto r = p.feed(data);
      if (r.consumed > before) {
        std::fprintf(stderr, "feed(%zu bytes) returned status %d with consumed = %zu\n", before,
                     static_cast<int>(r.status), r.consumed);
        FUZZ_CHECK(r.consumed <= before);
      }
      data.remove_prefix(r.consumed);
      if (r.status == RequestParser::Status::Error) {
        FUZZ_CHECK(p.error() != ParseError::None);
        const auto reply = protocol::error_reply(p.error());
        FUZZ_CHECK(allowed_status(reply.status));
        FUZZ_CHECK(reply.body.substr(0, 7) == "Error: ");
        const auto again = p.feed("GET / HTTP/1.1\r\n\r\n");  // dead until reset()
        FUZZ_CHECK(again.status == RequestParser::Status::Error && again.consumed == 0);
        out.error_status = reply.status;
        return out;
      }
      if (r.status == RequestParser::Status::NeedMore) {
        FUZZ_CHECK(data.empty());
        break;
      }
      FUZZ_CHECK(r.consumed > 0);
      const auto& req = p.request();
      if (routes) {  // the full checks once; the other splits must only agree with it
        check_request(req, limits);
        for (const Method m : {req.method, Method::Head, Method::Options})
          check_route(*routes, m, req.path);
      }
      out.requests.push_back(snapshot(req));
      if (routes) check_round_trip(out.requests.back(), limits);
    }
  }
  return out;
}

void describe(const char* what, const Outcome& o) {
  std::fprintf(stderr, "%s: %zu request(s), error status %d\n", what, o.requests.size(),
               o.error_status);
  for (const auto& r : o.requests)
    std::fprintf(stderr, "  %s %s HTTP/1.%d, %zu header(s), %zu body byte(s), keep-alive %d\n",
                 r.method_name.c_str(), r.target.c_str(), r.version_minor, r.headers.size(),
                 r.body.size(), r.keep_alive);
}

[[noreturn]] void describe_mismatch(const std::string& how, const Outcome& whole,
                                    const Outcome& other) {
  describe("fed whole", whole);
  describe(how.c_str(), other);
  FUZZ_CHECK(false && "the same bytes, split differently, parsed differently");
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Routes routes;
  if (size < 3) return -1;  // not even the header: keep it out of the corpus
  const bool small = data[0] & 1;
  const std::size_t offset = data[1] | data[2] << 8;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 3, size - 3);

  protocol::Limits limits;
  if (small) {
    limits.max_target = 48;
    limits.max_head = 160;
    limits.max_headers = 4;
    limits.max_body = 32;
  }

  const Outcome whole = run({stream}, limits, &routes);
  const std::size_t cut = offset % (stream.size() + 1);
  const Outcome split = run({stream.substr(0, cut), stream.substr(cut)}, limits, nullptr);
  if (!(split == whole)) describe_mismatch("split at " + std::to_string(cut), whole, split);
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < stream.size(); ++i) bytes.push_back(stream.substr(i, 1));
  const Outcome bytewise = run(bytes, limits, nullptr);
  if (!(bytewise == whole)) describe_mismatch("byte by byte", whole, bytewise);
  return 0;
}
