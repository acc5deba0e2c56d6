// TimerList: connections waiting out the same timeout, oldest deadline first.
//
// Every entry of one list has the same timeout, and deadlines are "now + timeout" with a
// monotonic now, so appending keeps the list sorted: arm, re-arm and cancel are O(1) and expiry
// only ever looks at the front. Cheaper than a heap for the timeout that every request resets.
#pragma once

#include <cstdint>

namespace server {

class TimerList {
 public:
  // Embedded in the timed object (intrusive): no allocation per arm.
  struct Node {
    Node* prev = nullptr;
    Node* next = nullptr;
    TimerList* list = nullptr;  // the list this node is in, or nullptr
    std::int64_t deadline = 0;
  };

  // Moves `n` to the back with `deadline` (out of whatever list it was in).
  void push_back(Node* n, std::int64_t deadline) noexcept {
    unlink(n);
    n->deadline = deadline;
    n->list = this;
    n->prev = tail_;
    n->next = nullptr;
    (tail_ ? tail_->next : head_) = n;
    tail_ = n;
  }
  // Takes `n` out of its list, if any.
  static void unlink(Node* n) noexcept {
    TimerList* l = n->list;
    if (!l) return;
    (n->prev ? n->prev->next : l->head_) = n->next;
    (n->next ? n->next->prev : l->tail_) = n->prev;
    n->prev = n->next = nullptr;
    n->list = nullptr;
  }
  [[nodiscard]] Node* front() const noexcept { return head_; }

 private:
  Node* head_ = nullptr;
  Node* tail_ = nullptr;
};

}  // namespace server
