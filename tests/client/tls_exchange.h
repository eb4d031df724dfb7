// `switchboard serve` over TLS, for tests of clients that reach the exchange with https and wss:
// a fresh self-signed certificate for "localhost" (tests/net/test_cert.h), a loopback port, and
// the operator token set in the child's environment. The harness's ExchangeProcess cannot serve
// this: it waits for the exchange over plain HTTP.
//
// Connect to "localhost" (the name in the certificate), trusting CaFile(). Not thread-safe.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "integration/harness.h"
#include "net/test_cert.h"

extern char** environ;

namespace sb::tlstest {

class TlsExchangeProcess {
 public:
  // Starts the exchange in `dir` and waits (up to 30 s) until it answers /healthz over https.
  // Throws std::runtime_error with the log when it does not.
  explicit TlsExchangeProcess(const std::filesystem::path& dir) : dir_(dir) {
    std::filesystem::create_directories(dir_);
    cert_ = testcert::MakeSelfSigned(dir_);
    operator_token_ = "operator-" + auth::SigningKey::Generate().Seed();
    Spawn();
    WaitUntilReady();
  }
  ~TlsExchangeProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  TlsExchangeProcess(const TlsExchangeProcess&) = delete;
  TlsExchangeProcess& operator=(const TlsExchangeProcess&) = delete;

  std::uint16_t Port() const { return port_; }
  const std::string& OperatorToken() const { return operator_token_; }
  // The certificate, which is its own authority: what a client must trust.
  const std::string& CaFile() const { return cert_.cert_file; }
  std::string HttpsUrl() const { return "https://localhost:" + std::to_string(port_); }
  std::string WssUrl() const { return "wss://localhost:" + std::to_string(port_) + "/v1/terminal"; }
  std::string Log() const { return ReadAll(dir_ / "exchange.log"); }

  // An HTTPS client of the API that trusts the certificate.
  net::HttpClient Https() const {
    return net::HttpClient("localhost", port_, net::kDefaultClientTimeout,
                           net::ClientTls{true, CaFile()});
  }

 private:
  static std::string ReadAll(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }

  // Everything the child needs is built before fork: after it, only async-signal-safe calls.
  void Spawn() {
    const char* bin = std::getenv("SWITCHBOARD_TEST_BIN");
    std::vector<std::string> args = {bin != nullptr && *bin != 0 ? bin : SWITCHBOARD_BIN,
                                     "serve",
                                     "--listen=127.0.0.1:0",
                                     "--data=" + (dir_ / "data").string(),
                                     "--port-file=" + (dir_ / "port").string(),
                                     "--tls-cert=" + cert_.cert_file,
                                     "--tls-key=" + cert_.key_file};
    const std::string token_variable = "SWITCHBOARD_OPERATOR_TOKEN=";
    std::vector<std::string> env = {token_variable + operator_token_};
    for (char** entry = environ; *entry != nullptr; ++entry) {
      if (std::strncmp(*entry, token_variable.c_str(), token_variable.size()) != 0)
        env.emplace_back(*entry);
    }
    std::vector<char*> argv = Pointers(args);
    std::vector<char*> envp = Pointers(env);
    const std::string log = (dir_ / "exchange.log").string();

    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) _exit(127);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
  }

  static std::vector<char*> Pointers(std::vector<std::string>& strings) {
    std::vector<char*> out;
    for (auto& s : strings)
      out.push_back(s.data());
    out.push_back(nullptr);
    return out;
  }

  void WaitUntilReady() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("the exchange exited; log:\n" + Log());
      }
      if (Ready()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("the exchange did not start; log:\n" + Log());
  }

  bool Ready() {
    const std::string text = ReadAll(dir_ / "port");
    if (text.empty() || text.back() != '\n') return false;
    port_ = static_cast<std::uint16_t>(std::stoi(text));
    try {
      return Https().Request("GET", "/healthz").status == 200;
    } catch (const std::runtime_error&) {
      return false;
    }
  }

  std::filesystem::path dir_;
  testcert::CertFiles cert_;
  std::string operator_token_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace sb::tlstest
