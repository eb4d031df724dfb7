// Token buckets: the exchange's rate limits on sends (per account, per platform), on frames (per
// connection) and on API calls (per platform key).
//
// A bucket holds at most `burst` tokens and gains `rate` tokens a second; each admitted event
// takes one. A rate of 0 disables the limit. Time is passed in by the caller (milliseconds of a
// monotonic clock), so tests drive it without sleeping.
//
// Thread-safety: none; each owner uses its buckets from one thread (the loop thread).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace sb::delivery {

struct RateLimit {
  double rate = 0;   // tokens a second; 0: unlimited
  double burst = 1;  // tokens saved up at most (and at the start)

  bool Unlimited() const { return rate <= 0; }
};

class TokenBucket {
 public:
  TokenBucket(RateLimit limit, std::int64_t now_ms)
      : limit_(limit), tokens_(std::max(limit.burst, 1.0)), last_ms_(now_ms) {}

  // Milliseconds until one token is there: 0 when one can be taken now.
  std::int64_t WaitMs(std::int64_t now_ms) {
    if (limit_.Unlimited()) return 0;
    Refill(now_ms);
    if (tokens_ >= 1) return 0;
    return static_cast<std::int64_t>(std::ceil((1 - tokens_) * 1000 / limit_.rate));
  }
  // Takes one token when there is one; returns WaitMs() as it was before taking.
  std::int64_t Take(std::int64_t now_ms) {
    const std::int64_t wait = WaitMs(now_ms);
    if (wait == 0 && !limit_.Unlimited()) tokens_ -= 1;
    return wait;
  }
  // Whether the bucket has refilled completely: its owner has been within the rate for a while.
  bool Full(std::int64_t now_ms) const {
    return limit_.Unlimited() || TokensAt(now_ms) >= std::max(limit_.burst, 1.0);
  }

 private:
  double TokensAt(std::int64_t now_ms) const {
    if (now_ms <= last_ms_) return tokens_;
    const double gained = static_cast<double>(now_ms - last_ms_) * limit_.rate / 1000;
    return std::min(std::max(limit_.burst, 1.0), tokens_ + gained);
  }
  void Refill(std::int64_t now_ms) {
    tokens_ = TokensAt(now_ms);
    last_ms_ = std::max(last_ms_, now_ms);
  }

  RateLimit limit_;
  double tokens_;
  std::int64_t last_ms_;
};

// One bucket per key (an account, a platform), created full on first use. Prune() forgets full
// buckets, which behave exactly like fresh ones, so memory follows the active keys only.
class KeyedRateLimiter {
 public:
  explicit KeyedRateLimiter(RateLimit limit) : limit_(limit) {}

  std::int64_t WaitMs(const std::string& key, std::int64_t now_ms) {
    if (limit_.Unlimited()) return 0;
    return Bucket(key, now_ms).WaitMs(now_ms);
  }
  std::int64_t Take(const std::string& key, std::int64_t now_ms) {
    if (limit_.Unlimited()) return 0;
    return Bucket(key, now_ms).Take(now_ms);
  }
  void Prune(std::int64_t now_ms) {
    std::erase_if(buckets_, [now_ms](const auto& entry) { return entry.second.Full(now_ms); });
  }
  std::size_t Size() const { return buckets_.size(); }

 private:
  TokenBucket& Bucket(const std::string& key, std::int64_t now_ms) {
    return buckets_.try_emplace(key, limit_, now_ms).first->second;
  }

  RateLimit limit_;
  std::unordered_map<std::string, TokenBucket> buckets_;
};

}  // namespace sb::delivery
