// The bookkeeping of a Terminal that involves no I/O, kept apart so that it can be tested alone:
// client ids, sends awaiting an answer, the window of message ids already passed on, and the
// reconnection backoff.
//
// Not thread-safe: Terminal guards a SessionState with its mutex, and owns its Backoff on the I/O
// thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/identity.h"

namespace sb::client {

struct PendingSend {
  std::string client_id;
  Address to;
  std::string content_json;
  bool written = false;  // written on the current connection
};

// What a delivered message is to the application.
enum class Arrival {
  kNew,            // pass it on
  kRepeatAcked,    // seen and acked before: drop it, but ack again (the ack may have been lost)
  kRepeatUnacked,  // seen, the application has not acked it yet: drop it
};

class SessionState {
 public:
  // `dedup_capacity` >= 1 message ids are remembered.
  SessionState(std::string client_id_prefix, std::size_t dedup_capacity);

  // `<prefix>-<n>`, n counting from 1.
  std::string NextClientId();

  // Sends: queued in order, written, answered.
  void AddSend(PendingSend send);
  // Sends not yet written on this connection, in order; they count as written from now on.
  std::vector<PendingSend> TakeUnwritten();
  // Forgets which sends were written, so that all of them go out again on the next connection.
  // Returns how many had been written (and will be re-sent).
  std::size_t OnConnectionLost();
  // Removes the send with this client id; false when none waits (an answer to a re-send that was
  // already answered, or an id not ours).
  bool OnAnswered(std::string_view client_id);
  std::size_t PendingCount() const { return pending_.size(); }

  // Deliveries.
  Arrival OnMessage(const std::string& message_id);
  void MarkAcked(const std::string& message_id);

 private:
  std::string prefix_;
  std::uint64_t next_id_ = 1;
  std::deque<PendingSend> pending_;
  std::size_t dedup_capacity_;
  std::unordered_map<std::string, bool> seen_;  // message id -> acked by the application
  std::deque<std::string> seen_order_;          // oldest first, for forgetting
};

// Exponential backoff with jitter: the n-th Next() since Reset() returns a random delay in
// [d/2, d] with d = min(max, initial * 2^n).
class Backoff {
 public:
  // `uniform` returns a number in [0, 1); tests pass a fixed one.
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
          std::function<double()> uniform);

  std::chrono::milliseconds Next();
  void Reset() { attempt_ = 0; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  std::function<double()> uniform_;
  int attempt_ = 0;
};

// A random client id prefix: 12 hex digits.
std::string RandomClientIdPrefix();

}  // namespace sb::client
