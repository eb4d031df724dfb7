// What the platform keeps about itself in its data folder, each file written with mode 0600:
//
//   registration.json   {"platform_id", "api_key", "name"}: what the exchange answered once
//   signing-key         the Ed25519 seed (base64url) that signs terminal tokens
//
// The API key and the seed are secrets: they are never logged. Files are replaced atomically
// (write a temporary file, fsync, rename) so that a crash leaves the old or the new content.
// Thread-safety: plain functions over files; callers serialise access to one data folder.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "auth/jwt.h"

namespace sb::platform {

struct Registration {
  std::string platform_id;
  std::string api_key;  // secret
  std::string name;
};

// The saved registration, or nullopt when none was saved. Throws std::runtime_error when the file
// exists but cannot be read or parsed.
std::optional<Registration> LoadRegistration(const std::filesystem::path& data_dir);
void SaveRegistration(const std::filesystem::path& data_dir, const Registration& registration);

// The saved signing key, or a new one that is saved first. Throws std::runtime_error on I/O errors
// or a corrupt key file.
auth::SigningKey LoadOrCreateSigningKey(const std::filesystem::path& data_dir);

// The key id published with the key: derived from the public key, so it changes when the key does.
std::string KeyId(const auth::SigningKey& key);

// Writes `content` to `path` with mode 0600, atomically; throws std::runtime_error on failure.
void WriteSecretFile(const std::filesystem::path& path, const std::string& content);

}  // namespace sb::platform
