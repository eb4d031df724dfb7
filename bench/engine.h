// The open-loop load engine. It connects every endpoint (bounded parallelism), then sends on a
// fixed schedule: message k of the run is due at start + k / rate, goes to pair k mod pairs, and
// carries that due time as its stamp whether or not the generator or the system kept up. Latency
// is receipt time minus stamp, so a stall shows up as the latency of every message it delayed
// (no coordinated omission). With rate 0 the engine instead keeps `window` messages in flight per
// pair (closed loop, for the ceiling of throughput); latency then counts from the actual send.
//
// Messages due in the warm-up are sent but not counted; after the measured window the engine
// waits up to `drain_s` for what is still in flight, and counts what never arrived as lost.
#pragma once

#include <cstdint>
#include <string>

#include "histogram.h"
#include "peer.h"

namespace sb::bench {

struct RunOptions {
  int pairs = 1;
  double rate = 0;             // messages per second in all; 0: as fast as possible
  int window = 64;             // rate 0 only: messages in flight per pair
  bool window_on_ack = false;  // rate 0 only: a message leaves the window when acknowledged
  double warmup_s = 1;
  double duration_s = 5;
  double drain_s = 3;
  std::size_t payload_bytes = 100;
  int source_addresses = 8;  // 127.0.0.1 .. 127.0.0.N
  int connect_parallel = 256;
  int server_pid = 0;  // 0: no server statistics
  bool idle = false;   // connect, settle, measure memory; send nothing
  double idle_settle_s = 2;
};

struct ServerSample {
  std::int64_t cpu_ticks = 0;  // utime + stime
  std::int64_t rss_kib = 0;
};

struct RunReport {
  std::int64_t terminals = 0;
  std::int64_t sent = 0;       // in the measured window
  std::int64_t delivered = 0;  // of those sent in the window
  std::int64_t acked = 0;
  std::int64_t refused = 0;
  std::int64_t broken = 0;
  double measured_s = 0;
  double throughput = 0;       // deliveries received per second during the window
  Histogram delivery;          // ns
  Histogram ack;               // ns
  ServerSample server_before;  // before any endpoint connected
  ServerSample server_idle;    // all connected (idle runs)
  ServerSample server_start;   // window start
  ServerSample server_end;     // window end
  double connect_s = 0;
  std::string first_problem;
};

// Prepares `peer`, runs the load, returns what was measured. Throws std::runtime_error when the
// endpoints cannot all connect.
RunReport RunLoad(Peer& peer, const Target& server, const RunOptions& options);

// /proc/<pid>/stat and /proc/<pid>/status; zeros when the process is not there.
ServerSample SampleServer(int pid);

}  // namespace sb::bench
