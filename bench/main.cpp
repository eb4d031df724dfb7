// `switchboard-bench`: the load generator (run) and the null relay (relay). See docs/benchmarks.md.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "engine.h"
#include "relay_server.h"
#include "socket_util.h"

namespace sb::bench {
namespace {

struct CliOptions {
  PeerOptions peer;
  RunOptions run;
  int terminals = 0;
  std::string label;
  std::string relay_listen = "127.0.0.1";
  int relay_port = 0;
  std::string relay_port_file;
};

std::string LoadAverage() {
  std::ifstream file("/proc/loadavg");
  double one = 0, five = 0, fifteen = 0;
  file >> one >> five >> fifteen;
  char text[64];
  std::snprintf(text, sizeof text, "[%.2f,%.2f,%.2f]", one, five, fifteen);
  return text;
}

std::string Percentiles(const Histogram& histogram) {
  char text[256];
  std::snprintf(text, sizeof text,
                R"({"count":%llu,"p50_us":%.1f,"p99_us":%.1f,"p999_us":%.1f,"max_us":%.1f,)"
                R"("mean_us":%.1f})",
                static_cast<unsigned long long>(histogram.Count()), histogram.ValueAt(0.5) / 1e3,
                histogram.ValueAt(0.99) / 1e3, histogram.ValueAt(0.999) / 1e3,
                histogram.Max() / 1e3, histogram.Mean() / 1e3);
  return text;
}

// Server CPU microseconds per message sent in the window, and RSS bytes per idle terminal.
std::string ServerFigures(const RunReport& report, const CliOptions& options) {
  const double tick_us = 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
  const double cpu_us =
      static_cast<double>(report.server_end.cpu_ticks - report.server_start.cpu_ticks) * tick_us;
  const double per_message = report.sent > 0 ? cpu_us / static_cast<double>(report.sent) : 0;
  const double rss_delta_bytes =
      static_cast<double>(report.server_idle.rss_kib - report.server_before.rss_kib) * 1024.0;
  const double per_terminal = report.terminals > 0 ? rss_delta_bytes / report.terminals : 0;
  char text[320];
  std::snprintf(text, sizeof text,
                R"("server_pid":%d,"server_cpu_us_per_msg":%.2f,"server_cpu_s":%.2f,)"
                R"("server_rss_before_kib":%lld,"server_rss_idle_kib":%lld,)"
                R"("server_rss_end_kib":%lld,"rss_bytes_per_terminal":%.0f)",
                options.run.server_pid, per_message, cpu_us / 1e6,
                static_cast<long long>(report.server_before.rss_kib),
                static_cast<long long>(report.server_idle.rss_kib),
                static_cast<long long>(report.server_end.rss_kib), per_terminal);
  return text;
}

std::string ReportJson(const RunReport& report, const CliOptions& options) {
  std::ostringstream out;
  std::string problem = report.first_problem.substr(0, 200);
  for (char& c : problem) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) c = '\'';
  }
  out << R"({"label":")" << options.label << R"(","peer":")" << options.peer.kind << R"(","qos":)"
      << options.peer.qos << R"(,"mode":")" << (options.run.idle ? "idle" : "load")
      << R"(","terminals":)" << report.terminals << R"(,"pairs":)" << options.run.pairs
      << R"(,"payload_bytes":)" << options.run.payload_bytes << R"(,"rate":)" << options.run.rate
      << R"(,"window":)" << options.run.window << R"(,"window_on_ack":)"
      << (options.run.window_on_ack ? "true" : "false") << R"(,"duration_s":)" << report.measured_s
      << R"(,"connect_s":)" << report.connect_s << R"(,"sent":)" << report.sent
      << R"(,"delivered":)" << report.delivered << R"(,"acked":)" << report.acked << R"(,"lost":)"
      << (report.sent - report.delivered) << R"(,"refused":)" << report.refused << R"(,"broken":)"
      << report.broken << R"(,"throughput_msgs":)" << report.throughput << R"(,"delivery":)"
      << Percentiles(report.delivery) << R"(,"ack":)" << Percentiles(report.ack) << ","
      << ServerFigures(report, options) << R"(,"loadavg":)" << LoadAverage() << R"(,"problem":")"
      << problem << "\"}";
  return out.str();
}

void AddRunCommand(CLI::App& app, CliOptions& options) {
  auto* run = app.add_subcommand("run", "Drive one system under test and print a JSON report");
  run->add_option("--peer", options.peer.kind,
                  "exchange, relay, nats, jetstream, mqtt, redis or redis-stream")
      ->required();
  run->add_option("--host", options.peer.host, "server address (loopback)");
  run->add_option("--port", options.peer.port, "server port")->required();
  run->add_option("--qos", options.peer.qos, "MQTT QoS, 0 or 1");
  run->add_option("--tag", options.peer.run_tag,
                  "lowercase letters and digits making names unique");
  run->add_option("--terminals", options.terminals, "connections, half senders, half receivers");
  run->add_option("--rate", options.run.rate, "messages per second in all; 0: as fast as possible");
  run->add_option("--window", options.run.window, "rate 0: messages in flight per pair");
  run->add_flag("--window-on-ack", options.run.window_on_ack,
                "rate 0: the window counts unacknowledged messages, not undelivered ones");
  run->add_option("--duration", options.run.duration_s, "measured seconds");
  run->add_option("--warmup", options.run.warmup_s, "seconds sent but not measured");
  run->add_option("--drain", options.run.drain_s, "seconds to wait for stragglers");
  run->add_option("--size", options.run.payload_bytes, "payload bytes (at least 19)");
  run->add_option("--addresses", options.run.source_addresses, "loopback source addresses");
  run->add_option("--server-pid", options.run.server_pid, "server process, for CPU and RSS");
  run->add_flag("--idle", options.run.idle, "connect, settle, measure memory; send nothing");
  run->add_option("--label", options.label, "free text copied into the report");
  run->callback([&options] {
    if (options.peer.kind == "exchange" && options.peer.operator_token.empty()) {
      if (const char* token = std::getenv("SWITCHBOARD_OPERATOR_TOKEN")) {
        options.peer.operator_token = token;
      }
    }
    if (options.terminals > 0) options.run.pairs = std::max(1, options.terminals / 2);
    RaiseOpenFileLimit();
    auto peer = MakePeer(options.peer);
    const Target server{options.peer.host, options.peer.port, {}};
    const RunReport report = RunLoad(*peer, server, options.run);
    std::printf("%s\n", ReportJson(report, options).c_str());
    std::fflush(stdout);
    std::_Exit(0);  // skips tearing down thousands of connections one by one
  });
}

void AddRelayCommand(CLI::App& app, CliOptions& options) {
  auto* relay = app.add_subcommand("relay", "Run the null relay (the machine's ceiling)");
  relay->add_option("--host", options.relay_listen, "address to listen on");
  relay->add_option("--port", options.relay_port, "port; 0 picks one");
  relay->add_option("--port-file", options.relay_port_file, "write the bound port here");
  relay->callback([&options] {
    RaiseOpenFileLimit();
    RunRelayServer(options.relay_listen, options.relay_port, options.relay_port_file);
  });
}

}  // namespace
}  // namespace sb::bench

int main(int argc, char** argv) {
  CLI::App app{"switchboard-bench: open-loop load against the exchange and its peers"};
  app.require_subcommand(1);
  sb::bench::CliOptions options;
  sb::bench::AddRunCommand(app, options);
  sb::bench::AddRelayCommand(app, options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "switchboard-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
