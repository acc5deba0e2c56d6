// RequestParser: tables of raw bytes -> expected requests or error status, each fed whole and
// split at every byte offset (STYLE.md 12).
#include "protocol/request_parser.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using protocol::Limits;
using protocol::ParseError;
using protocol::RequestParser;

namespace {

struct Parsed {
  std::string method, target, path, query, body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool keep_alive = true;
  int minor = 1;
};

struct Outcome {
  std::vector<Parsed> requests;
  int error_status = 0;  // 0: no error
  bool partial = false;  // bytes of an unfinished request left over
};

// Feeds `chunks` in order, collecting every request, the way a connection does.
Outcome run(const std::vector<std::string>& chunks, const Limits& limits = {}) {
  RequestParser p(limits);
  Outcome out;
  for (const auto& chunk : chunks) {
    std::string_view data = chunk;
    while (!data.empty()) {
      const auto r = p.feed(data);
      if (r.status == RequestParser::Status::Error) {
        out.error_status = protocol::error_reply(p.error()).status;
        return out;
      }
      data.remove_prefix(r.consumed);
      if (r.status == RequestParser::Status::Complete) {
        const auto& q = p.request();
        Parsed x{std::string(q.method_name),
                 std::string(q.target),
                 std::string(q.path),
                 std::string(q.query),
                 std::string(q.body),
                 {},
                 q.keep_alive,
                 q.version_minor};
        for (const auto& h : q.headers) x.headers.emplace_back(h.name, h.value);
        out.requests.push_back(std::move(x));
      } else {
        REQUIRE(data.empty());  // NeedMore consumes everything
      }
    }
  }
  out.partial = p.in_message();
  return out;
}

// Runs `bytes` whole and split in two at every offset; every way must give the same outcome.
std::vector<Outcome> all_splits(const std::string& bytes, const Limits& limits = {}) {
  std::vector<Outcome> outs{run({bytes}, limits)};
  for (std::size_t i = 1; i < bytes.size(); ++i)
    outs.push_back(run({bytes.substr(0, i), bytes.substr(i)}, limits));
  // And one byte at a time, the slowloris shape.
  std::vector<std::string> bytewise;
  for (const char c : bytes) bytewise.emplace_back(1, c);
  outs.push_back(run(bytewise, limits));
  return outs;
}

void check_error(const std::string& bytes, int status, const Limits& limits = {}) {
  INFO("input: " << bytes);
  const auto outs = all_splits(bytes, limits);
  for (std::size_t i = 0; i < outs.size(); ++i) {
    INFO("split at " << i << " (0: whole, " << outs.size() - 1 << ": byte by byte)");
    CHECK(outs[i].error_status == status);
  }
}

}  // namespace

TEST_CASE("valid requests parse the same whole and split at every offset", "[protocol][parser]") {
  struct Case {
    std::string bytes;
    std::string method, target, path, query, body;
    std::size_t headers;
    bool keep_alive;
  };
  const std::vector<Case> cases = {
      {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/", "/", "", "", 1, true},
      {"GET /reviews?product_id=1&count=2 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", "GET",
       "/reviews?product_id=1&count=2", "/reviews", "product_id=1&count=2", "", 2, true},
      {"HEAD /healthz HTTP/1.1\r\n\r\n", "HEAD", "/healthz", "/healthz", "", "", 0, true},
      {"GET / HTTP/1.0\r\n\r\n", "GET", "/", "/", "", "", 0, false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET", "/", "/", "", "", 1, true},
      {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", "GET", "/", "/", "", "", 1, false},
      {"POST /reviews HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", "POST", "/reviews", "/reviews",
       "", "hello", 1, true},
      {"POST /r HTTP/1.1\r\nTransfer-Encoding: "
       "chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n",
       "POST", "/r", "/r", "", "abcde", 1, true},
      {"POST /r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nTrailer-A: 1\r\n\r\n",
       "POST", "/r", "/r", "", "x", 1, true},
      {"PUT /reviews/5/helpful HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "PUT", "/reviews/5/helpful",
       "/reviews/5/helpful", "", "", 1, true},
      {"OPTIONS /reviews HTTP/1.1\r\nOrigin: https://a.example\r\n\r\n", "OPTIONS", "/reviews",
       "/reviews", "", "", 1, true},
      {"GET /p?q HTTP/1.1\r\nX-Empty:\r\nX-Spaces:   a  b   \r\n\r\n", "GET", "/p?q", "/p", "q", "",
       2, true},
      {"GET http://example.com/x?y=1 HTTP/1.1\r\n\r\n", "GET", "http://example.com/x?y=1", "/x",
       "y=1", "", 0, true},
  };
  for (const auto& c : cases) {
    INFO("input: " << c.bytes);
    for (const auto& o : all_splits(c.bytes)) {
      REQUIRE(o.error_status == 0);
      REQUIRE(o.requests.size() == 1);
      const auto& r = o.requests[0];
      CHECK(r.method == c.method);
      CHECK(r.target == c.target);
      CHECK(r.path == c.path);
      CHECK(r.query == c.query);
      CHECK(r.body == c.body);
      CHECK(r.headers.size() == c.headers);
      CHECK(r.keep_alive == c.keep_alive);
      CHECK_FALSE(o.partial);
    }
  }
}

TEST_CASE("header values are trimmed and names keep their case", "[protocol][parser]") {
  for (const auto& o : all_splits("GET / HTTP/1.1\r\nX-Spaces:   a  b   \r\nhOsT: h\r\n\r\n")) {
    REQUIRE(o.requests.size() == 1);
    CHECK(o.requests[0].headers[0] == std::pair<std::string, std::string>{"X-Spaces", "a  b"});
    CHECK(o.requests[0].headers[1] == std::pair<std::string, std::string>{"hOsT", "h"});
  }
}

TEST_CASE("pipelined requests come out one by one, in order", "[protocol][pipelining]") {
  const std::string bytes =
      "GET /a HTTP/1.1\r\n\r\n"
      "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
      "GET /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
      "GET /d HTTP/1.1\r\nConnection: close\r\n\r\n";
  for (const auto& o : all_splits(bytes)) {
    REQUIRE(o.error_status == 0);
    REQUIRE(o.requests.size() == 4);
    CHECK(o.requests[0].target == "/a");
    CHECK(o.requests[1].target == "/b");
    CHECK(o.requests[1].body == "xyz");
    CHECK(o.requests[2].target == "/c");
    CHECK(o.requests[3].target == "/d");
    CHECK_FALSE(o.requests[3].keep_alive);
  }
}

TEST_CASE("a request cut short is reported as in progress", "[protocol][parser]") {
  const auto o = run({"GET / HTTP/1.1\r\nHost: a\r\n"});
  CHECK(o.requests.empty());
  CHECK(o.error_status == 0);
  CHECK(o.partial);
  CHECK(run({"GET / HTTP/1.1\r\n\r\n"}).partial == false);
}

TEST_CASE("limits map to 414, 431 and 413", "[protocol][limits]") {
  Limits small;
  small.max_target = 32;
  small.max_head = 64;
  small.max_headers = 3;
  small.max_body = 8;
  check_error("GET /" + std::string(40, 'a') + " HTTP/1.1\r\n\r\n", 414, small);
  check_error("GET / HTTP/1.1\r\nX: " + std::string(80, 'v') + "\r\n\r\n", 431, small);
  check_error("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", 431, small);
  check_error("POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\n123456789", 413, small);
  check_error(
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n12345\r\n5\r\n12345\r\n0\r\n\r\n",
      413, small);
  // Exactly at the limits is fine.
  const auto ok = run(
      {"POST /" + std::string(31, 'a') + " HTTP/1.1\r\nContent-Length: 8\r\n\r\n12345678"}, small);
  CHECK(ok.error_status == 0);
  CHECK(ok.requests.size() == 1);
  // Defaults: 64 KiB body (API.md), 16 KiB head.
  check_error("POST / HTTP/1.1\r\nContent-Length: 65537\r\n\r\n", 413);
  CHECK(run({"POST / HTTP/1.1\r\nContent-Length: 65536\r\n\r\n" + std::string(65536, 'x')})
            .requests.size() == 1);
  check_error("GET / HTTP/1.1\r\nCookie: " + std::string(17000, 'c') + "\r\n\r\n", 431);
  check_error("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n", 414);
}

TEST_CASE("unknown methods get 501, other versions 505", "[protocol][parser]") {
  check_error("FOO / HTTP/1.1\r\n\r\n", 501);
  check_error("GETT / HTTP/1.1\r\n\r\n", 501);
  check_error("GET / HTTP/2.0\r\n\r\n", 505);
  check_error("GET / HTTP/1.2\r\n\r\n", 505);
  check_error("GET / HTTP/3.1\r\n\r\n", 505);
  check_error("GET / HTTP/1.x\r\n\r\n", 400);
  check_error("GET / HTTX/1.1\r\n\r\n", 400);
}

TEST_CASE("malformed requests get 400", "[protocol][parser]") {
  for (const std::string& bytes : {
           std::string("GET / HTTP/1.1\r\n: novalue\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nX : a\r\n\r\n"),  // space before colon
           std::string("GET / HTTP/1.1\r\nNoColon\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n", 24),  // NUL in a value
           std::string("GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n"),      // control byte in a value
           std::string("GET /a b HTTP/1.1\r\n\r\n"),
       }) {
    check_error(bytes, 400);
  }
}

TEST_CASE("request smuggling shapes are rejected", "[protocol][smuggling]") {
  // Content-Length with Transfer-Encoding, either order.
  check_error("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
              400);
  check_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
              400);
  // Duplicate Content-Length, differing or not.
  check_error("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400);
  check_error("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400);
  check_error("POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc", 400);
  // Bad chunk sizes.
  check_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400);
  check_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nabc\r\n0\r\n\r\n", 400);
  check_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabc\r\n",
              400);
  check_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n", 400);
  // Transfer codings other than chunked, doubled TE.
  check_error("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501);
  check_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400);
  check_error(
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
      "chunked\r\n\r\n0\r\n\r\n",
      400);
  // obs-fold.
  check_error("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400);
  check_error("GET / HTTP/1.1\r\nX: a\r\n\tb\r\nY: c\r\n\r\n", 400);
  check_error("POST / HTTP/1.1\r\nContent-Length: 0\r\n 5\r\n\r\nhello", 400);
  // Bare LF as a line end, anywhere.
  check_error("GET / HTTP/1.1\nHost: a\r\n\r\n", 400);
  check_error("GET / HTTP/1.1\r\nHost: a\n\r\n", 400);
  check_error("GET / HTTP/1.1\r\nHost: a\r\n\n", 400);
  check_error("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400);  // whitespace-led first line
  check_error("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\nX: 1\r\n\r\n", 400);
  check_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", 400);
}

TEST_CASE("llhttp 8.1 leniencies are closed", "[protocol][smuggling]") {
  // A bare CR inside a header line could smuggle a second header to a CR-splitting peer.
  check_error("GET / HTTP/1.1\r\nX: a\rContent-Length: 5\r\n\r\nhello", 400);
  check_error("GET / HTTP/1.1\r\nX: a\r\r\n\r\n", 400);
  // Space or control byte inside a header name.
  check_error("GET / HTTP/1.1\r\nContent Length: 5\r\n\r\nhello", 400);
  check_error("GET / HTTP/1.1\r\nX\x01Y: a\r\n\r\n", 400);
  check_error("GET / HTTP/1.1\r\nX\tY: a\r\n\r\n", 400);
  // No version (HTTP/0.9 shape), with or without headers.
  check_error("GET /\r\nHost: a\r\n\r\n", 400);
  check_error("GET /\r\n\r\n", 400);
  // Protocol switches: refused, never a pause that hangs the connection.
  check_error("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 400);
  check_error("GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n", 400);
  check_error("CONNECT example.com:443 HTTP/1.1\r\n\r\n", 400);
  check_error("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400);
}

TEST_CASE("the line-ending scan finds a bare CR or LF at any position in a long line",
          "[protocol][smuggling]") {
  // framing_ok skips 8 bytes at a time between line ends: put the stray byte at every offset
  // (and so at every alignment) of a header line longer than a few words.
  const std::string value(40, 'v');
  for (std::size_t at = 0; at <= value.size(); ++at) {
    for (const char* stray : {"\n", "\r"}) {
      std::string bad = value;
      bad.insert(at, stray);
      const std::string bytes = "GET /" + value + " HTTP/1.1\r\nX-Long: " + bad + "\r\n\r\n";
      INFO("stray " << (stray[0] == '\n' ? "LF" : "CR") << " at " << at);
      CHECK(run({bytes}).error_status == 400);
      CHECK(run({bytes.substr(0, 20 + at), bytes.substr(20 + at)}).error_status == 400);
    }
  }
  // Bare LF line ends llhttp 8.1 itself accepts (after the request line, after the last
  // header): only the scan catches these, after lines of every length mod 8.
  for (std::size_t len = 1; len <= 24; ++len) {
    const std::string v(len, 'v');
    INFO("line length " << len);
    CHECK(run({"GET /" + v + " HTTP/1.1\nHost: a\r\n\r\n"}).error_status == 400);
    CHECK(run({"GET / HTTP/1.1\r\nX: " + v + "\n\r\n"}).error_status == 400);
    CHECK(run({"GET / HTTP/1.1\r\nX: " + v + "\r\n\r\n"}).error_status == 0);
  }
  // Body bytes are exempt, wherever they sit relative to the head and the next request.
  const std::string post = "POST /a HTTP/1.1\r\nContent-Length: 12\r\n\r\nab\ncd\re\n\n\r\rx";
  const auto ok = run({post + "GET /" + value + " HTTP/1.1\r\nX-Long: " + value + "\r\n\r\n"});
  REQUIRE(ok.error_status == 0);
  REQUIRE(ok.requests.size() == 2);
  CHECK(ok.requests[0].body == "ab\ncd\re\n\n\r\rx");
  CHECK(ok.requests[1].headers.at(0).second == value);
}

TEST_CASE("after an error the parser stays dead until reset", "[protocol][parser]") {
  RequestParser p;
  auto r = p.feed("GET / HTTP/1.1\r\nX Y: 1\r\n\r\n");
  REQUIRE(r.status == RequestParser::Status::Error);
  CHECK(p.error() == ParseError::Malformed);
  CHECK(p.feed("GET / HTTP/1.1\r\n\r\n").status == RequestParser::Status::Error);
  p.reset();
  r = p.feed("GET /ok HTTP/1.1\r\n\r\n");
  REQUIRE(r.status == RequestParser::Status::Complete);
  CHECK(p.request().target == "/ok");
}

TEST_CASE("Request::header is case-insensitive and returns the first", "[protocol][parser]") {
  RequestParser p;
  REQUIRE(p.feed("GET / HTTP/1.1\r\nIf-None-Match: \"a\"\r\nif-none-match: \"b\"\r\n\r\n").status ==
          RequestParser::Status::Complete);
  CHECK(p.request().header("IF-NONE-MATCH") == "\"a\"");
  CHECK(p.request().header("missing").empty());
}

TEST_CASE("an error never reports more bytes consumed than it was given", "[protocol][parser]") {
  // Found by fuzz_request_parser: after a complete request, a bare-LF head in the same buffer
  // failed the framing check with llhttp's stale error position (19 of 16 bytes).
  const std::string buf = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\n";
  RequestParser p;
  const auto first = p.feed(buf);
  REQUIRE(first.status == RequestParser::Status::Complete);
  REQUIRE(first.consumed == 19);
  const std::string_view rest = std::string_view(buf).substr(first.consumed);
  const auto second = p.feed(rest);
  CHECK(second.status == RequestParser::Status::Error);
  CHECK(second.consumed <= rest.size());
}
