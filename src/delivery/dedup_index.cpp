#include "delivery/dedup_index.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sb::delivery {

namespace {

[[noreturn]] void DigestFailed() {
  // Only an allocation failure inside OpenSSL gets here; no stand-in digest would be safe.
  std::fputs("sb::delivery: SHA-256 failed\n", stderr);
  std::abort();
}

}  // namespace

// One context, fetched and created once: a one-shot digest call costs about three times as much.
struct DedupIndex::Hasher {
  Hasher() : sha256(EVP_MD_fetch(nullptr, "SHA256", nullptr)), context(EVP_MD_CTX_new()) {
    if (sha256 == nullptr || context == nullptr) DigestFailed();
  }
  ~Hasher() {
    EVP_MD_CTX_free(context);
    EVP_MD_free(sha256);
  }
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void Begin() {
    if (EVP_DigestInit_ex2(context, sha256, nullptr) != 1) DigestFailed();
  }
  // Each part is preceded by its length, so that no two different keys digest the same bytes.
  void Part(std::string_view part) {
    const auto size = static_cast<std::uint64_t>(part.size());
    if (EVP_DigestUpdate(context, &size, sizeof size) != 1 ||
        EVP_DigestUpdate(context, part.data(), part.size()) != 1) {
      DigestFailed();
    }
  }
  Key Finish() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    if (EVP_DigestFinal_ex(context, digest.data(), &size) != 1 || size < 16) DigestFailed();
    Key key;
    std::memcpy(&key.high, digest.data(), sizeof key.high);
    std::memcpy(&key.low, digest.data() + sizeof key.high, sizeof key.low);
    return key;
  }

  EVP_MD* sha256;
  EVP_MD_CTX* context;
};

DedupIndex::DedupIndex() : hasher_(std::make_unique<Hasher>()) {}

DedupIndex::~DedupIndex() = default;

DedupIndex::Key DedupIndex::KeyOf(const Address& sender, std::string_view device,
                                  std::string_view client_id) {
  hasher_->Begin();
  hasher_->Part(sender.platform);
  hasher_->Part(sender.account);
  hasher_->Part(device);
  hasher_->Part(client_id);
  return hasher_->Finish();
}

const DedupIndex::Accepted* DedupIndex::Find(const Key& key) const {
  auto it = records_.find(key);
  return it == records_.end() ? nullptr : &it->second.accepted;
}

void DedupIndex::Add(const Key& key, const Accepted& accepted, std::int64_t expires_ms) {
  records_.insert_or_assign(key, Record{accepted, expires_ms});
  expiry_.emplace_back(expires_ms, key);
}

void DedupIndex::SortExpiry() {
  std::stable_sort(expiry_.begin(), expiry_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
}

void DedupIndex::Expire(std::int64_t now_ms) {
  while (!expiry_.empty() && expiry_.front().first <= now_ms) {
    auto it = records_.find(expiry_.front().second);
    if (it != records_.end() && it->second.expires_ms <= now_ms) records_.erase(it);
    expiry_.pop_front();
  }
}

}  // namespace sb::delivery
