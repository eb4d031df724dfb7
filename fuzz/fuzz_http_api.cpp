// The HTTP API's real handler (api::HttpApi::Handle) on a real registry, exchange and offload
// service over an SQLite store in a temporary folder: every request line, credential and body
// the fuzzer makes goes through routing, authorisation, body parsing and the registry.
//
// Input: byte 0 picks the credential (none, the operator token, platform alpha's key, platform
// beta's key, or a wrong one); then "METHOD TARGET\n", then the body. Every answer must be a
// status from 100 to 599, and every error must be the contract's JSON error shape.
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "api/http_api.h"
#include "api/offload_api.h"
#include "auth/jwt.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "delivery/exchange.h"
#include "offload/offload_service.h"
#include "registry/registry.h"
#include "store/sqlite/sqlite_store.h"

namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr char kOperatorToken[] = "sbo_fuzz-operator-token";
// An answer may wait for the store's commit on its own thread; this is far beyond any commit.
constexpr auto kAnswerTimeout = 60s;

// Tasks posted from any thread (the store's commit thread among them) run on the fuzzer's thread.
class TaskQueue {
 public:
  sb::Executor executor() {
    return [this](std::function<void()> task) {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(task));
      cv_.notify_one();
    };
  }

  // Runs tasks until `done()` holds; false when the timeout passes first.
  bool RunUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + kAnswerTimeout;
    while (!done()) {
      std::unique_lock lock(mu_);
      if (!cv_.wait_until(lock, deadline, [this] { return !tasks_.empty(); })) return false;
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
    }
    return true;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
};

struct Answer {
  bool done = false;
  sb::net::HttpResponse response;
};

// The exchange's components, wired as `switchboard serve` wires them, minus the listener.
class Exchange {
 public:
  Exchange()
      : dir_(MakeDir()),
        store_(sb::store::OpenSqliteStore({(dir_ / "fuzz.db").string(), false}, metrics_)),
        registry_(*store_, queue_.executor(), metrics_),
        exchange_(registry_, *store_, queue_.executor(), metrics_, {}),
        offload_(sb::offload::Topology::MainOnly({"main", "", "psa-main"}), registry_, metrics_,
                 sb::NowMillis, [](const sb::Address&) { return std::vector<std::uint64_t>{}; }),
        offload_api_(registry_, offload_),
        http_(registry_, exchange_, metrics_, sb::api::HttpApiOptions{kOperatorToken}) {
    const auto snapshot = store_->Load();
    registry_.Load(snapshot);
    exchange_.Load(snapshot);
    registry_.SetObserver(&exchange_);
    http_.SetOffloadApi(&offload_api_);
    alpha_key_ = Register("alpha");
    beta_key_ = Register("beta");
  }

  ~Exchange() {
    store_->Close();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  sb::net::HttpResponse Call(std::string method, std::string target, std::string_view credential,
                             std::string body) {
    sb::net::HttpRequest request;
    request.method = std::move(method);
    const auto mark = target.find('?');
    request.path = target.substr(0, mark);
    if (mark != std::string::npos) request.query = target.substr(mark + 1);
    if (!credential.empty()) request.headers["authorization"] = "Bearer " + std::string(credential);
    request.headers["content-type"] = "application/json";
    request.body = std::move(body);
    request.remote = "127.0.0.1:1";

    auto answer = std::make_shared<Answer>();
    http_.Handle(std::move(request), [answer](sb::net::HttpResponse response) {
      answer->response = std::move(response);
      answer->done = true;
    });
    if (!queue_.RunUntil([&answer] { return answer->done; })) {
      std::fprintf(stderr, "the request was never answered\n");
      std::abort();
    }
    return std::move(answer->response);
  }

  std::string Credential(std::uint8_t choice) const {
    switch (choice % 5) {
      case 0:
        return {};
      case 1:
        return kOperatorToken;
      case 2:
        return alpha_key_;
      case 3:
        return beta_key_;
      default:
        return "sbk_not-a-key";
    }
  }

 private:
  static std::filesystem::path MakeDir() {
    auto dir =
        std::filesystem::temp_directory_path() / ("sb-fuzz-http-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir;
  }

  std::string Register(const std::string& name) {
    auto key = sb::auth::SigningKey::Generate();
    const std::string body = R"({"name":")" + name + R"(","accounts":["alice","bob"],"jwks":)" +
                             R"({"keys":[)" + key.PublicJwkJson("k1") + "]}}";
    auto response = Call("POST", "/v1/platforms", kOperatorToken, body);
    auto parsed = json::parse(response.body).as_object();
    if (response.status != 201 || json::value_to<std::string>(parsed["platform_id"]) != name) {
      std::fprintf(stderr, "cannot register %s: %s\n", name.c_str(), response.body.c_str());
      std::abort();
    }
    return json::value_to<std::string>(parsed["api_key"]);
  }

  std::filesystem::path dir_;
  sb::MetricsRegistry metrics_;
  TaskQueue queue_;
  std::unique_ptr<sb::store::Store> store_;
  sb::registry::Registry registry_;
  sb::delivery::Exchange exchange_;
  sb::offload::OffloadService offload_;
  sb::api::OffloadApi offload_api_;
  sb::api::HttpApi http_;
  std::string alpha_key_;
  std::string beta_key_;
};

// Whether `body` is {"error":{"code":"..","message":".."}}.
bool IsErrorBody(const std::string& body) {
  json::error_code ec;
  auto value = json::parse(body, ec);
  if (ec || !value.is_object()) return false;
  const auto* error = value.as_object().if_contains("error");
  if (error == nullptr || !error->is_object()) return false;
  const auto* code = error->as_object().if_contains("code");
  const auto* message = error->as_object().if_contains("message");
  return code != nullptr && code->is_string() && message != nullptr && message->is_string();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Exchange* exchange = new Exchange();  // lives for the whole run, like the real one
  if (size == 0) return 0;

  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto line_end = rest.find('\n');
  const std::string_view line = rest.substr(0, line_end);
  const std::string body =
      line_end == std::string_view::npos ? std::string{} : std::string(rest.substr(line_end + 1));
  const auto space = line.find(' ');
  if (space == std::string_view::npos) return 0;

  auto response =
      exchange->Call(std::string(line.substr(0, space)), std::string(line.substr(space + 1)),
                     exchange->Credential(data[0]), body);
  if (response.status < 100 || response.status > 599) std::abort();
  if (response.status >= 400 && !IsErrorBody(response.body)) {
    std::fprintf(stderr, "error %d without the error shape: %s\n", response.status,
                 response.body.c_str());
    std::abort();
  }
  return 0;
}
