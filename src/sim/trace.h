// A mobility-and-messaging trace: CSV, one event per line after the header
//
//   t_ms,event,platform,account,tai,cell,to_platform,to_account,app
//
// `move` places an account at a TAI (and optionally a cell); `send` is one session message from
// the account to `to_platform`/`to_account`, of application `app` (empty means "chat"). The `tai`
// of a `send` line is informational: the replay uses the sender's last `move`.
//
// Pure data and functions; no thread concerns.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/identity.h"

namespace sb::sim {

enum class EventKind { kMove, kSend };

struct TraceEvent {
  std::size_t line = 0;  // 1-based line in the file, for messages about it
  std::int64_t t_ms = 0;
  EventKind kind = EventKind::kMove;
  Address from;
  std::string tai;
  std::string cell;  // may be empty
  Address to;        // send only
  std::string app;   // send only; never empty
};

// Parses the whole trace. The header must be the one above. Refused with kInvalidParams and a
// message naming the first bad line: a wrong column count, a time that is not a non-negative
// integer or goes backwards, an unknown event, a missing platform, account or TAI (move), or a
// missing recipient (send).
Result<std::vector<TraceEvent>> ParseTrace(std::string_view csv);

// Reads and parses a trace file; the error names the file.
Result<std::vector<TraceEvent>> ReadTraceFile(const std::string& path);

}  // namespace sb::sim
