// Offload as the exchange uses it: the chain of network functions, wired in 3GPP order
//
//   AMF (location) -> NEF (exposure) -> MEC (policy lookup) -> PCF (decision) -> SMF (session)
//     -> UL CL UPF (branches traffic to the local PSA)
//
// plus what the exchange needs around it: the egress route of each message, the view of a
// terminal's location and path, re-evaluation when a policy changes or a validity window opens or
// closes, per-site and per-decision metrics, decision logs (logger "offload") and path-change
// notifications to the platforms that asked.
//
// Consistency: every change of a path and every route selection runs on the loop thread, and the
// exchange picks a message's route synchronously when it accepts the message; so each message gets
// exactly the path that held at its acceptance, and a path change never loses or repeats one.
//
// Thread-safety: single-threaded (the loop thread), except that notifications are handed to the
// NotificationSender, which must not block.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "offload/amf.h"
#include "offload/mec.h"
#include "offload/nef.h"
#include "offload/notifier.h"
#include "offload/path.h"
#include "offload/pcf.h"
#include "offload/policy_table.h"
#include "offload/smf.h"
#include "registry/registry.h"

namespace sb::offload {

class OffloadService : private PathObserver {
 public:
  OffloadService(Topology topology, registry::Registry& registry, MetricsRegistry& metrics,
                 Clock clock, TerminalLister lister);
  ~OffloadService() override;
  OffloadService(const OffloadService&) = delete;
  OffloadService& operator=(const OffloadService&) = delete;

  // Null for none; must outlive the service.
  void SetNotificationSender(NotificationSender* sender) { sender_ = sender; }

  const Topology& topology() const { return topology_; }
  PolicyTable& policies() { return policies_; }
  Nef& nef() { return nef_; }

  // The egress of one message from `terminal` with application `app` (the RouteSelector). A
  // terminal seen for the first time is registered at its account's last location.
  Route SelectRoute(TerminalId terminal, const Address& sender, std::string_view app);

  // An operator's location report for an account. The caller checked the platform, account and
  // location (Topology::CheckLocation). Returns one change per connected terminal.
  std::vector<PathChange> ReportAccountLocation(const Address& address, const Location& location);
  // A terminal's own `location` frame; an unknown TAI or cell is counted and ignored.
  Status ReportTerminalLocation(TerminalId terminal, const Address& address,
                                const Location& location);

  struct TerminalView {
    Location location;
    Path path;
  };
  TerminalView Describe(TerminalId terminal, const Address& address);

  // Every terminal the AMF knows, with its location and path, ordered by id. A terminal that
  // disconnected stays listed until the next Tick() forgets it; one that never reported a location
  // nor sent a message is not known yet.
  struct KnownTerminal {
    TerminalRef terminal;
    Location location;
    Path path;
  };
  std::vector<KnownTerminal> KnownTerminals() const;
  // Messages counted as egress so far, by site (sites with none yet are absent).
  std::map<std::string, std::uint64_t> EgressCounts() const;

  // Called periodically: re-evaluates every path when a validity window opened or closed since the
  // last call, forgets terminals that disconnected, and registers ones that connected.
  void Tick();

  // While one exists, route selections are not counted as egress (an admin view asks for routes
  // without sending anything).
  class QuietScope {
   public:
    explicit QuietScope(OffloadService& service) : service_(service) { ++service_.quiet_; }
    ~QuietScope() { --service_.quiet_; }

   private:
    OffloadService& service_;
  };

 private:
  void Reevaluate(const std::string& platform_id);
  void ReevaluateAll();
  // Re-evaluates every path when a validity window opened or closed since the last evaluation.
  void CatchUp();
  void RefreshBoundary() { boundary_ = policies_.NextBoundary(last_eval_ms_); }
  void Discover();
  void Record(const PathChange& change);
  void Ensure(TerminalId terminal, const Address& address);
  void Prune();
  void Notify(const PathChange& change, std::string_view phase);
  void OnPathChanging(const PathChange& change) override;
  void OnPathChanged(const PathChange& change) override;
  Counter& EgressCounter(const std::string& site);

  Topology topology_;
  Clock clock_;
  MetricsRegistry& metrics_;
  NotificationSender* sender_ = nullptr;
  PolicyTable policies_;
  Smf smf_;
  Pcf pcf_;
  Mec mec_;
  Nef nef_;
  Amf amf_;
  std::int64_t last_eval_ms_ = 0;         // when every path was last evaluated
  std::optional<std::int64_t> boundary_;  // the first validity boundary after that
  int quiet_ = 0;                         // route selections not counted (QuietScope)
  int listing_ = 0;  // inside the lister: route selections neither counted nor registering
  std::map<std::string, Counter*> egress_;  // by site
  Gauge& offloaded_;
  Counter& terminal_reports_;
  Counter& operator_reports_;
};

}  // namespace sb::offload
