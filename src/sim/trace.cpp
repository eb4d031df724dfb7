#include "sim/trace.h"

#include <charconv>
#include <fstream>
#include <sstream>

namespace sb::sim {
namespace {

constexpr std::string_view kHeader =
    "t_ms,event,platform,account,tai,cell,to_platform,to_account,app";
constexpr std::size_t kColumns = 9;

Error LineError(std::size_t line, const std::string& what) {
  return MakeError(ErrorCode::kInvalidParams, "line " + std::to_string(line) + ": " + what);
}

std::vector<std::string_view> SplitColumns(std::string_view line) {
  std::vector<std::string_view> columns;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = line.find(',', start);
    columns.push_back(line.substr(start, comma - start));
    if (comma == std::string_view::npos) return columns;
    start = comma + 1;
  }
}

Result<std::int64_t> ParseTime(std::string_view text, std::size_t line) {
  std::int64_t value = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || value < 0)
    return LineError(line, "t_ms '" + std::string(text) + "' is not a non-negative integer");
  return value;
}

// One data line, already split; `previous_ms` is the time of the line before it.
Result<TraceEvent> ParseEvent(const std::vector<std::string_view>& c, std::size_t line,
                              std::int64_t previous_ms) {
  auto t = ParseTime(c[0], line);
  if (!t) return t.error();
  if (t.value() < previous_ms)
    return LineError(line, "t_ms " + std::to_string(t.value()) + " goes back in time");

  TraceEvent event;
  event.line = line;
  event.t_ms = t.value();
  event.from = Address{std::string(c[2]), std::string(c[3])};
  event.tai = std::string(c[4]);
  event.cell = std::string(c[5]);
  if (event.from.platform.empty() || event.from.account.empty())
    return LineError(line, "platform and account are required");

  if (c[1] == "move") {
    if (event.tai.empty()) return LineError(line, "a move needs a tai");
    return event;
  }
  if (c[1] != "send")
    return LineError(line, "event '" + std::string(c[1]) + "' is neither move nor send");
  event.kind = EventKind::kSend;
  event.to = Address{std::string(c[6]), std::string(c[7])};
  event.app = c[8].empty() ? "chat" : std::string(c[8]);
  if (event.to.platform.empty() || event.to.account.empty())
    return LineError(line, "a send needs to_platform and to_account");
  return event;
}

}  // namespace

Result<std::vector<TraceEvent>> ParseTrace(std::string_view csv) {
  std::vector<TraceEvent> events;
  std::int64_t previous_ms = 0;
  std::size_t line_number = 0;
  std::size_t start = 0;
  while (start < csv.size()) {
    std::size_t end = csv.find('\n', start);
    if (end == std::string_view::npos) end = csv.size();
    std::string_view line = csv.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

    if (line_number == 1) {
      if (line != kHeader) return LineError(1, "the header must be '" + std::string(kHeader) + "'");
      continue;
    }
    if (line.empty()) continue;
    const auto columns = SplitColumns(line);
    if (columns.size() != kColumns)
      return LineError(line_number, "expected " + std::to_string(kColumns) + " columns, found " +
                                        std::to_string(columns.size()));
    auto event = ParseEvent(columns, line_number, previous_ms);
    if (!event) return event.error();
    previous_ms = event.value().t_ms;
    events.push_back(std::move(event).value());
  }
  if (line_number == 0) return LineError(1, "the trace is empty (no header)");
  return events;
}

Result<std::vector<TraceEvent>> ReadTraceFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kNotFound, "cannot read trace " + path);
  std::stringstream text;
  text << in.rdbuf();
  auto events = ParseTrace(text.str());
  if (!events) return MakeError(events.error().code, path + ": " + events.error().message);
  return events;
}

}  // namespace sb::sim
