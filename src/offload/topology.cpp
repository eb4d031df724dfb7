#include "offload/topology.h"

#include <algorithm>
#include <boost/json.hpp>
#include <set>

namespace sb::offload {
namespace json = boost::json;
namespace {

bool Contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

Error Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidParams, "topology: " + std::move(message));
}

Result<std::string> ReadString(const json::object& object, std::string_view key, bool required,
                               std::string_view where) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr) {
    if (required) return Invalid(std::string(where) + "." + std::string(key) + " is missing");
    return std::string();
  }
  if (!value->is_string() || value->get_string().empty())
    return Invalid(std::string(where) + "." + std::string(key) + " must be a non-empty string");
  return std::string(value->get_string());
}

Result<std::vector<std::string>> ReadStrings(const json::object& object, std::string_view key,
                                             std::string_view where) {
  std::vector<std::string> out;
  const json::value* value = object.if_contains(key);
  if (value == nullptr) return out;
  if (!value->is_array())
    return Invalid(std::string(where) + "." + std::string(key) + " must be an array of strings");
  for (const json::value& item : value->get_array()) {
    if (!item.is_string() || item.get_string().empty())
      return Invalid(std::string(where) + "." + std::string(key) + " must hold non-empty strings");
    out.emplace_back(item.get_string());
  }
  return out;
}

double ReadNumber(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr || !value->is_number()) return 0;
  return value->to_number<double>();
}

Result<EdgeSite> ReadEdge(const json::value& value, std::size_t index) {
  const std::string where = "edges[" + std::to_string(index) + "]";
  if (!value.is_object()) return Invalid(where + " must be an object");
  const json::object& object = value.get_object();
  EdgeSite edge;
  for (auto [key, out] : {std::pair{"site", &edge.site}, std::pair{"dnai", &edge.dnai},
                          std::pair{"ulcl", &edge.ulcl}, std::pair{"psa", &edge.psa}}) {
    auto read = ReadString(object, key, true, where);
    if (!read) return read.error();
    *out = std::move(read).value();
  }
  auto city = ReadString(object, "city", false, where);
  auto tais = ReadStrings(object, "tais", where);
  auto cells = ReadStrings(object, "cells", where);
  if (!city) return city.error();
  if (!tais) return tais.error();
  if (!cells) return cells.error();
  edge.city = std::move(city).value();
  edge.tais = std::move(tais).value();
  edge.cells = std::move(cells).value();
  edge.latency_to_main_ms = ReadNumber(object, "latency_to_main_ms");
  edge.latency_local_ms = ReadNumber(object, "latency_local_ms");
  if (edge.tais.empty()) return Invalid(where + " serves no TAI");
  return edge;
}

// Every name that identifies something must identify one thing only.
Status CheckUnique(const Topology& topology) {
  std::set<std::string> sites{topology.main().site};
  std::set<std::string> dnais{topology.main().dnai};
  std::set<std::string> tais(topology.uncovered_tais().begin(), topology.uncovered_tais().end());
  std::set<std::string> cells;
  for (const EdgeSite& edge : topology.edges()) {
    if (!sites.insert(edge.site).second) return Invalid("site '" + edge.site + "' appears twice");
    if (!dnais.insert(edge.dnai).second) return Invalid("dnai '" + edge.dnai + "' appears twice");
    for (const auto& tai : edge.tais) {
      if (!tais.insert(tai).second)
        return Invalid("tai '" + tai + "' belongs to two sites (or is also uncovered)");
    }
    for (const auto& cell : edge.cells) {
      if (!cells.insert(cell).second) return Invalid("cell '" + cell + "' belongs to two sites");
    }
  }
  return Ok{};
}

}  // namespace

bool EdgeSite::ServesTai(std::string_view tai) const {
  return Contains(tais, tai);
}

bool EdgeSite::ServesCell(std::string_view cell) const {
  return Contains(cells, cell);
}

Topology Topology::MainOnly(MainSite main) {
  Topology topology;
  topology.main_ = std::move(main);
  return topology;
}

Result<Topology> Topology::Parse(std::string_view text) {
  json::error_code ec;
  json::value root = json::parse(text, ec);
  if (ec) return Invalid("not valid JSON: " + ec.message());
  if (!root.is_object()) return Invalid("the document must be a JSON object");
  const json::object& object = root.get_object();

  Topology topology;
  auto plmn = ReadString(object, "plmn", false, "");
  if (!plmn) return plmn.error();
  topology.plmn_ = std::move(plmn).value();

  const json::value* main = object.if_contains("main");
  if (main == nullptr || !main->is_object())
    return Invalid("'main' must be an object {site, dnai, psa}");
  auto site = ReadString(main->get_object(), "site", true, "main");
  auto dnai = ReadString(main->get_object(), "dnai", false, "main");
  auto psa = ReadString(main->get_object(), "psa", true, "main");
  if (!site) return site.error();
  if (!dnai) return dnai.error();
  if (!psa) return psa.error();
  topology.main_ =
      MainSite{std::move(site).value(), std::move(dnai).value(), std::move(psa).value()};

  if (const json::value* edges = object.if_contains("edges")) {
    if (!edges->is_array()) return Invalid("'edges' must be an array");
    for (std::size_t i = 0; i < edges->get_array().size(); ++i) {
      auto edge = ReadEdge(edges->get_array()[i], i);
      if (!edge) return edge.error();
      topology.edges_.push_back(std::move(edge).value());
    }
  }
  auto uncovered = ReadStrings(object, "uncovered_tais", "");
  if (!uncovered) return uncovered.error();
  topology.uncovered_tais_ = std::move(uncovered).value();

  if (auto unique = CheckUnique(topology); !unique) return unique.error();
  return topology;
}

const EdgeSite* Topology::FindByDnai(std::string_view dnai) const {
  for (const EdgeSite& edge : edges_) {
    if (edge.dnai == dnai) return &edge;
  }
  return nullptr;
}

const EdgeSite* Topology::FindBySite(std::string_view site) const {
  for (const EdgeSite& edge : edges_) {
    if (edge.site == site) return &edge;
  }
  return nullptr;
}

const EdgeSite* Topology::SiteServing(const Location& location) const {
  for (const EdgeSite& edge : edges_) {
    if (location.cell.empty() ? edge.ServesTai(location.tai) : edge.ServesCell(location.cell))
      return &edge;
  }
  return nullptr;
}

bool Topology::KnowsTai(std::string_view tai) const {
  if (Contains(uncovered_tais_, tai)) return true;
  return std::any_of(edges_.begin(), edges_.end(),
                     [&](const EdgeSite& edge) { return edge.ServesTai(tai); });
}

bool Topology::KnowsCell(std::string_view cell) const {
  return std::any_of(edges_.begin(), edges_.end(),
                     [&](const EdgeSite& edge) { return edge.ServesCell(cell); });
}

Status Topology::CheckLocation(const Location& location) const {
  if (location.tai.empty())
    return MakeError(ErrorCode::kInvalidParams, "'tai' must be a non-empty string");
  if (!HasEdges() && uncovered_tais_.empty()) return Ok{};
  if (!KnowsTai(location.tai))
    return MakeError(ErrorCode::kInvalidParams,
                     "tai '" + location.tai + "' is not in the exchange's topology");
  if (location.cell.empty()) return Ok{};
  if (!KnowsCell(location.cell))
    return MakeError(ErrorCode::kInvalidParams,
                     "cell '" + location.cell + "' is not in the exchange's topology");
  const EdgeSite* by_cell = SiteServing(location);
  if (by_cell != nullptr && !by_cell->ServesTai(location.tai))
    return MakeError(ErrorCode::kInvalidParams, "cell '" + location.cell + "' is not in tai '" +
                                                    location.tai + "' (it belongs to site '" +
                                                    by_cell->site + "')");
  return Ok{};
}

}  // namespace sb::offload
