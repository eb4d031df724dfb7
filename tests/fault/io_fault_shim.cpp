// An LD_PRELOAD library for fault tests (docs/durability.md): it sits between the exchange and the
// C library's file calls, for files under one folder only.
//
//   SB_SHIM_WATCH_DIR    the folder whose regular files are watched (the data folder); unset: the
//                        library does nothing
//   SB_SHIM_SHADOW_DIR   copy-on-sync: at each fsync/fdatasync of a watched file, the file's whole
//                        content is copied to this folder (same name, written to a temporary file
//                        and renamed, so a copy is never half-written). The shadow folder is what a
//                        disk would still hold after a power loss: every file as of its last sync.
//   SB_SHIM_FAIL_FILE    while this file exists, writes and syncs of watched files fail with the
//                        errno in SB_SHIM_FAIL_ERRNO (default ENOSPC): a full or read-only disk
//
// Thread-safety: the calls it wraps may come from any thread; it keeps no state but the settings
// read once and the real functions' addresses.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

using WriteFn = ssize_t (*)(int, const void*, size_t);
using PwriteFn = ssize_t (*)(int, const void*, size_t, off_t);
using Pwrite64Fn = ssize_t (*)(int, const void*, size_t, off64_t);
using SyncFn = int (*)(int);

template <typename Fn>
Fn Real(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

struct Settings {
  std::string watch_dir;
  std::string shadow_dir;
  std::string fail_file;
  int fail_errno = ENOSPC;
};

const Settings& GetSettings() {
  static const Settings settings = [] {
    Settings s;
    if (const char* v = std::getenv("SB_SHIM_WATCH_DIR")) s.watch_dir = v;
    if (const char* v = std::getenv("SB_SHIM_SHADOW_DIR")) s.shadow_dir = v;
    if (const char* v = std::getenv("SB_SHIM_FAIL_FILE")) s.fail_file = v;
    if (const char* v = std::getenv("SB_SHIM_FAIL_ERRNO")) s.fail_errno = std::atoi(v);
    if (!s.watch_dir.empty() && s.watch_dir.back() != '/') s.watch_dir += '/';
    return s;
  }();
  return settings;
}

// The path of a watched regular file open as `fd`, or empty.
std::string WatchedPath(int fd) {
  const Settings& s = GetSettings();
  if (s.watch_dir.empty()) return {};
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return {};
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char path[4096];
  const ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return {};
  path[n] = '\0';
  std::string p(path);
  return p.compare(0, s.watch_dir.size(), s.watch_dir) == 0 ? p : std::string();
}

bool Failing(int fd) {
  const Settings& s = GetSettings();
  if (s.fail_file.empty() || access(s.fail_file.c_str(), F_OK) != 0) return false;
  return !WatchedPath(fd).empty();
}

// Copies the file open as `fd` (at `path`) to the shadow folder, atomically.
void CopyToShadow(int fd, const std::string& path) {
  static const auto real_write = Real<WriteFn>("write");
  const std::string name = path.substr(path.rfind('/') + 1);
  const std::string target = GetSettings().shadow_dir + "/" + name;
  const std::string temp = target + ".shim-tmp";
  const int out = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) return;
  char buf[1 << 16];
  off_t offset = 0;
  for (;;) {
    const ssize_t n = pread(fd, buf, sizeof buf, offset);
    if (n <= 0) break;
    if (real_write(out, buf, static_cast<size_t>(n)) != n) break;
    offset += n;
  }
  close(out);
  rename(temp.c_str(), target.c_str());
}

int Sync(int fd, SyncFn real) {
  if (Failing(fd)) {
    errno = GetSettings().fail_errno;
    return -1;
  }
  const int rc = real(fd);
  if (rc == 0 && !GetSettings().shadow_dir.empty()) {
    if (const std::string path = WatchedPath(fd); !path.empty()) CopyToShadow(fd, path);
  }
  return rc;
}

}  // namespace

extern "C" {

ssize_t write(int fd, const void* buf, size_t count) {
  static const auto real = Real<WriteFn>("write");
  if (Failing(fd)) {
    errno = GetSettings().fail_errno;
    return -1;
  }
  return real(fd, buf, count);
}

ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
  static const auto real = Real<PwriteFn>("pwrite");
  if (Failing(fd)) {
    errno = GetSettings().fail_errno;
    return -1;
  }
  return real(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t count, off64_t offset) {
  static const auto real = Real<Pwrite64Fn>("pwrite64");
  if (Failing(fd)) {
    errno = GetSettings().fail_errno;
    return -1;
  }
  return real(fd, buf, count, offset);
}

int fsync(int fd) {
  static const auto real = Real<SyncFn>("fsync");
  return Sync(fd, real);
}

int fdatasync(int fd) {
  static const auto real = Real<SyncFn>("fdatasync");
  return Sync(fd, real);
}

}  // extern "C"
