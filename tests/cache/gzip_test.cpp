// Tests protocol/gzip.cpp: compress/decompress round trips, refusal of broken input, and the
// Accept-Encoding decision. It lives with the cache tests because cached responses carry the
// gzip variant.
#include "protocol/gzip.h"

#include <catch2/catch.hpp>

#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace {

// ~1 MB of review-like JSON: repetitive structure with varying numbers and words, like the API's
// real responses.
std::string json_like(std::size_t at_least) {
  static constexpr std::string_view kWords[] = {"great", "sturdy", "cheap", "broke", "lovely",
                                                "slow",  "fast",   "would", "buy",   "again"};
  std::mt19937 rng(7);
  std::string out = "[";
  for (int i = 0; out.size() < at_least; ++i) {
    if (i > 0) out += ',';
    out += R"({"id":)" + std::to_string(rng() % 10'000'000) + R"(,"product_id":)" +
           std::to_string(rng() % 1'000'011) + R"(,"rating":)" + std::to_string(rng() % 5 + 1) +
           R"(,"created_at":"2023-0)" + std::to_string(rng() % 9 + 1) + R"(-1)" +
           std::to_string(rng() % 9) + R"(T12:34:56.789Z","body":")";
    for (int w = 0; w < 12; ++w) {
      if (w > 0) out += ' ';
      out += kWords[rng() % std::size(kWords)];
    }
    out += "\"}";
  }
  out += ']';
  return out;
}

}  // namespace

TEST_CASE("gzip round trips empty, one byte, binary and large text", "[protocol][gzip]") {
  for (const std::string& input : {std::string(), std::string("x"), std::string(1, '\0')}) {
    const std::string packed = protocol::gzip_compress(input);
    CHECK(packed.size() >= 18);  // 10-byte header + 8-byte trailer
    CHECK(static_cast<unsigned char>(packed[0]) == 0x1f);
    CHECK(static_cast<unsigned char>(packed[1]) == 0x8b);
    const auto unpacked = protocol::gzip_decompress(packed);
    REQUIRE(unpacked.has_value());
    CHECK(*unpacked == input);
  }

  std::string binary;
  for (int i = 0; i < 70'000; ++i) binary += static_cast<char>((i * 7919) & 0xff);
  const auto binary_back = protocol::gzip_decompress(protocol::gzip_compress(binary));
  REQUIRE(binary_back.has_value());
  CHECK(*binary_back == binary);

  const std::string text = json_like(1 << 20);
  const std::string packed = protocol::gzip_compress(text);
  INFO("1 MiB of JSON packs to " << packed.size() << " bytes");
  CHECK(packed.size() * 4 < text.size());  // several-fold smaller
  const auto unpacked = protocol::gzip_decompress(packed);
  REQUIRE(unpacked.has_value());
  CHECK(*unpacked == text);  // also more than one 16 KiB inflate buffer
}

TEST_CASE("gzip_decompress refuses what is not exactly one gzip member", "[protocol][gzip]") {
  using protocol::gzip_decompress;
  CHECK_FALSE(gzip_decompress("").has_value());
  CHECK_FALSE(gzip_decompress("not gzip at all").has_value());
  CHECK_FALSE(gzip_decompress(std::string(100, '\x1f')).has_value());

  const std::string text = json_like(100'000);
  const std::string packed = protocol::gzip_compress(text);
  // Truncated anywhere: in the header, in the deflate data, in the trailer.
  for (const std::size_t keep : {std::size_t{1}, std::size_t{2}, std::size_t{9}, std::size_t{10},
                                 packed.size() / 2, packed.size() - 8, packed.size() - 1}) {
    INFO("kept " << keep << " of " << packed.size() << " bytes");
    CHECK_FALSE(gzip_decompress(std::string_view(packed).substr(0, keep)).has_value());
  }
  // A damaged CRC-32 or length in the trailer.
  for (const std::size_t at : {packed.size() - 8, packed.size() - 1}) {
    std::string damaged = packed;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x01);
    CHECK_FALSE(gzip_decompress(damaged).has_value());
  }
  // Bytes after the member.
  CHECK_FALSE(gzip_decompress(packed + "x").has_value());
  // Raw zlib framing is not gzip.
  CHECK_FALSE(gzip_decompress(std::string("\x78\x9c\x03\x00\x00\x00\x00\x01", 8)).has_value());
}

TEST_CASE("accepts_gzip reads Accept-Encoding with q-values", "[protocol][gzip]") {
  struct Case {
    std::string_view header;
    bool accepts;
  };
  const Case cases[] = {
      {"gzip", true},
      {"GZip", true},
      {"deflate, br", false},
      {"gzip;q=0", false},
      {"gzip; q=0.000", false},
      {"gzip;q=0.5", true},
      {"*", true},
      {"br;q=1.0, gzip;q=0.8", true},
      {"", false},
      {"x-gzip", true},
      {"gzipx", false},
      {"gzip, deflate, br", true},
      {" gzip ", true},
      {"deflate,gzip", true},
      {"GZIP;Q=0", false},
      {"gzip;q=0.001", true},
      {"gzip;q=1", true},
      {"identity", false},
      {"*;q=0", false},
      {"*;q=0, gzip", true},
      {"br, *;q=0.1", true},
      // An explicit refusal wins over the wildcard (RFC 9110 12.5.3: "*" matches codings not
      // listed).
      {"gzip;q=0, *", false},
      {"*, gzip;q=0", false},
      {"x-gzip;q=0, *", false},
      {"gzip;q=0, x-gzip", true},  // x-gzip is gzip's alias: one acceptance is enough
  };
  for (const auto& c : cases) {
    INFO("Accept-Encoding: \"" << c.header << '"');
    CHECK(protocol::accepts_gzip(c.header) == c.accepts);
  }
}
