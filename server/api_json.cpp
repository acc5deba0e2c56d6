#include "server/api_json.h"

#include "protocol/json_writer.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <string_view>
#include <vector>

namespace server::api {

namespace {

std::string_view text(const PGresult* r, int row, int col) {
  return {PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col))};
}

std::int64_t integer(const PGresult* r, int row, int col) {
  const auto s = text(r, row, col);
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

bool boolean(const PGresult* r, int row, int col) { return text(r, row, col) == "t"; }

// Columns of kReviews* (db/statements.h).
enum ReviewCol {
  kId,
  kRating,
  kSummary,
  kRecommend,
  kResponse,
  kBody,
  kDate,
  kName,
  kHelpfulness,
  kPhotoId,
  kPhotoUrl
};

}  // namespace

void append_reviews_body(std::string& out, std::int32_t product_id, std::int32_t page0,
                         std::int32_t count, const PGresult* rows) {
  protocol::JsonWriter w(out);
  char num[16];
  const auto end = std::to_chars(num, num + sizeof num, product_id).ptr;
  w.begin_object()
      .key("product")
      .value(std::string_view(num, static_cast<std::size_t>(end - num)))
      .key("page")
      .value(page0)
      .key("count")
      .value(count)
      .key("results")
      .begin_array();
  const int n = PQntuples(rows);
  for (int i = 0; i < n;) {
    const std::string_view id = text(rows, i, kId);
    w.begin_object().key("review_id").value(integer(rows, i, kId));
    w.key("rating").value(integer(rows, i, kRating));
    w.key("summary").value(text(rows, i, kSummary));
    w.key("recommend").value(boolean(rows, i, kRecommend));
    w.key("response");
    if (PQgetisnull(rows, i, kResponse)) {
      w.null();
    } else {
      w.value(text(rows, i, kResponse));
    }
    w.key("body").value(text(rows, i, kBody));
    std::string date;
    protocol::append_iso8601_ms(date, integer(rows, i, kDate));
    w.key("date").value(date);
    w.key("reviewer_name").value(text(rows, i, kName));
    w.key("helpfulness").value(integer(rows, i, kHelpfulness));
    w.key("photos").begin_array();
    // Consecutive rows of the same review carry its photos, in id order.
    for (; i < n && text(rows, i, kId) == id; ++i) {
      if (PQgetisnull(rows, i, kPhotoId)) continue;
      w.begin_object()
          .key("id")
          .value(integer(rows, i, kPhotoId))
          .key("url")
          .value(text(rows, i, kPhotoUrl))
          .end_object();
    }
    w.end_array().end_object();
  }
  w.end_array().end_object();
}

void append_meta_body(std::string& out, std::int32_t product_id, const PGresult* rows) {
  std::array<std::int64_t, 6> ratings{};
  std::array<std::int64_t, 2> recommended{};
  struct Characteristic {
    std::int64_t id;
    std::string_view name;
    bool has_avg;
    std::string_view avg;
  };
  std::vector<Characteristic> chars;
  const int n = PQntuples(rows);
  for (int i = 0; i < n; ++i) {
    // Columns: kind, a, b, n, name, avg.
    if (integer(rows, i, 0) == 0) {
      const auto rating = integer(rows, i, 1);
      const auto count = integer(rows, i, 3);
      if (rating >= 1 && rating <= 5) ratings[static_cast<std::size_t>(rating)] += count;
      recommended[integer(rows, i, 2) != 0 ? 1 : 0] += count;
    } else {
      chars.push_back(
          {integer(rows, i, 1), text(rows, i, 4), !PQgetisnull(rows, i, 5), text(rows, i, 5)});
    }
  }
  std::sort(chars.begin(), chars.end(),
            [](const Characteristic& a, const Characteristic& b) { return a.id < b.id; });

  protocol::JsonWriter w(out);
  const std::string product = std::to_string(product_id);
  w.begin_object().key("product_id").value(product).key("ratings").begin_object();
  for (std::size_t star = 1; star <= 5; ++star) {
    if (ratings[star] == 0) continue;
    const char key[2] = {static_cast<char>('0' + star), 0};
    w.key(std::string_view(key, 1)).value(std::to_string(ratings[star]));
  }
  w.end_object().key("recommended").begin_object();
  if (recommended[0]) w.key("false").value(std::to_string(recommended[0]));
  if (recommended[1]) w.key("true").value(std::to_string(recommended[1]));
  w.end_object().key("characteristics").begin_object();
  for (const auto& c : chars) {
    w.key(c.name).begin_object().key("id").value(c.id).key("value");
    if (c.has_avg) {
      w.value(c.avg);
    } else {
      w.null();
    }
    w.end_object();
  }
  w.end_object().end_object();
}

void append_related_body(std::string& out, const PGresult* rows) {
  protocol::JsonWriter w(out);
  w.begin_array();
  const int n = PQntuples(rows);
  for (int i = 0; i < n; ++i) w.value(integer(rows, i, 0));
  w.end_array();
}

}  // namespace server::api
