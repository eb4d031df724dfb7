// Summaries of simulation results and their renderings: a plain-text table for the terminal, a
// Markdown table for docs, and an SVG bar chart written directly (no plotting dependency).
//
// Percentiles use the nearest-rank method: the p-th percentile of n sorted values is the value at
// rank ceil(p/100 * n). Pure functions; no thread concerns.
#pragma once

#include <string>
#include <vector>

#include "sim/simulator.h"

namespace sb::sim {

struct LatencyStats {
  double mean_ms = 0;
  double p50_ms = 0;
  double p99_ms = 0;
};

struct Summary {
  std::string name;
  std::size_t messages = 0;
  double offloaded_share = 0;  // 0..1
  LatencyStats with_offload;
  LatencyStats without_offload;  // the same messages, all egressing at the main anchor
};

// Nearest-rank percentile of `values` (need not be sorted); 0 for none.
double Percentile(std::vector<double> values, double percent);
LatencyStats Stats(const std::vector<double>& values);
Summary Summarize(const ScenarioResult& result);

std::string RenderText(const std::vector<Summary>& summaries);
std::string RenderMarkdown(const std::vector<Summary>& summaries);
// Grouped bars of p50 and p99 per scenario (with offload), a dashed line at the p50 and p99 of
// the same messages without offload, with a title and description for screen readers.
std::string RenderSvg(const std::vector<Summary>& summaries, const std::string& title);

}  // namespace sb::sim
