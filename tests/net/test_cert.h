// A self-signed certificate for tests of TLS, made with the openssl command-line tool.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace sb::testcert {

struct CertFiles {
  std::string cert_file;  // PEM certificate, which also serves as the clients' CA file
  std::string key_file;   // PEM private key
};

// Writes a fresh P-256 key and a one-day certificate for `alt_names` (e.g. "DNS:localhost")
// into `dir`. Throws std::runtime_error when openssl fails.
inline CertFiles MakeSelfSigned(const std::filesystem::path& dir,
                                const std::string& alt_names = "DNS:localhost") {
  CertFiles files{(dir / "cert.pem").string(), (dir / "key.pem").string()};
  const std::string command =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1"
      " -subj /CN=switchboard-test -addext 'subjectAltName=" +
      alt_names + "' -keyout '" + files.key_file + "' -out '" + files.cert_file + "' 2>/dev/null";
  if (std::system(command.c_str()) != 0) {
    throw std::runtime_error("openssl could not make a test certificate");
  }
  return files;
}

}  // namespace sb::testcert
