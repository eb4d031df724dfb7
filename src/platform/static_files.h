// Serves the browser client's files (index.html, app.js, style.css, ...) from one folder.
//
// Only GET is answered; paths are percent-decoded and refused when they could leave the folder
// ("..", backslashes, NUL). "/" is index.html. Responses carry a strict Content-Security-Policy:
// scripts and styles from this origin only, connections to this origin and to WebSockets.
//
// Thread-safety: Serve reads files and holds no mutable state: safe from any thread. It reads
// small files synchronously; the platform calls it on its event loop.
#pragma once

#include <filesystem>
#include <string>

#include "net/server.h"

namespace sb::platform {

class StaticFiles {
 public:
  explicit StaticFiles(std::filesystem::path root);

  net::HttpResponse Serve(const net::HttpRequest& request) const;
  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
};

// The folder of the browser client: `configured` when given, else the first `web/` holding an
// index.html found next to the binary or in one of its parent folders, else the source tree's.
// Throws std::runtime_error when there is none.
std::filesystem::path FindWebDir(const std::string& configured);

}  // namespace sb::platform
