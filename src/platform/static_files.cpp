#include "platform/static_files.h"

#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace sb::platform {
namespace fs = std::filesystem;
namespace {

constexpr int kParentLevels = 5;

const std::map<std::string, std::string>& ContentTypes() {
  static const std::map<std::string, std::string> types{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},
  };
  return types;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The decoded path, or nullopt when it is malformed or could leave the folder.
std::optional<std::string> SafePath(const std::string& target) {
  std::string decoded;
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] != '%') {
      decoded.push_back(target[i]);
      continue;
    }
    if (i + 2 >= target.size()) return std::nullopt;
    const int high = HexValue(target[i + 1]);
    const int low = HexValue(target[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    decoded.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  if (decoded.empty() || decoded.front() != '/') return std::nullopt;
  if (decoded.find("..") != std::string::npos || decoded.find('\\') != std::string::npos ||
      decoded.find('\0') != std::string::npos) {
    return std::nullopt;
  }
  if (decoded.back() == '/') decoded += "index.html";
  return decoded.substr(1);
}

net::HttpResponse Plain(int status, std::string body) {
  net::HttpResponse response;
  response.status = status;
  response.content_type = "text/plain; charset=utf-8";
  response.body = std::move(body);
  return response;
}

bool HasIndex(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "index.html", ec);
}

}  // namespace

StaticFiles::StaticFiles(fs::path root) : root_(std::move(root)) {}

net::HttpResponse StaticFiles::Serve(const net::HttpRequest& request) const {
  if (request.method != "GET") return Plain(405, "method not allowed\n");
  const std::optional<std::string> relative = SafePath(request.path);
  if (!relative) return Plain(400, "bad path\n");

  const fs::path file = root_ / *relative;
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return Plain(404, "not found\n");
  std::ifstream in(file, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  if (!in) return Plain(500, "cannot read the file\n");

  net::HttpResponse response;
  auto type = ContentTypes().find(file.extension().string());
  response.content_type =
      type != ContentTypes().end() ? type->second : std::string("application/octet-stream");
  response.body = content.str();
  response.headers["Cache-Control"] = "no-cache";
  response.headers["X-Content-Type-Options"] = "nosniff";
  response.headers["Referrer-Policy"] = "no-referrer";
  response.headers["Content-Security-Policy"] =
      "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
      "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
  return response;
}

fs::path FindWebDir(const std::string& configured) {
  if (!configured.empty()) {
    if (!HasIndex(configured)) {
      throw std::runtime_error("web folder " + configured + " has no index.html");
    }
    return fs::absolute(configured);
  }

  std::error_code ec;
  fs::path dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  for (int level = 0; !ec && level <= kParentLevels && !dir.empty(); ++level) {
    if (HasIndex(dir / "web")) return dir / "web";
    if (HasIndex(dir / "share" / "switchboard" / "web"))
      return dir / "share" / "switchboard" / "web";
    if (dir == dir.parent_path()) break;
    dir = dir.parent_path();
  }
#ifdef SB_SOURCE_WEB_DIR
  if (HasIndex(SB_SOURCE_WEB_DIR)) return SB_SOURCE_WEB_DIR;
#endif
  throw std::runtime_error("no web folder with index.html found; give one with --web DIR");
}

}  // namespace sb::platform
