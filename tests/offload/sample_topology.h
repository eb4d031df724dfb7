// The sample operator network (config/topology.sample.json), read once for offload tests.
#pragma once

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "offload/topology.h"

namespace sb::offload::testing {

// Sites of the sample: core-bj (main), edge-sz, edge-gz, edge-sh.
inline constexpr const char* kSzTai = "460-00-001a01";
inline constexpr const char* kSzCell = "460-00-001a01001";
inline constexpr const char* kSzTai2 = "460-00-001a02";
inline constexpr const char* kGzTai = "460-00-001b01";
inline constexpr const char* kGzCell = "460-00-001b01001";
inline constexpr const char* kShTai = "460-00-002c01";
inline constexpr const char* kUncoveredTai = "460-00-003d01";

inline std::string SampleTopologyJson() {
  std::ifstream in(SB_SAMPLE_TOPOLOGY);
  if (!in) throw std::runtime_error("cannot read " + std::string(SB_SAMPLE_TOPOLOGY));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline Topology SampleTopology() {
  auto topology = Topology::Parse(SampleTopologyJson());
  if (!topology) throw std::runtime_error(topology.error().message);
  return std::move(topology).value();
}

}  // namespace sb::offload::testing
