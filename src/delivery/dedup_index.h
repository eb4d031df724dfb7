// The sends the exchange accepted lately, by sender, device and client id, so that a repeated send
// is answered with the first one's message id instead of being accepted twice.
//
// Memory: a record is a 128-bit digest of its key with the message's number, time and expiry, in a
// flat table, plus the digest and expiry time in an expiry queue: about 100 bytes (150 of RSS
// with the tables' slack) with no allocation of its own, where a table of key strings cost ~280
// bytes and three allocations per message. The window (24 hours by default) holds every message
// accepted in it, so this is the exchange's largest per-message memory cost at a steady rate.
//
// Keys are digested with SHA-256, truncated to 128 bits: client ids are chosen by terminals, and a
// collision would answer one sender's send with another's message id, dropping it; with a
// cryptographic digest nobody can craft one.
//
// Contract:
// - Add() expects expiry times in non-decreasing order, as acceptance produces them; records
//   loaded in another order are put right by SortExpiry().
// - Expire() forgets every record whose expiry time has come. A key added again replaces its
//   record, expiry included: the earlier expiry no longer removes it.
// - Not thread-safe: the exchange's loop owns it.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string_view>
#include <utility>

#include "core/identity.h"

namespace sb::delivery {

class DedupIndex {
 public:
  struct Key {
    std::uint64_t high = 0;
    std::uint64_t low = 0;
    bool operator==(const Key&) const = default;
  };
  // What was accepted under a key.
  struct Accepted {
    std::uint64_t seq = 0;  // the message id's number
    std::int64_t ts_ms = 0;
  };

  DedupIndex();
  ~DedupIndex();
  DedupIndex(const DedupIndex&) = delete;
  DedupIndex& operator=(const DedupIndex&) = delete;

  // The digest of a send's identity: its sender, the device it came from and its client id.
  Key KeyOf(const Address& sender, std::string_view device, std::string_view client_id);

  const Accepted* Find(const Key& key) const;
  // Records (or replaces) what `key` was accepted as, until `expires_ms`.
  void Add(const Key& key, const Accepted& accepted, std::int64_t expires_ms);
  // Orders the expiry queue after records were added out of order (a load from the store).
  void SortExpiry();
  void Expire(std::int64_t now_ms);

  std::size_t size() const { return records_.size(); }

  struct KeyHash {
    using is_avalanching = void;  // the digest is uniformly distributed already: no mixing
    std::size_t operator()(const Key& key) const noexcept { return key.low; }
  };

 private:
  struct Hasher;  // a reusable SHA-256 context

  struct Record {
    Accepted accepted;
    std::int64_t expires_ms = 0;
  };

  std::unique_ptr<Hasher> hasher_;
  boost::unordered_flat_map<Key, Record, KeyHash> records_;
  std::deque<std::pair<std::int64_t, Key>> expiry_;  // (expires, key), soonest first
};

}  // namespace sb::delivery
