#include "protocol/etag.h"

#include <catch2/catch.hpp>

#include <set>
#include <string>

using protocol::etag_matches;
using protocol::strong_etag;

TEST_CASE("strong ETags: quoted 16 hex digits, fixed across runs, one per body",
          "[protocol][etag]") {
  // Golden values, recorded when the function was introduced: every instance of a fleet, and
  // every release, must give the same tag for the same bytes (changing the function is a
  // release note: clients revalidate once). They also pin little-endian word loading.
  CHECK(strong_etag("") == "\"efd01f60ba992926\"");
  CHECK(strong_etag("{\"product\":\"1\",\"page\":0,\"count\":5,\"results\":[]}") ==
        "\"b2da8dc23449302b\"");
  // Every length around the 8-byte steps, and a one-byte change anywhere, gives another tag.
  std::set<std::string> seen;
  std::string body;
  int bodies = 0;
  for (int n = 0; n < 40; ++n) {
    body.assign(static_cast<std::size_t>(n), 'a');
    seen.insert(strong_etag(body));
    ++bodies;
    for (int at = 0; at < n; ++at) {
      std::string changed = body;
      changed[static_cast<std::size_t>(at)] = 'b';
      seen.insert(strong_etag(changed));
      ++bodies;
      changed[static_cast<std::size_t>(at)] = static_cast<char>(0xe2);  // UTF-8 lead byte
      seen.insert(strong_etag(changed));
      ++bodies;
    }
  }
  CHECK(static_cast<int>(seen.size()) == bodies);
  for (const auto& tag : seen) {
    REQUIRE(tag.size() == 18);
    CHECK(tag.front() == '"');
    CHECK(tag.back() == '"');
    CHECK(tag.find_first_not_of("0123456789abcdef", 1) == 17);
  }
  // A trailing zero byte is not the same body as none (the length is hashed too).
  CHECK(strong_etag(std::string("ab\0", 3)) != strong_etag("ab"));
}

TEST_CASE("If-None-Match: weak comparison, lists, *", "[protocol][etag]") {
  CHECK(etag_matches("\"x\"", "\"x\""));
  CHECK(etag_matches(" W/\"x\" ", "\"x\""));
  CHECK(etag_matches("\"a\", \"x\"", "\"x\""));
  CHECK(etag_matches("*", "\"x\""));
  CHECK_FALSE(etag_matches("\"a\", \"b\"", "\"x\""));
  CHECK_FALSE(etag_matches("", "\"x\""));
}
