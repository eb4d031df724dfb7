#include "client/session_state.h"

#include <algorithm>
#include <cstdio>
#include <random>

namespace sb::client {

SessionState::SessionState(std::string client_id_prefix, std::size_t dedup_capacity)
    : prefix_(std::move(client_id_prefix)),
      dedup_capacity_(std::max<std::size_t>(1, dedup_capacity)) {}

std::string SessionState::NextClientId() {
  return prefix_ + "-" + std::to_string(next_id_++);
}

void SessionState::AddSend(PendingSend send) {
  send.written = false;
  pending_.push_back(std::move(send));
}

std::vector<PendingSend> SessionState::TakeUnwritten() {
  std::vector<PendingSend> out;
  for (PendingSend& send : pending_) {
    if (send.written) continue;
    send.written = true;
    out.push_back(send);
  }
  return out;
}

std::size_t SessionState::OnConnectionLost() {
  std::size_t written = 0;
  for (PendingSend& send : pending_) {
    written += send.written ? 1 : 0;
    send.written = false;
  }
  return written;
}

bool SessionState::OnAnswered(std::string_view client_id) {
  // Answers come in the order of the sends, so the match is nearly always at the front.
  auto it = std::find_if(pending_.begin(), pending_.end(), [client_id](const PendingSend& send) {
    return send.client_id == client_id;
  });
  if (it == pending_.end()) return false;
  pending_.erase(it);
  return true;
}

Arrival SessionState::OnMessage(const std::string& message_id) {
  if (auto it = seen_.find(message_id); it != seen_.end())
    return it->second ? Arrival::kRepeatAcked : Arrival::kRepeatUnacked;

  if (seen_order_.size() >= dedup_capacity_) {
    seen_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
  seen_.emplace(message_id, false);
  seen_order_.push_back(message_id);
  return Arrival::kNew;
}

void SessionState::MarkAcked(const std::string& message_id) {
  if (auto it = seen_.find(message_id); it != seen_.end()) it->second = true;
}

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
                 std::function<double()> uniform)
    : initial_(std::max(initial, std::chrono::milliseconds(1))),
      max_(std::max(max, initial_)),
      uniform_(std::move(uniform)) {}

std::chrono::milliseconds Backoff::Next() {
  // Doubling stops once the cap is reached, so the shift never overflows.
  std::chrono::milliseconds ceiling = initial_;
  for (int i = 0; i < attempt_ && ceiling < max_; ++i)
    ceiling *= 2;
  ceiling = std::min(ceiling, max_);
  ++attempt_;

  const double half = static_cast<double>(ceiling.count()) / 2.0;
  const double jittered = half + half * std::clamp(uniform_(), 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<std::int64_t>(jittered));
}

std::string RandomClientIdPrefix() {
  std::random_device device;
  const std::uint64_t value =
      (static_cast<std::uint64_t>(device()) << 32 | device()) & 0xffffffffffffULL;
  char text[13];
  std::snprintf(text, sizeof text, "%012llx", static_cast<unsigned long long>(value));
  return text;
}

}  // namespace sb::client
