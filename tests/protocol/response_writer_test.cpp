#include "protocol/response_writer.h"

#include <catch2/catch.hpp>

#include <string>

using protocol::DateCache;
using protocol::ResponseContext;
using protocol::ResponseWriter;

namespace {
std::string respond(const ResponseContext& ctx, int status, std::string_view body,
                    std::string_view extra_name = {}, std::string_view extra_value = {}) {
  std::string out;
  ResponseWriter w(out, ctx);
  w.start(status);
  if (!extra_name.empty()) w.header(extra_name, extra_value);
  w.finish(body.empty() ? "" : "text/plain; charset=utf-8", body);
  return out;
}
}  // namespace

TEST_CASE("Date is IMF-fixdate, cached per second", "[protocol][response]") {
  DateCache d;
  CHECK(d.get(1596080481) == "Thu, 30 Jul 2020 03:41:21 GMT");
  CHECK(d.get(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST_CASE("responses carry status, headers, length and body", "[protocol][response]") {
  const ResponseContext ctx{"Thu, 01 Jan 1970 00:00:00 GMT", "*", false, true, false};
  CHECK(
      respond(ctx, 200, "ok") ==
      "HTTP/1.1 200 OK\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\nAccess-Control-Allow-Origin: *\r\n"
      "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n\r\nok");
  const ResponseContext close_head{"", "", true, false, false};
  CHECK(respond(close_head, 404, "Not Found") ==
        "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: 9\r\n\r\n");
  const ResponseContext http10{"", "https://a.example", false, true, true};
  CHECK(respond(http10, 405, "", "Allow", "GET, HEAD, OPTIONS") ==
        "HTTP/1.1 405 Method Not Allowed\r\nAccess-Control-Allow-Origin: https://a.example\r\n"
        "Connection: keep-alive\r\nAllow: GET, HEAD, OPTIONS\r\nContent-Length: 0\r\n\r\n");
  const ResponseContext plain{"", "", false, true, false};
  CHECK(respond(plain, 204, "") == "HTTP/1.1 204 No Content\r\n\r\n");
  CHECK(respond(plain, 304, "", "ETag", "\"x\"") ==
        "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n");
}

TEST_CASE("every status the server sends has its reason phrase", "[protocol][response]") {
  for (const int s :
       {200, 201, 204, 304, 400, 404, 405, 408, 413, 414, 415, 422, 431, 500, 501, 503, 505})
    CHECK(protocol::reason_phrase(s) != "Unknown");
}

TEST_CASE("HEAD keeps Content-Length without the body; odd statuses still format",
          "[protocol][response]") {
  const ResponseContext head{"", "*", true, true, false};
  CHECK(respond(head, 200, "hello") ==
        "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nContent-Type: text/plain; "
        "charset=utf-8\r\nContent-Length: 5\r\n\r\n");
  const ResponseContext plain{"", "", false, true, false};
  const ResponseContext date_only{"Thu, 01 Jan 1970 00:00:00 GMT", "", false, false, false};
  CHECK(respond(date_only, 200, "") ==
        "HTTP/1.1 200 OK\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\nConnection: close\r\n"
        "Content-Length: 0\r\n\r\n");
  CHECK(respond(plain, 299, "") == "HTTP/1.1 299 Unknown\r\nContent-Length: 0\r\n\r\n");
  CHECK(respond(plain, 1000, "") == "HTTP/1.1 1000 Unknown\r\nContent-Length: 0\r\n\r\n");
  // Several responses share one buffer (pipelining): the writer only appends.
  std::string out = "previous";
  ResponseWriter w(out, plain);
  w.start(200);
  w.finish("", std::string(1536, 'x'));
  CHECK(out == "previousHTTP/1.1 200 OK\r\nContent-Length: 1536\r\n\r\n" + std::string(1536, 'x'));
}

TEST_CASE("a prebuilt 200 head gives the same bytes as the assembled one", "[protocol][response]") {
  for (const bool keep_alive : {true, false}) {
    for (const bool http10 : {false, true}) {
      const ResponseContext ctx{"Thu, 01 Jan 1970 00:00:00 GMT", "*", false, keep_alive, http10};
      const std::string common = ResponseWriter::common_head(200, ctx);
      CHECK(common ==
            "HTTP/1.1 200 OK\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
            "Access-Control-Allow-Origin: *\r\n");
      std::string out;
      ResponseWriter w(out, ctx);
      w.start_ok(common);
      w.finish("text/plain; charset=utf-8", "ok");
      CHECK(out == respond(ctx, 200, "ok"));
    }
  }
  // The connection's own line follows the block, whatever it holds.
  const ResponseContext closing{"", "", false, false, false};
  std::string out;
  ResponseWriter w(out, closing);
  w.start_ok("HTTP/1.1 200 OK\r\nX: 1\r\n");
  w.finish("", "");
  CHECK(out == "HTTP/1.1 200 OK\r\nX: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
}
