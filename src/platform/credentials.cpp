#include "platform/credentials.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "auth/secret.h"

namespace sb::platform {
namespace json = boost::json;
namespace fs = std::filesystem;
namespace {

constexpr char kRegistrationFile[] = "registration.json";
constexpr char kKeyFile[] = "signing-key";

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

std::string Member(const json::object& object, std::string_view key, const fs::path& path) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr || !value->is_string() || value->get_string().empty()) {
    throw std::runtime_error(path.string() + " lacks '" + std::string(key) + "'");
  }
  return std::string(value->get_string());
}

}  // namespace

std::optional<Registration> LoadRegistration(const fs::path& data_dir) {
  const fs::path path = data_dir / kRegistrationFile;
  if (!fs::exists(path)) return std::nullopt;

  json::error_code ec;
  json::value value = json::parse(ReadFile(path), ec);
  if (ec || !value.is_object()) throw std::runtime_error(path.string() + " is not a JSON object");
  const json::object& object = value.get_object();
  return Registration{Member(object, "platform_id", path), Member(object, "api_key", path),
                      Member(object, "name", path)};
}

void SaveRegistration(const fs::path& data_dir, const Registration& registration) {
  const json::object object{{"platform_id", registration.platform_id},
                            {"api_key", registration.api_key},
                            {"name", registration.name}};
  WriteSecretFile(data_dir / kRegistrationFile, json::serialize(object) + "\n");
}

auth::SigningKey LoadOrCreateSigningKey(const fs::path& data_dir) {
  const fs::path path = data_dir / kKeyFile;
  if (fs::exists(path)) {
    std::string seed = ReadFile(path);
    while (!seed.empty() && (seed.back() == '\n' || seed.back() == '\r'))
      seed.pop_back();
    auto key = auth::SigningKey::FromSeed(seed);
    if (!key) throw std::runtime_error(path.string() + " does not hold a valid Ed25519 seed");
    return std::move(key).value();
  }
  auth::SigningKey key = auth::SigningKey::Generate();
  WriteSecretFile(path, key.Seed() + "\n");
  return key;
}

std::string KeyId(const auth::SigningKey& key) {
  const auth::Jwk jwk = key.PublicJwk("");
  return "k" + auth::Sha256Hex(auth::Base64UrlEncode(jwk.x.data(), jwk.x.size())).substr(0, 15);
}

void WriteSecretFile(const fs::path& path, const std::string& content) {
  const fs::path temp = path.string() + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot create " + temp.string());
  // O_CREAT keeps the mode of a file that already existed: make sure of 0600.
  ::fchmod(fd, 0600);
  const bool written =
      ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!written || !synced) throw std::runtime_error("cannot write " + temp.string());
  fs::rename(temp, path);
}

}  // namespace sb::platform
