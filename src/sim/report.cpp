#include "sim/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace sb::sim {
namespace {

std::string Format(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

std::string Ms(double value) {
  return Format("%.1f", value);
}
std::string Percent(double share) {
  return Format("%.1f%%", share * 100);
}

// The cells of one table row, shared by the text and Markdown renderings.
std::vector<std::string> Cells(const Summary& s) {
  return {s.name,
          std::to_string(s.messages),
          Percent(s.offloaded_share),
          Ms(s.with_offload.mean_ms),
          Ms(s.with_offload.p50_ms),
          Ms(s.with_offload.p99_ms),
          Ms(s.without_offload.mean_ms),
          Ms(s.without_offload.p50_ms),
          Ms(s.without_offload.p99_ms)};
}

const std::vector<std::string>& Headers() {
  static const std::vector<std::string> headers{"policy kind",    "messages",      "offloaded",
                                                "mean ms",        "p50 ms",        "p99 ms",
                                                "mean ms (main)", "p50 ms (main)", "p99 ms (main)"};
  return headers;
}

std::string EscapeXml(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else if (c == '"')
      out += "&quot;";
    else
      out += c;
  }
  return out;
}

// A round axis maximum at or above `value`: 1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten.
double AxisMax(double value) {
  if (value <= 0) return 1;
  const double magnitude = std::pow(10.0, std::floor(std::log10(value)));
  for (double step : {1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0}) {
    if (step * magnitude >= value) return step * magnitude;
  }
  return 10 * magnitude;
}

}  // namespace

double Percentile(std::vector<double> values, double percent) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(std::ceil(percent / 100.0 * values.size()));
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

LatencyStats Stats(const std::vector<double>& values) {
  if (values.empty()) return {};
  const double sum = std::accumulate(values.begin(), values.end(), 0.0);
  return LatencyStats{sum / values.size(), Percentile(values, 50), Percentile(values, 99)};
}

Summary Summarize(const ScenarioResult& result) {
  std::vector<double> with;
  std::vector<double> without;
  std::size_t offloaded = 0;
  for (const MessageOutcome& message : result.messages) {
    with.push_back(message.latency_ms);
    without.push_back(message.baseline_latency_ms);
    offloaded += message.offloaded ? 1 : 0;
  }
  const std::size_t n = result.messages.size();
  return Summary{result.name, n, n == 0 ? 0.0 : static_cast<double>(offloaded) / n, Stats(with),
                 Stats(without)};
}

std::string RenderText(const std::vector<Summary>& summaries) {
  std::vector<std::vector<std::string>> rows{Headers()};
  for (const Summary& s : summaries)
    rows.push_back(Cells(s));
  std::vector<std::size_t> widths(Headers().size(), 0);
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());
  }

  std::string out;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      const std::string pad(widths[i] - row[i].size(), ' ');
      out += i == 0 ? row[i] + pad : "  " + pad + row[i];  // names left, numbers right
    }
    out += "\n";
  }
  return out;
}

std::string RenderMarkdown(const std::vector<Summary>& summaries) {
  std::string out = "|";
  std::string rule = "|";
  for (std::size_t i = 0; i < Headers().size(); ++i) {
    out += " " + Headers()[i] + " |";
    rule += i == 0 ? "---|" : "---:|";
  }
  out += "\n" + rule + "\n";
  for (const Summary& s : summaries) {
    out += "|";
    for (const auto& cell : Cells(s))
      out += " " + cell + " |";
    out += "\n";
  }
  return out;
}

std::string RenderSvg(const std::vector<Summary>& summaries, const std::string& title) {
  constexpr double kWidth = 760, kHeight = 400, kLeft = 60, kRight = 20, kTop = 50, kBottom = 70;
  constexpr const char* kP50Color = "#2a6fb0";
  constexpr const char* kP99Color = "#e08a1e";
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;

  double top = 0;
  for (const Summary& s : summaries)
    top = std::max({top, s.with_offload.p99_ms, s.without_offload.p99_ms});
  const double axis = AxisMax(top);
  auto y = [&](double ms) { return kTop + plot_h - ms / axis * plot_h; };

  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + Format("%.0f", kWidth) +
                    "\" height=\"" + Format("%.0f", kHeight) + "\" viewBox=\"0 0 " +
                    Format("%.0f", kWidth) + " " + Format("%.0f", kHeight) +
                    "\" role=\"img\" aria-labelledby=\"t d\" font-family=\"sans-serif\" "
                    "font-size=\"12\">\n";
  std::string description = "Delivery latency per policy kind, p50 and p99 in milliseconds.";
  for (const Summary& s : summaries)
    description += " " + s.name + ": p50 " + Ms(s.with_offload.p50_ms) + ", p99 " +
                   Ms(s.with_offload.p99_ms) + ", " + Percent(s.offloaded_share) + " offloaded.";
  svg += "<title id=\"t\">" + EscapeXml(title) + "</title>\n<desc id=\"d\">" +
         EscapeXml(description) + "</desc>\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  svg += "<text x=\"" + Format("%.0f", kWidth / 2) +
         "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">" + EscapeXml(title) + "</text>\n";

  // Grid lines and the axis labels.
  for (int i = 0; i <= 5; ++i) {
    const double ms = axis * i / 5;
    svg += "<line x1=\"" + Format("%.0f", kLeft) + "\" x2=\"" + Format("%.0f", kWidth - kRight) +
           "\" y1=\"" + Format("%.1f", y(ms)) + "\" y2=\"" + Format("%.1f", y(ms)) +
           "\" stroke=\"#dddddd\"/>\n<text x=\"" + Format("%.0f", kLeft - 6) + "\" y=\"" +
           Format("%.1f", y(ms) + 4) + "\" text-anchor=\"end\">" + Format("%g", ms) + "</text>\n";
  }
  svg += "<text transform=\"translate(16 " + Format("%.0f", kTop + plot_h / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">latency (ms, one message)</text>\n";

  // Baseline: every message at the main anchor (the same for every scenario).
  if (!summaries.empty()) {
    const LatencyStats& base = summaries.front().without_offload;
    for (auto [ms, color] : {std::pair{base.p50_ms, kP50Color}, std::pair{base.p99_ms, kP99Color}})
      svg += "<line x1=\"" + Format("%.0f", kLeft) + "\" x2=\"" + Format("%.0f", kWidth - kRight) +
             "\" y1=\"" + Format("%.1f", y(ms)) + "\" y2=\"" + Format("%.1f", y(ms)) +
             "\" stroke=\"" + color + "\" stroke-dasharray=\"6 4\" opacity=\"0.7\"/>\n";
  }

  // Bars: p50 and p99 side by side in each scenario's slot.
  const double slot = plot_w / std::max<std::size_t>(summaries.size(), 1);
  const double bar = std::min(36.0, slot / 3);
  for (std::size_t i = 0; i < summaries.size(); ++i) {
    const Summary& s = summaries[i];
    const double center = kLeft + slot * (i + 0.5);
    const std::pair<double, const char*> bars[] = {{s.with_offload.p50_ms, kP50Color},
                                                   {s.with_offload.p99_ms, kP99Color}};
    for (int b = 0; b < 2; ++b) {
      const double x = center - bar + b * bar;
      const double ms = bars[b].first;
      svg += "<rect x=\"" + Format("%.1f", x) + "\" y=\"" + Format("%.1f", y(ms)) + "\" width=\"" +
             Format("%.1f", bar - 2) + "\" height=\"" + Format("%.1f", kTop + plot_h - y(ms)) +
             "\" fill=\"" + bars[b].second + "\"/>\n";
      svg += "<text x=\"" + Format("%.1f", x + bar / 2 - 1) + "\" y=\"" +
             Format("%.1f", y(ms) - 4) + "\" text-anchor=\"middle\" font-size=\"10\">" + Ms(ms) +
             "</text>\n";
    }
    svg += "<text x=\"" + Format("%.1f", center) + "\" y=\"" + Format("%.0f", kTop + plot_h + 18) +
           "\" text-anchor=\"middle\">" + EscapeXml(s.name) + "</text>\n";
    svg += "<text x=\"" + Format("%.1f", center) + "\" y=\"" + Format("%.0f", kTop + plot_h + 34) +
           "\" text-anchor=\"middle\" fill=\"#555555\">" + Percent(s.offloaded_share) +
           " offloaded</text>\n";
  }

  // Legend.
  const double ly = kHeight - 14;
  svg += "<rect x=\"" + Format("%.0f", kLeft) + "\" y=\"" + Format("%.0f", ly - 10) +
         "\" width=\"12\" height=\"12\" fill=\"" + kP50Color + "\"/><text x=\"" +
         Format("%.0f", kLeft + 18) + "\" y=\"" + Format("%.0f", ly) + "\">p50</text>\n";
  svg += "<rect x=\"" + Format("%.0f", kLeft + 60) + "\" y=\"" + Format("%.0f", ly - 10) +
         "\" width=\"12\" height=\"12\" fill=\"" + kP99Color + "\"/><text x=\"" +
         Format("%.0f", kLeft + 78) + "\" y=\"" + Format("%.0f", ly) + "\">p99</text>\n";
  svg += "<text x=\"" + Format("%.0f", kLeft + 130) + "\" y=\"" + Format("%.0f", ly) +
         "\">dashed: the same messages without offload (all at the main anchor)</text>\n";
  svg += "</svg>\n";
  return svg;
}

}  // namespace sb::sim
