#include "platform_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "net/client.h"

#ifndef SWITCHBOARD_BIN
#error "SWITCHBOARD_BIN must name the switchboard binary"
#endif

extern char** environ;

namespace sb::ptest {
namespace fs = std::filesystem;
namespace {

constexpr auto kStartLimit = std::chrono::seconds(30);
constexpr auto kPoll = std::chrono::milliseconds(50);

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool Healthy(std::uint16_t port, const std::string& tls_ca_file) {
  try {
    // A certificate names "localhost", so a TLS probe goes there rather than to the address.
    const bool tls = !tls_ca_file.empty();
    net::HttpClient http(tls ? "localhost" : "127.0.0.1", port, std::chrono::milliseconds(2000),
                         net::ClientTls{tls, tls_ca_file});
    return http.Request("GET", "/healthz").status == 200;
  } catch (const std::runtime_error&) {
    return false;
  }
}

int ExitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

}  // namespace

PlatformProcess::PlatformProcess(const fs::path& dir, std::uint16_t exchange_port, std::string name)
    : dir_(dir), exchange_port_(exchange_port), name_(std::move(name)) {
  fs::create_directories(dir_);
}

PlatformProcess::~PlatformProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

// Everything the child needs is built before fork: after it, only async-signal-safe calls.
void PlatformProcess::Spawn(const std::string& enrollment_token) {
  fs::remove(dir_ / "port");
  std::vector<std::string> args{
      SWITCHBOARD_BIN,
      "platform",
      "--exchange",
      exchange_url_.empty() ? "http://127.0.0.1:" + std::to_string(exchange_port_) : exchange_url_,
      "--listen",
      "127.0.0.1:0",
      "--data",
      DataDir().string(),
      "--name",
      name_,
      "--port-file",
      (dir_ / "port").string(),
      "--log-level",
      "debug"};
  args.insert(args.end(), args_.begin(), args_.end());
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "SWITCHBOARD_ENROLLMENT_TOKEN=", 29) != 0) env.emplace_back(*e);
  }
  if (!enrollment_token.empty()) env.push_back("SWITCHBOARD_ENROLLMENT_TOKEN=" + enrollment_token);
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env)
    envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string log = (dir_ / "platform.log").string();

  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  pid_ = pid;
}

void PlatformProcess::Start(const std::string& enrollment_token) {
  Spawn(enrollment_token);
  const auto deadline = std::chrono::steady_clock::now() + kStartLimit;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("platform exited with " + std::to_string(ExitStatus(status)) +
                               ":\n" + Log());
    }
    std::ifstream in(dir_ / "port");
    unsigned port = 0;
    if (in >> port && port > 0 && Healthy(static_cast<std::uint16_t>(port), tls_ca_file_)) {
      port_ = static_cast<std::uint16_t>(port);
      return;
    }
    std::this_thread::sleep_for(kPoll);
  }
  throw std::runtime_error("platform not ready in time:\n" + Log());
}

int PlatformProcess::StartExpectingExit(const std::string& enrollment_token) {
  Spawn(enrollment_token);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return ExitStatus(status);
}

int PlatformProcess::Stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
      return -1;
    }
    std::this_thread::sleep_for(kPoll);
  }
  pid_ = -1;
  return ExitStatus(status);
}

std::string PlatformProcess::Log() const {
  return ReadAll(dir_ / "platform.log");
}

json::object PlatformProcess::SavedRegistration() const {
  return json::parse(ReadAll(DataDir() / "registration.json")).as_object();
}

std::string CreateEnrollment(itest::Api& exchange, const std::string& operator_token,
                             const std::string& name) {
  const itest::ApiReply reply =
      exchange.Call("POST", "/v1/enrollments", operator_token, json::object{{"name", name}});
  if (reply.status != 201) throw std::runtime_error("enrollment: " + reply.Describe());
  return std::string(reply.body.at("enrollment_token").as_string());
}

}  // namespace sb::ptest
