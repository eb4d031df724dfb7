// The exchange's delivery core: connected terminals, the mailbox of every recipient account,
// acceptance of session messages, fan-out to every device, acks, receipts, dedup and expiry.
//
// The path of one message: Send() checks that `from` is the terminal's own identity and runs the
// registry's four-part check, looks up a repeated client id, picks the route, and appends the
// message to the store. When the store reports it durable, the sender gets `accepted`, the message
// joins the recipient's mailbox and goes to each connected device of the recipient account. A
// device's `ack` marks the message delivered for that device; the sender's terminals get a
// `delivered` receipt on the first ack and a `read` receipt on the first read mark. A message
// leaves the mailbox (and the store) once every known device of the account acked it, or when the
// retention period ends.
//
// Write-behind: with a store that does not sync its commits (Store::SyncsCommits() false, which
// is `[store] durable = false`) there is no durability to wait for, so the sender gets `accepted`
// and the message goes out as soon as it is queued for the store; the store commits it later. A
// crash can then lose accepted messages (docs/durability.md).
//
// Ordering: messages are appended to the store in the order Send() is called and the store
// completes them in that order, so each mailbox, and each sender-recipient pair, keeps acceptance
// order; a device receives its mailbox in that order on connect and new messages after it.
//
// Limits: sends are rate limited per account and per platform (token buckets, `rejected` with
// `rate_limited` and a retry hint). A connection may have at most `max_send_queue_bytes` waiting to
// be written: a device that connects with more waiting gets its mailbox a page at a time (the next
// page when it acks or sends, once half the bound has drained), and a live message that would go
// past the bound drops the connection with `slow_consumer`. The message stays in the mailbox and
// comes again on the next connection, so memory stays bounded and nothing is lost.
//
// Thread-safety: single-threaded. Every call, and every TerminalLink call the exchange makes,
// happens on the loop thread; store completions are brought back there through the Executor.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/executor.h"
#include "core/message.h"
#include "core/metrics.h"
#include "delivery/dedup_index.h"
#include "delivery/rate_limiter.h"
#include "delivery/terminal_link.h"
#include "registry/registry.h"
#include "store/store.h"

namespace sb::delivery {

struct ExchangeOptions {
  std::int64_t retention_ms = 7LL * 24 * 3600 * 1000;
  std::size_t account_queue_quota = 100000;  // messages waiting for one account
  std::int64_t dedup_window_ms = 24LL * 3600 * 1000;
  // How many finished messages are remembered for late read marks.
  std::size_t receipt_memory = 100000;
  // Sends a second (and burst) per sender account, and per sender platform; rate 0: no limit.
  RateLimit account_rate;
  RateLimit platform_rate;
  // Bytes a terminal's connection may have waiting to be written (TerminalLink::Backlog()); 0: no
  // bound.
  std::size_t max_send_queue_bytes = 0;
  // Monotonic milliseconds for the rate limits; tests replace it to move time by hand.
  std::function<std::int64_t()> monotonic_ms = SteadyMillis;

  static std::int64_t SteadyMillis() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

// Picks the egress route of a message from its sender terminal and application id.
using RouteSelector =
    std::function<Route(std::uint64_t terminal_id, const Address& sender, std::string_view app)>;

using TerminalId = std::uint64_t;

// A session message as a terminal asked to send it, before any checks.
struct SendRequest {
  std::string client_id;
  Address from;
  Address to;
  std::string content_json;
  std::string app;
};

class Exchange : public registry::RegistryObserver {
 public:
  Exchange(registry::Registry& registry, store::Store& store, Executor loop,
           MetricsRegistry& metrics, ExchangeOptions options);
  ~Exchange() override;

  // Seeds mailboxes, devices and dedup records from the store's snapshot.
  void Load(const store::Snapshot& snapshot);
  void SetRouteSelector(RouteSelector selector) { route_selector_ = std::move(selector); }

  // A terminal authenticated as `address` on `device`. Everything waiting in the account's mailbox
  // that this device has not acked is delivered, at once or a page at a time when it is more than
  // half the send queue bound. The link must stay valid until Detach() (which the exchange calls
  // itself before it disconnects a slow consumer).
  void Attach(TerminalId id, const Address& address, const std::string& device,
              std::shared_ptr<TerminalLink> link);
  void Detach(TerminalId id);

  void Send(TerminalId id, SendRequest request);
  void Ack(TerminalId id, const std::string& message_id);
  void Read(TerminalId id, const std::string& message_id);

  // Drops expired messages and dedup records; call periodically.
  void Sweep(std::int64_t now_ms);

  // The address an attached terminal authenticated as; nullptr once it is detached (or never was).
  // Valid until the terminal is detached.
  const Address* AddressOf(TerminalId id) const;

  std::size_t TerminalCount() const { return terminals_.size(); }
  std::size_t QueuedMessages() const { return queued_messages_; }
  struct TerminalInfo {
    TerminalId id = 0;
    std::string device;
    std::int64_t connected_ms = 0;
    Route route;  // the egress that a chat message from it would take now
  };
  // The connected terminals of one account, for admin views.
  std::vector<TerminalInfo> TerminalsOf(const Address& address) const;

  // registry::RegistryObserver
  void OnPlatformDeregistered(const std::string& platform_id) override;
  void OnAccountsRemoved(const std::string& platform_id,
                         const std::vector<std::string>& accounts) override;

 private:
  struct Pending;
  struct Mailbox;
  struct Terminal;
  struct InFlight;
  struct CommitInbox;
  struct ReceiptTarget;

  Status CheckRecipient(const SendRequest& request) const;
  Status CheckRate(const Address& sender);
  void AckMessage(Terminal& terminal, const std::string& message_id);
  void CatchUp(Terminal& terminal);
  bool PageFull(const Terminal& terminal) const;
  bool WouldOverflow(const Terminal& terminal, const Pending& pending) const;
  void DropSlowConsumer(TerminalId id);
  bool AckedByAll(const Mailbox& mailbox, const Pending& pending) const;
  void ForgetStaleDevices(Mailbox& mailbox, std::int64_t stale_before_ms);
  bool AnswerDuplicate(Terminal& terminal, const SendRequest& request, const DedupIndex::Key& key);
  void Accept(Terminal& terminal, SendRequest request, DedupIndex::Key dedup_key);
  std::shared_ptr<Pending> MakePending(const Terminal& terminal, SendRequest request,
                                       DedupIndex::Key dedup_key);
  void OnDurable(const std::shared_ptr<Pending>& pending, Status status);
  void Admit(const std::shared_ptr<Pending>& pending, std::span<const TerminalId> askers);
  void FanOut(const std::shared_ptr<Pending>& pending);
  void DeliverTo(Terminal& terminal, const Pending& pending);
  void Finish(Mailbox& mailbox, const std::string& message_id);
  void RememberFinished(ReceiptTarget target);
  void SendReceipt(const Address& sender, const std::string& client_id,
                   const std::string& message_id, ReceiptStatus status);
  void RememberDevice(const Address& address, const std::string& device);
  void DropAccount(const Address& address, const Error& why);
  void Reject(Terminal& terminal, const std::string& client_id, const Error& error);
  std::string NextMessageId();

  registry::Registry& registry_;
  store::Store& store_;
  Executor loop_;
  ExchangeOptions options_;
  RouteSelector route_selector_;
  const bool write_behind_;  // accept without waiting for the commit (see the top of this file)
  // Shared with store completions, which may outlive the exchange during shutdown.
  std::shared_ptr<CommitInbox> inbox_;

  std::unordered_map<TerminalId, Terminal> terminals_;           // nodes: a Terminal& stays valid
  std::unordered_map<Address, Mailbox, AddressHash> mailboxes_;  // nodes: a Mailbox& stays valid
  DedupIndex dedup_;                                             // what was accepted, by dedup key
  std::unordered_map<DedupIndex::Key, std::shared_ptr<InFlight>, DedupIndex::KeyHash>
      in_flight_;  // accepted, not yet durable, by dedup key
  struct ReceiptTarget {
    std::uint64_t seq = 0;  // the message id's number
    std::string message_id;
    Address sender;
    Address recipient;
    std::string client_id;
    bool read_sent = false;
  };
  // The last receipt_memory finished messages, for late read marks: a ring whose slots are reused
  // (no allocation per message once full), and each one's slot by message id number.
  std::vector<ReceiptTarget> finished_;
  std::size_t finished_next_ = 0;  // once the ring is full: its oldest slot, the next to reuse
  boost::unordered_flat_map<std::uint64_t, std::uint32_t> finished_slots_;
  std::size_t queued_messages_ = 0;
  std::uint64_t last_message_seq_ = 0;

  Counter& accepted_;
  Counter& duplicates_;
  Counter& delivered_;
  Counter& acked_;
  Counter& expired_;
  Counter& slow_consumers_;
  Counter& catch_up_pauses_;
  KeyedRateLimiter account_limiter_;
  KeyedRateLimiter platform_limiter_;
  MetricsRegistry& metrics_;
  Gauge& queue_depth_;
  Gauge& terminals_gauge_;
  Histogram& accept_latency_;
};

}  // namespace sb::delivery
