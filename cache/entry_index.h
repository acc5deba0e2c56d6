// EntryIndex: a shard's map from key to entry. Open addressing with linear probing over a
// power-of-two array of (hash, node) slots, kept at most half full, so a lookup reads one slot
// (the full hash inline, compared before the key) and then the node it points to.
//
// Why not std::unordered_map, and what it measured: cache/README.md.
//
// Node is any type with a `key` member exposing `hash` and `text` (cache::Key). The index owns
// its nodes: insert() allocates one, erase() deletes it. Erasure shifts later slots of the probe
// run back (no tombstones), so lookups never slow down with churn.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

namespace cache {

template <class Node>
class EntryIndex {
 public:
  EntryIndex() = default;
  EntryIndex(const EntryIndex&) = delete;
  EntryIndex& operator=(const EntryIndex&) = delete;
  ~EntryIndex() {
    for (const Slot& s : slots_) delete s.node;
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return slots_.size(); }

  // The node whose key is `text` (with hash `hash`), or nullptr.
  [[nodiscard]] Node* find(std::string_view text, std::size_t hash) const noexcept {
    if (slots_.empty()) return nullptr;
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (!s.node) return nullptr;
      if (s.hash == hash && s.node->key.text == text) return s.node;
    }
  }

  // Adds a node built from `args`; its key must not be present. On an exception (allocation)
  // nothing changed.
  template <class... Args>
  Node* insert(Args&&... args) {
    if (2 * (size_ + 1) > slots_.size()) grow();
    auto node = std::make_unique<Node>(std::forward<Args>(args)...);
    place({node->key.hash, node.get()});
    ++size_;
    return node.release();
  }

  // Removes and deletes `node`, which must be in the index.
  void erase(Node* node) noexcept {
    const std::size_t mask = slots_.size() - 1;
    std::size_t hole = node->key.hash & mask;
    while (slots_[hole].node != node) hole = (hole + 1) & mask;
    delete node;
    --size_;
    // Backward shift: move each later slot of the run whose home is not inside (hole, j] into
    // the hole, until an empty slot ends the run.
    for (std::size_t j = (hole + 1) & mask; slots_[j].node; j = (j + 1) & mask) {
      const std::size_t home = slots_[j].hash & mask;
      const bool stays = hole < j ? (home > hole && home <= j) : (home > hole || home <= j);
      if (stays) continue;
      slots_[hole] = slots_[j];
      hole = j;
    }
    slots_[hole] = Slot{};
  }

 private:
  struct Slot {
    std::size_t hash = 0;
    Node* node = nullptr;  // nullptr: empty
  };
  static constexpr std::size_t kMinSlots = 16;

  void place(Slot s) noexcept {
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = s.hash & mask;
    while (slots_[i].node) i = (i + 1) & mask;
    slots_[i] = s;
  }
  void grow() {
    std::vector<Slot> old(slots_.empty() ? kMinSlots : 2 * slots_.size());
    old.swap(slots_);
    for (const Slot& s : old)
      if (s.node) place(s);
  }

  std::vector<Slot> slots_;  // size 0 or a power of two
  std::size_t size_ = 0;
};

}  // namespace cache
