// EntryIndex: the open-addressing map inside each cache shard. Probe runs that wrap around the
// end of the array and erasures inside runs are the cases a linear-probing table gets wrong.
#include "cache/entry_index.h"

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <unordered_map>

namespace {

struct Key {
  std::string text;
  std::size_t hash;
};
struct Node {
  explicit Node(Key k, int v) : key(std::move(k)), value(v) {}
  Key key;
  int value;
};
using Index = cache::EntryIndex<Node>;

}  // namespace

TEST_CASE("EntryIndex finds what was inserted, compares the key, not only the hash",
          "[cache][index]") {
  Index index;
  CHECK(index.find("a", 1) == nullptr);  // empty: no array yet
  Node* a = index.insert(Key{"a", 7}, 1);
  Node* b = index.insert(Key{"b", 7}, 2);  // same hash, other key
  CHECK(index.size() == 2);
  CHECK(index.find("a", 7) == a);
  CHECK(index.find("b", 7) == b);
  CHECK(index.find("c", 7) == nullptr);
  CHECK(index.find("a", 8) == nullptr);
  index.erase(a);
  CHECK(index.find("a", 7) == nullptr);
  CHECK(index.find("b", 7) == b);  // was behind a in the probe run
  CHECK(index.size() == 1);
}

TEST_CASE("EntryIndex: runs that wrap around the end, erased from the middle", "[cache][index]") {
  Index index;
  index.insert(Key{"x", 0}, 0);  // allocates the first array
  const std::size_t cap = index.capacity();
  REQUIRE(cap >= 8);
  // Homes at the last two slots: the run wraps into slots 0.. where "x" already sits.
  const std::size_t last = cap - 1, before_last = cap - 2;
  Node* p = index.insert(Key{"p", before_last}, 1);
  Node* q = index.insert(Key{"q", last}, 2);
  Node* r = index.insert(Key{"r", last}, 3);  // wraps to slot 0's run
  Node* s = index.insert(Key{"s", before_last}, 4);
  REQUIRE(index.capacity() == cap);  // still no growth: the layout is as planned
  for (Node* n : {p, q, r, s}) CHECK(index.find(n->key.text, n->key.hash) == n);
  index.erase(q);  // middle of the wrapped run: r and s must shift back and stay findable
  CHECK(index.find("q", last) == nullptr);
  CHECK(index.find("p", before_last) == p);
  CHECK(index.find("r", last) == r);
  CHECK(index.find("s", before_last) == s);
  CHECK(index.find("x", 0) != nullptr);
  index.erase(p);
  CHECK(index.find("r", last) == r);
  CHECK(index.find("s", before_last) == s);
  CHECK(index.find("x", 0) != nullptr);
}

TEST_CASE("EntryIndex agrees with std::unordered_map over random inserts and erasures",
          "[cache][index]") {
  Index index;
  std::unordered_map<std::string, Node*> model;
  std::mt19937_64 rng(5);
  // Keys of two digits all share one hash (a long run of collisions), the others spread; the
  // key set grows and shrinks, so the array grows and runs are cut by erasures.
  for (int step = 0; step < 100000; ++step) {
    const std::string text = std::to_string(rng() % 1000);
    const std::size_t h = text.size() == 2 ? 64 : std::hash<std::string>{}(text);
    const auto it = model.find(text);
    Node* found = index.find(text, h);
    REQUIRE(found == (it == model.end() ? nullptr : it->second));
    if (it == model.end()) {
      if (rng() % 3 != 0) model.emplace(text, index.insert(Key{text, h}, step));
    } else if (rng() % 2 == 0) {
      index.erase(it->second);
      model.erase(it);
    }
    REQUIRE(index.size() == model.size());
    REQUIRE(2 * index.size() <= index.capacity());
  }
  for (const auto& [text, node] : model) CHECK(node->key.text == text);
}
