#include "delivery/exchange.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/container/small_vector.hpp>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <limits>
#include <map>
#include <mutex>
#include <span>

#include "core/clock.h"

namespace sb::delivery {
namespace {

spdlog::logger& Log() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    auto l = spdlog::get("delivery");
    return l ? l : spdlog::default_logger()->clone("delivery");
  }();
  return *logger;
}

// Message ids are 16 hex digits of a 64-bit number: the acceptance time in milliseconds shifted
// left by 16 bits, plus a counter for messages within the same millisecond. They grow
// monotonically, so an id is never reused across restarts while the clock does not go back.
std::string FormatMessageId(std::uint64_t seq) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(16, '0');
  for (int i = 15; i >= 0; --i, seq >>= 4)
    id[static_cast<std::size_t>(i)] = kHex[seq & 0xf];
  return id;
}

std::uint64_t ParseMessageId(const std::string& id) {
  return std::strtoull(id.c_str(), nullptr, 16);
}

}  // namespace

struct Exchange::Pending {
  SessionMessage message;
  std::uint64_t seq = 0;  // the message id's number, its key in the mailbox
  std::int64_t expires_ms = 0;
  // The devices that acknowledged it: a handful at most, so a vector rather than a hash set.
  std::vector<std::string> acked_devices;

  bool AckedBy(std::string_view device) const {
    return std::find(acked_devices.begin(), acked_devices.end(), device) != acked_devices.end();
  }
  // False when the device had acknowledged it already.
  bool MarkAcked(std::string_view device) {
    if (AckedBy(device)) return false;
    acked_devices.emplace_back(device);
    return true;
  }
  bool delivered_sent = false;
  bool read_sent = false;
  // Until durable: who asked, and when, for the `accepted` answer and the latency metric.
  TerminalId sender_terminal = 0;
  DedupIndex::Key dedup_key;
  std::chrono::steady_clock::time_point submitted;
};

struct Exchange::Mailbox {
  std::map<std::uint64_t, std::shared_ptr<Pending>> messages;  // by message id number, in order
  // Known device -> last seen. A vector, not a map: an account has a handful of devices, and
  // each idle mailbox would otherwise carry a hash table's bucket array and nodes.
  std::vector<std::pair<std::string, std::int64_t>> devices;
  // Connected now: most accounts have one device online, kept without an allocation of its own.
  boost::container::small_vector<TerminalId, 1> terminals;
  std::size_t in_flight = 0;  // accepted, not yet durable
};

namespace {

void SetLastSeen(std::vector<std::pair<std::string, std::int64_t>>& devices,
                 const std::string& device, std::int64_t when_ms) {
  auto known = std::find_if(devices.begin(), devices.end(),
                            [&](const auto& seen) { return seen.first == device; });
  if (known != devices.end()) {
    known->second = when_ms;
  } else {
    devices.emplace_back(device, when_ms);
  }
}

}  // namespace

struct Exchange::Terminal {
  TerminalId id = 0;
  Address address;
  std::string device;
  std::shared_ptr<TerminalLink> link;
  std::int64_t connected_ms = 0;
  // Unless kCaughtUp, the mailbox is still being delivered a page at a time: the last message id
  // number handed over. Live messages wait for the pages to reach them.
  static constexpr std::uint64_t kCaughtUp = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t catch_up_after = kCaughtUp;
  bool CatchingUp() const { return catch_up_after != kCaughtUp; }
};

struct Exchange::InFlight {
  std::string message_id;
  std::vector<TerminalId> waiters;  // terminals that repeated the client id meanwhile
};

// Outcomes of store commits, carried to the loop one batch at a time: the first outcome added to
// an empty inbox posts one drain task, and later ones ride along with it.
struct Exchange::CommitInbox : std::enable_shared_from_this<CommitInbox> {
  using Outcome = std::pair<std::shared_ptr<Pending>, Status>;

  CommitInbox(Exchange* exchange, Executor loop) : exchange(exchange), loop(std::move(loop)) {}

  // Any thread.
  void Add(std::shared_ptr<Pending> pending, Status status) {
    bool first = false;
    {
      std::lock_guard lock(mu);
      first = outcomes.empty();
      outcomes.emplace_back(std::move(pending), std::move(status));
    }
    if (first) loop([self = shared_from_this()] { self->Drain(); });
  }

  // Loop thread.
  void Drain() {
    {
      std::lock_guard lock(mu);
      draining.swap(outcomes);
    }
    for (auto& [pending, status] : draining) {
      if (exchange != nullptr) exchange->OnDurable(pending, status);
    }
    draining.clear();
  }

  Exchange* exchange;  // null once the exchange is destroyed; read and written on the loop only
  Executor loop;
  std::mutex mu;
  std::vector<Outcome> outcomes;  // guarded by mu
  std::vector<Outcome> draining;  // loop only
};

Exchange::Exchange(registry::Registry& registry, store::Store& store, Executor loop,
                   MetricsRegistry& metrics, ExchangeOptions options)
    : registry_(registry),
      store_(store),
      loop_(std::move(loop)),
      options_(options),
      write_behind_(!store.SyncsCommits()),
      inbox_(std::make_shared<CommitInbox>(this, loop_)),
      accepted_(metrics.GetCounter("switchboard_messages_accepted_total",
                                   "Session messages accepted (durable)")),
      duplicates_(metrics.GetCounter("switchboard_messages_duplicate_total",
                                     "Sends answered from dedup with an earlier message id")),
      delivered_(metrics.GetCounter("switchboard_messages_delivered_total",
                                    "Message frames handed to recipient devices")),
      acked_(metrics.GetCounter("switchboard_messages_acked_total", "Acks from recipient devices")),
      expired_(metrics.GetCounter("switchboard_messages_expired_total",
                                  "Messages dropped at the end of the retention period")),
      slow_consumers_(metrics.GetCounter(
          "switchboard_slow_consumers_total",
          "Terminals disconnected because their send queue would pass its bound")),
      catch_up_pauses_(
          metrics.GetCounter("switchboard_catch_up_pauses_total",
                             "Mailbox deliveries paused until the terminal's send queue drains")),
      account_limiter_(options.account_rate),
      platform_limiter_(options.platform_rate),
      metrics_(metrics),
      queue_depth_(metrics.GetGauge("switchboard_queue_depth",
                                    "Messages waiting in mailboxes for some device's ack")),
      terminals_gauge_(metrics.GetGauge("switchboard_terminals", "Authenticated terminals")),
      accept_latency_(metrics.GetHistogram("switchboard_accept_latency_seconds",
                                           "From send to accepted (includes the store commit)",
                                           LatencyBuckets())) {
  route_selector_ = [](TerminalId, const Address&, std::string_view) { return Route{}; };
}

Exchange::~Exchange() {
  inbox_->exchange = nullptr;
}

void Exchange::Load(const store::Snapshot& snapshot) {
  for (const auto& device : snapshot.devices) {
    if (!registry_.HasAccount(device.address)) continue;
    auto& mailbox = mailboxes_[device.address];
    SetLastSeen(mailbox.devices, device.device, device.last_seen_ms);
  }

  std::vector<std::string> orphans;
  for (const auto& stored : snapshot.messages) {
    const auto& message = stored.message;
    const std::uint64_t seq = ParseMessageId(message.message_id);
    last_message_seq_ = std::max(last_message_seq_, seq);
    if (!registry_.HasAccount(message.to)) {
      orphans.push_back(message.message_id);
      continue;
    }
    auto pending = std::make_shared<Pending>();
    pending->message = message;
    pending->seq = seq;
    pending->expires_ms = stored.expires_ms;
    for (const std::string& device : stored.acked_devices)
      pending->MarkAcked(device);
    pending->delivered_sent = !stored.acked_devices.empty();
    auto& mailbox = mailboxes_[message.to];
    mailbox.messages.emplace(seq, std::move(pending));
    ++queued_messages_;
  }
  if (!orphans.empty()) store_.Submit(store::DeleteMessages{std::move(orphans)}, {});

  for (const auto& record : snapshot.dedup) {
    const std::uint64_t seq = ParseMessageId(record.message_id);
    dedup_.Add(dedup_.KeyOf(record.sender, record.device, record.client_id),
               {seq, static_cast<std::int64_t>(seq >> 16)}, record.expires_ms);
  }
  dedup_.SortExpiry();
  queue_depth_.Set(static_cast<std::int64_t>(queued_messages_));
  Log().info("loaded {} waiting messages and {} dedup records", queued_messages_, dedup_.size());
}

// --- Terminals -----------------------------------------------------------------------------------

void Exchange::Attach(TerminalId id, const Address& address, const std::string& device,
                      std::shared_ptr<TerminalLink> link) {
  Terminal& terminal =
      terminals_.try_emplace(id, Terminal{id, address, device, std::move(link), NowMillis()})
          .first->second;
  terminals_gauge_.Set(static_cast<std::int64_t>(terminals_.size()));
  auto& mailbox = mailboxes_[address];
  mailbox.terminals.push_back(id);
  RememberDevice(address, device);

  // Everything this device has not acked yet, in acceptance order.
  terminal.catch_up_after = 0;
  CatchUp(terminal);
  Log().debug("[term {}] attached {} device '{}'", id, address.ToString(), device);
}

void Exchange::Detach(TerminalId id) {
  auto it = terminals_.find(id);
  if (it == terminals_.end()) return;
  auto mailbox = mailboxes_.find(it->second.address);
  if (mailbox != mailboxes_.end()) {
    auto& connected = mailbox->second.terminals;
    connected.erase(std::remove(connected.begin(), connected.end(), id), connected.end());
  }
  Log().debug("[term {}] detached {}", id, it->second.address.ToString());
  terminals_.erase(it);
  terminals_gauge_.Set(static_cast<std::int64_t>(terminals_.size()));
}

void Exchange::RememberDevice(const Address& address, const std::string& device) {
  const std::int64_t now = NowMillis();
  SetLastSeen(mailboxes_[address].devices, device, now);
  // Refreshing last-seen on every attach keeps an active device from being forgotten.
  store_.Submit(store::PutDevice{store::DeviceRecord{address, device, now}}, {});
}

const Address* Exchange::AddressOf(TerminalId id) const {
  auto it = terminals_.find(id);
  return it == terminals_.end() ? nullptr : &it->second.address;
}

std::vector<Exchange::TerminalInfo> Exchange::TerminalsOf(const Address& address) const {
  std::vector<TerminalInfo> infos;
  auto mailbox = mailboxes_.find(address);
  if (mailbox == mailboxes_.end()) return infos;
  for (TerminalId id : mailbox->second.terminals) {
    auto t = terminals_.find(id);
    if (t == terminals_.end()) continue;
    infos.push_back(TerminalInfo{id, t->second.device, t->second.connected_ms,
                                 route_selector_(id, address, kChatApplication)});
  }
  return infos;
}

// --- Sending -------------------------------------------------------------------------------------

void Exchange::Send(TerminalId id, SendRequest request) {
  auto it = terminals_.find(id);
  if (it == terminals_.end()) return;
  Terminal& terminal = it->second;

  if (request.from != terminal.address) {
    Reject(terminal, request.client_id,
           MakeError(ErrorCode::kSenderMismatch,
                     "'from' must be the identity this terminal authenticated as (" +
                         terminal.address.ToString() + ")"));
    return;
  }
  // A retry of a message already accepted gets its first answer, whatever changed since.
  CatchUp(terminal);
  const DedupIndex::Key dedup_key = dedup_.KeyOf(request.from, terminal.device, request.client_id);
  if (AnswerDuplicate(terminal, request, dedup_key)) return;
  if (auto limited = CheckRate(request.from); !limited) {
    Reject(terminal, request.client_id, limited.error());
    return;
  }
  if (auto checked = CheckRecipient(request); !checked) {
    Reject(terminal, request.client_id, checked.error());
    return;
  }
  Accept(terminal, std::move(request), dedup_key);
}

Status Exchange::CheckRecipient(const SendRequest& request) const {
  if (auto parties = registry_.CheckParties(request.from, request.to); !parties) return parties;

  auto mailbox = mailboxes_.find(request.to);
  if (mailbox != mailboxes_.end() &&
      mailbox->second.messages.size() + mailbox->second.in_flight >= options_.account_queue_quota) {
    return MakeError(ErrorCode::kRecipientQueueFull,
                     "the recipient has too many messages waiting; retry later");
  }
  return Ok{};
}

Status Exchange::CheckRate(const Address& sender) {
  if (options_.account_rate.Unlimited() && options_.platform_rate.Unlimited()) return Ok{};
  const std::int64_t now = options_.monotonic_ms();
  const std::string account_key = sender.ToString();
  const std::int64_t wait = std::max(account_limiter_.WaitMs(account_key, now),
                                     platform_limiter_.WaitMs(sender.platform, now));
  if (wait > 0) {
    Error error = MakeError(ErrorCode::kRateLimited,
                            "too many sends from this account or platform; retry later");
    error.retry_after_ms = wait;
    return error;
  }
  // Both buckets had a token: take them together, so a refusal costs neither.
  (void)account_limiter_.Take(account_key, now);
  (void)platform_limiter_.Take(sender.platform, now);
  return Ok{};
}

bool Exchange::AnswerDuplicate(Terminal& terminal, const SendRequest& request,
                               const DedupIndex::Key& key) {
  if (const auto* done = dedup_.Find(key)) {
    duplicates_.Inc();
    terminal.link->Accepted(request.client_id, FormatMessageId(done->seq), done->ts_ms, true);
    return true;
  }
  if (auto pending = in_flight_.find(key); pending != in_flight_.end()) {
    // The first copy is not durable yet: answer this one when it is.
    duplicates_.Inc();
    pending->second->waiters.push_back(terminal.id);
    return true;
  }
  return false;
}

void Exchange::Accept(Terminal& terminal, SendRequest request, DedupIndex::Key dedup_key) {
  std::shared_ptr<Pending> pending = MakePending(terminal, std::move(request), dedup_key);
  const SessionMessage& message = pending->message;
  if (Log().should_log(spdlog::level::debug)) {
    Log().debug("[term {}] {} -> {} message {} via {}", terminal.id, message.from.ToString(),
                message.to.ToString(), message.message_id, message.route.site);
  }
  store::AppendMessage append{store::StoredMessage{message, pending->expires_ms, {}},
                              message.ts_ms + options_.dedup_window_ms};

  if (write_behind_) {
    // Write-behind: the store logs and counts a batch it cannot commit; the message lives on in
    // memory meanwhile.
    // TODO(delivery): a batch that failed is not retried, so its messages are delivered from memory
    // but lost on restart even after the disk recovers; retrying the batch would close that.
    store_.Submit(std::move(append), {});
    const TerminalId sender = terminal.id;
    Admit(pending, std::span(&sender, 1));
    return;
  }

  auto& mailbox = mailboxes_[message.to];
  ++mailbox.in_flight;
  in_flight_[pending->dedup_key] = std::make_shared<InFlight>(InFlight{message.message_id, {}});
  // The completion runs on the store thread and only queues the outcome; the inbox keeps itself
  // (and the pending message) alive until the loop drains it, which may be after the exchange is
  // gone during shutdown.
  store_.Submit(std::move(append), [inbox = inbox_, pending](Status status) {
    inbox->Add(std::move(pending), std::move(status));
  });
}

std::shared_ptr<Exchange::Pending> Exchange::MakePending(const Terminal& terminal,
                                                         SendRequest request,
                                                         DedupIndex::Key dedup_key) {
  auto pending = std::make_shared<Pending>();
  auto& message = pending->message;
  message.message_id = NextMessageId();
  pending->seq = last_message_seq_;
  message.ts_ms = NowMillis();
  message.from = std::move(request.from);
  message.to = std::move(request.to);
  message.from_device = terminal.device;
  message.client_id = std::move(request.client_id);
  message.content_json = std::move(request.content_json);
  message.app = std::move(request.app);
  message.route = route_selector_(terminal.id, message.from, message.app);
  pending->expires_ms = message.ts_ms + options_.retention_ms;
  pending->sender_terminal = terminal.id;
  pending->dedup_key = dedup_key;
  pending->submitted = std::chrono::steady_clock::now();
  return pending;
}

void Exchange::OnDurable(const std::shared_ptr<Pending>& pending, Status status) {
  const auto& message = pending->message;
  std::shared_ptr<InFlight> in_flight = in_flight_[pending->dedup_key];
  in_flight_.erase(pending->dedup_key);
  auto& mailbox = mailboxes_[message.to];
  --mailbox.in_flight;

  std::vector<TerminalId> askers{pending->sender_terminal};
  if (in_flight) askers.insert(askers.end(), in_flight->waiters.begin(), in_flight->waiters.end());

  if (!status) {
    const Error error = status.error();
    for (TerminalId id : askers) {
      if (auto t = terminals_.find(id); t != terminals_.end()) {
        Reject(t->second, message.client_id, error);
      }
    }
    return;
  }
  Admit(pending, askers);
}

// The message is accepted: `askers` (the sender's terminal, then those that repeated its client id
// meanwhile) hear so, and it joins the recipient's mailbox and goes out to its devices.
void Exchange::Admit(const std::shared_ptr<Pending>& pending, std::span<const TerminalId> askers) {
  const auto& message = pending->message;
  accepted_.Inc();
  accept_latency_.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - pending->submitted).count());
  dedup_.Add(pending->dedup_key, {pending->seq, message.ts_ms},
             message.ts_ms + options_.dedup_window_ms);
  for (std::size_t i = 0; i < askers.size(); ++i) {
    if (auto t = terminals_.find(askers[i]); t != terminals_.end()) {
      t->second.link->Accepted(message.client_id, message.message_id, message.ts_ms, i > 0);
    }
  }

  // The recipient account may have been removed while the message was being stored.
  if (!registry_.HasAccount(message.to)) {
    store_.Submit(store::DeleteMessages{{message.message_id}}, {});
    return;
  }
  auto& mailbox = mailboxes_[message.to];
  mailbox.messages.emplace(pending->seq, pending);
  ++queued_messages_;
  queue_depth_.Set(static_cast<std::int64_t>(queued_messages_));
  FanOut(pending);
}

void Exchange::FanOut(const std::shared_ptr<Pending>& pending) {
  auto mailbox = mailboxes_.find(pending->message.to);
  if (mailbox == mailboxes_.end()) return;
  std::vector<TerminalId> slow;
  for (TerminalId id : mailbox->second.terminals) {
    auto t = terminals_.find(id);
    if (t == terminals_.end()) continue;
    Terminal& terminal = t->second;
    // A device still being paged through its mailbox gets this message when the pages reach it.
    if (terminal.CatchingUp()) continue;
    if (WouldOverflow(terminal, *pending)) {
      slow.push_back(id);
      continue;
    }
    DeliverTo(terminal, *pending);
  }
  // Dropping detaches, which edits the list walked above: only after the walk.
  for (TerminalId id : slow)
    DropSlowConsumer(id);
}

void Exchange::CatchUp(Terminal& terminal) {
  if (!terminal.CatchingUp()) return;
  auto mailbox = mailboxes_.find(terminal.address);
  if (mailbox == mailboxes_.end()) {
    terminal.catch_up_after = Terminal::kCaughtUp;
    return;
  }
  auto& messages = mailbox->second.messages;
  for (auto it = messages.upper_bound(terminal.catch_up_after); it != messages.end(); ++it) {
    if (PageFull(terminal)) {
      catch_up_pauses_.Inc();
      return;
    }
    terminal.catch_up_after = it->first;
    if (!it->second->AckedBy(terminal.device)) DeliverTo(terminal, *it->second);
  }
  terminal.catch_up_after = Terminal::kCaughtUp;
}

bool Exchange::PageFull(const Terminal& terminal) const {
  return options_.max_send_queue_bytes > 0 &&
         terminal.link->Backlog() >= options_.max_send_queue_bytes / 2;
}

bool Exchange::WouldOverflow(const Terminal& terminal, const Pending& pending) const {
  const std::size_t backlog = terminal.link->Backlog();
  // An empty queue takes any one message, however large: the bound is on what piles up.
  if (options_.max_send_queue_bytes == 0 || backlog == 0) return false;
  // The frame is the content plus an envelope of addresses, names and route, well under 1 KiB.
  constexpr std::size_t kEnvelopeBytes = 1024;
  const std::size_t frame = pending.message.content_json.size() + kEnvelopeBytes;
  return backlog + frame > options_.max_send_queue_bytes;
}

void Exchange::DropSlowConsumer(TerminalId id) {
  auto it = terminals_.find(id);
  if (it == terminals_.end()) return;
  slow_consumers_.Inc();
  Log().info("[term {}] {} device '{}' is a slow consumer: {} bytes waiting; disconnecting", id,
             it->second.address.ToString(), it->second.device, it->second.link->Backlog());
  // Detach first: nothing more is queued for it, and what waits stays in the mailbox for the next
  // connection. The link pointer keeps the connection alive through Disconnect().
  std::shared_ptr<TerminalLink> link = it->second.link;
  Detach(id);
  link->Disconnect(MakeError(ErrorCode::kSlowConsumer,
                             "the terminal reads too slowly; reconnect to get what waits"));
}

void Exchange::DeliverTo(Terminal& terminal, const Pending& pending) {
  terminal.link->Deliver(pending.message, registry_.PlatformName(pending.message.from.platform));
  delivered_.Inc();
}

void Exchange::Reject(Terminal& terminal, const std::string& client_id, const Error& error) {
  metrics_
      .GetCounter("switchboard_messages_rejected_total", "Sends refused, by code",
                  {{"code", std::string(ErrorCodeName(error.code))}})
      .Inc();
  Log().debug("[term {}] {} rejected {}: {}", terminal.id, terminal.address.ToString(), client_id,
              ErrorCodeName(error.code));
  terminal.link->Rejected(client_id, error);
}

std::string Exchange::NextMessageId() {
  const auto now = static_cast<std::uint64_t>(NowMillis()) << 16;
  last_message_seq_ = std::max(last_message_seq_ + 1, now);
  return FormatMessageId(last_message_seq_);
}

// --- Acks and receipts ---------------------------------------------------------------------------

void Exchange::Ack(TerminalId id, const std::string& message_id) {
  auto it = terminals_.find(id);
  if (it == terminals_.end()) return;
  Terminal& terminal = it->second;
  AckMessage(terminal, message_id);
  // An ack means the terminal reads: time for the next page of its mailbox, if one waits.
  CatchUp(terminal);
}

void Exchange::AckMessage(Terminal& terminal, const std::string& message_id) {
  auto mailbox = mailboxes_.find(terminal.address);
  if (mailbox == mailboxes_.end()) return;
  auto& messages = mailbox->second.messages;
  auto found = messages.find(ParseMessageId(message_id));
  if (found == messages.end() || found->second->message.message_id != message_id) return;

  Pending& pending = *found->second;
  if (!pending.MarkAcked(terminal.device)) return;
  acked_.Inc();
  if (!pending.delivered_sent) {
    pending.delivered_sent = true;
    SendReceipt(pending.message.from, pending.message.client_id, message_id,
                ReceiptStatus::kDelivered);
  }

  if (AckedByAll(mailbox->second, pending)) {
    Finish(mailbox->second, message_id);
  } else {
    store_.Submit(store::AckMessage{message_id, terminal.device}, {});
  }
}

void Exchange::Finish(Mailbox& mailbox, const std::string& message_id) {
  auto found = mailbox.messages.find(ParseMessageId(message_id));
  if (found == mailbox.messages.end()) return;
  store_.Submit(store::DeleteMessages{{message_id}}, {});

  // Remember the sender for a read mark that may still come. The message is done with, so its
  // parts move over (`message_id` may be one of them: it is not used after this).
  SessionMessage& message = found->second->message;
  RememberFinished(ReceiptTarget{found->first, std::move(message.message_id),
                                 std::move(message.from), std::move(message.to),
                                 std::move(message.client_id), found->second->read_sent});

  mailbox.messages.erase(found);
  --queued_messages_;
  queue_depth_.Set(static_cast<std::int64_t>(queued_messages_));
}

// Until the ring is full it grows; then each finished message takes the oldest one's slot.
void Exchange::RememberFinished(ReceiptTarget target) {
  if (options_.receipt_memory == 0) return;
  if (finished_.size() < options_.receipt_memory) {
    finished_slots_[target.seq] = static_cast<std::uint32_t>(finished_.size());
    finished_.push_back(std::move(target));
    return;
  }
  ReceiptTarget& oldest = finished_[finished_next_];
  finished_slots_.erase(oldest.seq);
  finished_slots_[target.seq] = static_cast<std::uint32_t>(finished_next_);
  oldest = std::move(target);
  finished_next_ = (finished_next_ + 1) % finished_.size();
}

void Exchange::Read(TerminalId id, const std::string& message_id) {
  auto it = terminals_.find(id);
  if (it == terminals_.end()) return;
  const Terminal& terminal = it->second;

  auto mailbox = mailboxes_.find(terminal.address);
  if (mailbox != mailboxes_.end()) {
    auto found = mailbox->second.messages.find(ParseMessageId(message_id));
    if (found != mailbox->second.messages.end() &&
        found->second->message.message_id == message_id) {
      Pending& pending = *found->second;
      if (pending.read_sent) return;
      pending.read_sent = true;
      SendReceipt(pending.message.from, pending.message.client_id, message_id,
                  ReceiptStatus::kRead);
      return;
    }
  }
  // Only the recipient may mark a message read.
  auto slot = finished_slots_.find(ParseMessageId(message_id));
  if (slot == finished_slots_.end()) return;
  ReceiptTarget& done = finished_[slot->second];
  if (done.message_id != message_id || done.read_sent) return;
  if (done.recipient != terminal.address) return;
  done.read_sent = true;
  SendReceipt(done.sender, done.client_id, message_id, ReceiptStatus::kRead);
}

void Exchange::SendReceipt(const Address& sender, const std::string& client_id,
                           const std::string& message_id, ReceiptStatus status) {
  // TODO(delivery): receipts reach only the sender's connected terminals; a sender offline at
  // that moment misses them, because receipts are not stored.
  auto mailbox = mailboxes_.find(sender);
  if (mailbox == mailboxes_.end()) return;
  for (TerminalId id : mailbox->second.terminals) {
    if (auto t = terminals_.find(id); t != terminals_.end()) {
      t->second.link->Receipt(client_id, message_id, status);
    }
  }
}

// --- Expiry and removal --------------------------------------------------------------------------

void Exchange::Sweep(std::int64_t now_ms) {
  for (auto& [address, mailbox] : mailboxes_) {
    std::erase_if(mailbox.messages, [&](const auto& entry) {
      if (entry.second->expires_ms > now_ms) return false;
      expired_.Inc();
      --queued_messages_;
      return true;
    });
    ForgetStaleDevices(mailbox, now_ms - options_.retention_ms);
  }
  dedup_.Expire(now_ms);
  queue_depth_.Set(static_cast<std::int64_t>(queued_messages_));
  account_limiter_.Prune(options_.monotonic_ms());
  platform_limiter_.Prune(options_.monotonic_ms());
  store_.Submit(store::Expire{now_ms, now_ms - options_.retention_ms}, {});
}

bool Exchange::AckedByAll(const Mailbox& mailbox, const Pending& pending) const {
  return std::all_of(mailbox.devices.begin(), mailbox.devices.end(),
                     [&](const auto& device) { return pending.AckedBy(device.first); });
}

void Exchange::ForgetStaleDevices(Mailbox& mailbox, std::int64_t stale_before_ms) {
  const std::size_t before = mailbox.devices.size();
  std::erase_if(mailbox.devices, [&](const auto& device) {
    if (device.second >= stale_before_ms) return false;
    // A device connected now is not stale, however long ago it first said hello.
    return std::none_of(mailbox.terminals.begin(), mailbox.terminals.end(), [&](TerminalId id) {
      auto t = terminals_.find(id);
      return t != terminals_.end() && t->second.device == device.first;
    });
  });
  // With no device left, messages wait for the next device (or for their retention to end).
  if (mailbox.devices.size() == before || mailbox.devices.empty()) return;

  // Messages that only a forgotten device still owed an ack are done.
  std::vector<std::string> done;
  for (const auto& [seq, pending] : mailbox.messages) {
    if (AckedByAll(mailbox, *pending)) done.push_back(pending->message.message_id);
  }
  for (const auto& message_id : done)
    Finish(mailbox, message_id);
}

void Exchange::DropAccount(const Address& address, const Error& why) {
  auto mailbox = mailboxes_.find(address);
  if (mailbox == mailboxes_.end()) return;
  // Disconnect() may call back into Detach(), which edits the terminal list: work on a copy.
  const std::vector<TerminalId> connected(mailbox->second.terminals.begin(),
                                          mailbox->second.terminals.end());
  for (TerminalId id : connected) {
    if (auto t = terminals_.find(id); t != terminals_.end()) t->second.link->Disconnect(why);
  }
  mailbox = mailboxes_.find(address);
  if (mailbox == mailboxes_.end()) return;
  queued_messages_ -= mailbox->second.messages.size();
  mailbox->second.messages.clear();
  queue_depth_.Set(static_cast<std::int64_t>(queued_messages_));
  if (mailbox->second.in_flight == 0) mailboxes_.erase(mailbox);
}

void Exchange::OnPlatformDeregistered(const std::string& platform_id) {
  std::vector<Address> affected;
  for (const auto& [address, mailbox] : mailboxes_) {
    if (address.platform == platform_id) affected.push_back(address);
  }
  const Error why = MakeError(ErrorCode::kPlatformNotRegistered, "the platform was deregistered");
  for (const auto& address : affected)
    DropAccount(address, why);
}

void Exchange::OnAccountsRemoved(const std::string& platform_id,
                                 const std::vector<std::string>& accounts) {
  const Error why = MakeError(ErrorCode::kSenderNotRegistered, "the account was removed");
  for (const auto& account : accounts)
    DropAccount(Address{platform_id, account}, why);
}

}  // namespace sb::delivery
