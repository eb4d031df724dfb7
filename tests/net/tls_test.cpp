// TLS on the listener and in the blocking clients: HTTPS and wss with a self-signed certificate
// trusted through a CA file, host-name verification, and plain HTTP to the TLS port.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>

#include "net/client.h"
#include "net/server.h"
#include "net_fixture.h"
#include "test_cert.h"

namespace sb::net {
namespace {

using testing::ServerThread;

class TlsTest : public ::testing::Test {
 protected:
  TlsTest()
      : dir_(std::filesystem::temp_directory_path() /
             ("sb-tls-test-" + std::to_string(::getpid()))),
        files_((std::filesystem::create_directories(dir_), testcert::MakeSelfSigned(dir_))) {}
  ~TlsTest() override { std::filesystem::remove_all(dir_); }

  ServerOptions TlsOptions() const {
    ServerOptions options;
    options.tls_cert_file = files_.cert_file;
    options.tls_key_file = files_.key_file;
    return options;
  }
  ClientTls Trusting() const { return ClientTls{true, files_.cert_file}; }

  std::filesystem::path dir_;
  testcert::CertFiles files_;
};

TEST_F(TlsTest, ServesHttpsToAClientThatTrustsTheCertificate) {
  ServerThread server(TlsOptions());
  ASSERT_TRUE(server.server().UsesTls());

  HttpClient http("localhost", server.port(), kDefaultClientTimeout, Trusting());
  auto reply = http.Request("GET", "/healthz");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "ok");
  // The connection is kept alive and reused.
  EXPECT_EQ(http.Request("GET", "/again").status, 200);
  EXPECT_EQ(server.server().ConnectionCount(), 1u);
}

TEST_F(TlsTest, ServesWssBothWays) {
  ServerThread server(TlsOptions());
  WsClient ws(kDefaultClientTimeout, Trusting());
  ws.Connect("localhost", server.port(), "/v1/terminal");
  ws.Send("over tls");
  EXPECT_EQ(ws.Receive(std::chrono::seconds(10)), std::optional<std::string>("over tls"));
  ws.Close();
}

TEST_F(TlsTest, RefusesACertificateForAnotherHost) {
  ServerThread server(TlsOptions());
  // The certificate names localhost only; 127.0.0.1 is a different name to the verifier.
  HttpClient http("127.0.0.1", server.port(), kDefaultClientTimeout, Trusting());
  EXPECT_THROW(http.Request("GET", "/"), std::runtime_error);
  WsClient ws(kDefaultClientTimeout, Trusting());
  EXPECT_THROW(ws.Connect("127.0.0.1", server.port(), "/v1/terminal"), std::runtime_error);
}

TEST_F(TlsTest, RefusesAnUntrustedCertificate) {
  ServerThread server(TlsOptions());
  // The system's trust store does not hold the test's self-signed certificate.
  HttpClient http("localhost", server.port(), kDefaultClientTimeout, ClientTls{true, ""});
  EXPECT_THROW(http.Request("GET", "/"), std::runtime_error);
  EXPECT_TRUE(
      server.WaitUntil([&] { return server.server().stats().tls_handshake_failures.load() >= 1; }));
}

TEST_F(TlsTest, PlainHttpToTheTlsPortGetsAPlainRefusalAndTheServerGoesOn) {
  ServerThread server(TlsOptions());
  HttpClient plain("127.0.0.1", server.port());
  auto reply = plain.Request("GET", "/healthz");
  EXPECT_EQ(reply.status, 400);
  EXPECT_NE(reply.body.find("HTTPS"), std::string::npos) << reply.body;

  HttpClient https("localhost", server.port(), kDefaultClientTimeout, Trusting());
  EXPECT_EQ(https.Request("GET", "/healthz").status, 200);
}

TEST_F(TlsTest, AServerWithAMissingKeyDoesNotStart) {
  auto options = TlsOptions();
  options.tls_key_file = (dir_ / "absent.pem").string();
  EXPECT_THROW(ServerThread{options}, std::runtime_error);
  options.tls_key_file.clear();
  EXPECT_THROW(ServerThread{options}, std::runtime_error);
}

}  // namespace
}  // namespace sb::net
