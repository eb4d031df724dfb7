// `switchboard simulate`: replays a mobility trace over a topology through the real offload chain,
// once without offload and once per policy kind, and reports delivery latencies (docs/offload.md).
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

#include "cli/commands.h"
#include "sim/report.h"
#include "sim/simulator.h"

namespace sb::cli {
namespace {

struct SimulateOptions {
  std::string topology_path;
  std::string trace_path;
  std::string out_md;
  std::string out_svg;
  std::uint64_t seed = 7;
  std::string log_level = "warn";
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

void Simulate(const SimulateOptions& options) {
  SetUpLogging(options.log_level);
  auto topology = offload::Topology::Parse(ReadFile(options.topology_path));
  if (!topology) throw std::runtime_error(options.topology_path + ": " + topology.error().message);
  auto trace = sim::ReadTraceFile(options.trace_path);
  if (!trace) throw std::runtime_error(trace.error().message);
  if (auto checked = sim::CheckTrace(topology.value(), trace.value()); !checked)
    throw std::runtime_error(options.trace_path + ": " + checked.error().message);

  // Every scenario replays the same trace on a fresh chain.
  const sim::LatencyModel latency(topology.value());
  std::vector<sim::Summary> summaries;
  for (const auto& scenario : sim::BuildScenarios(topology.value(), trace.value(), options.seed))
    summaries.push_back(
        sim::Summarize(sim::Simulate(topology.value(), trace.value(), scenario, latency)));

  std::cout << sim::RenderText(summaries);
  if (!options.out_md.empty()) WriteFile(options.out_md, sim::RenderMarkdown(summaries));
  if (!options.out_svg.empty())
    WriteFile(options.out_svg,
              sim::RenderSvg(summaries, "Offload simulation: delivery latency per policy kind"));
}

}  // namespace

void AddSimulateCommand(CLI::App& app) {
  auto options = std::make_shared<SimulateOptions>();
  auto* simulate = app.add_subcommand(
      "simulate", "Replay a mobility trace through the offload chain and report latencies");
  simulate->add_option("--topology", options->topology_path, "Topology JSON (operator network)")
      ->required()
      ->check(CLI::ExistingFile);
  simulate->add_option("--trace", options->trace_path, "Mobility trace CSV")
      ->required()
      ->check(CLI::ExistingFile);
  simulate->add_option("--out-md", options->out_md, "Write the table as Markdown to this file");
  simulate->add_option("--out-svg", options->out_svg, "Write the latency chart (SVG) to this file");
  simulate->add_option("--seed", options->seed, "Seed of the account subsets (default 7)");
  simulate->add_option("--log-level", options->log_level, "trace, debug, info, warn or error");
  simulate->callback([options] { Simulate(*options); });
}

}  // namespace sb::cli
