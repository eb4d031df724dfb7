#include "crowd.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <utility>

namespace sb::fault {
namespace {

constexpr std::string_view kUpgrade =
    "GET /v1/terminal HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n";
constexpr std::string_view kWelcome = "\"type\":\"welcome\"";

// A masked client text frame (RFC 6455 section 5.2) carrying `text`.
std::string TextFrame(const std::string& text) {
  const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
  std::string frame;
  frame.push_back(static_cast<char>(0x81));
  if (text.size() < 126) {
    frame.push_back(static_cast<char>(0x80 | text.size()));
  } else {
    frame.push_back(static_cast<char>(0x80 | 126));
    frame.push_back(static_cast<char>((text.size() >> 8) & 0xff));
    frame.push_back(static_cast<char>(text.size() & 0xff));
  }
  frame.append(reinterpret_cast<const char*>(mask), 4);
  for (std::size_t i = 0; i < text.size(); ++i)
    frame.push_back(static_cast<char>(text[i] ^ mask[i % 4]));
  return frame;
}

struct Conn {
  int fd = -1;
  std::string out;  // bytes still to write
  std::string in;
  std::string hello;
  bool upgraded = false;
  bool done = false;
  int attempts = 0;
};

bool Flush(Conn& c) {
  while (!c.out.empty()) {
    const ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    c.out.erase(0, static_cast<std::size_t>(n));
  }
  return true;
}

// Reads what is there; false when the connection failed or closed.
bool Drain(Conn& c) {
  char buf[4096];
  for (;;) {
    const ssize_t n = recv(c.fd, buf, sizeof buf, 0);
    if (n > 0) {
      c.in.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
}

// Advances one connection after an event; returns +1 welcomed, -1 failed, 0 not yet.
int Step(Conn& c, std::uint32_t events) {
  if ((events & (EPOLLERR | EPOLLHUP)) != 0 && (events & EPOLLIN) == 0) return -1;
  if (!Flush(c)) return -1;
  if ((events & EPOLLIN) != 0 && !Drain(c)) return -1;
  if (!c.upgraded) {
    const auto end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) return 0;
    if (c.in.find(" 101 ") == std::string::npos) return -1;
    c.upgraded = true;
    c.in.erase(0, end + 4);
    c.out += TextFrame(c.hello);
    if (!Flush(c)) return -1;
  }
  return c.in.find(kWelcome) != std::string::npos ? 1 : 0;
}

// A non-blocking connect from 127.0.0.`source` to 127.0.0.1:`port`.
int OpenNonBlocking(std::uint16_t port, int source) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed: errno " + std::to_string(errno));
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_addr.s_addr = htonl(INADDR_LOOPBACK - 1 + static_cast<std::uint32_t>(source));
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
    close(fd);
    return -1;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

CrowdResult ConnectCrowd(std::uint16_t port, const std::vector<std::string>& hellos, int sources,
                         std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  CrowdResult result;
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<Conn> conns(hellos.size());
  std::vector<std::pair<Clock::time_point, std::size_t>> retries;  // (due, connection)

  // Opens connection i (again); false when it cannot even be started.
  const auto open = [&](std::size_t i) {
    Conn& c = conns[i];
    ++c.attempts;
    c.out = std::string(kUpgrade);
    c.in.clear();
    c.fd = OpenNonBlocking(port, 1 + static_cast<int>(i % static_cast<std::size_t>(sources)));
    if (c.fd < 0) return false;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
    ev.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    return true;
  };
  const auto fail = [&](std::size_t i) {
    Conn& c = conns[i];
    if (c.fd >= 0) close(c.fd);
    c.fd = -1;
    // Only a connection the exchange never answered is tried again: a refusal stays a failure.
    if (!c.upgraded && c.in.empty() && c.attempts < kCrowdConnectAttempts) {
      retries.emplace_back(Clock::now() + std::chrono::milliseconds(100 << c.attempts), i);
      return;
    }
    c.done = true;
    ++result.failed;
  };

  // Every connect is started before any answer is read: they all arrive at once.
  for (std::size_t i = 0; i < hellos.size(); ++i) {
    conns[i].hello = hellos[i];
    if (!open(i)) fail(i);
  }

  const auto deadline = Clock::now() + timeout;
  std::vector<epoll_event> events(1024);
  while (result.welcomed + result.failed < conns.size() && Clock::now() < deadline) {
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    for (int k = 0; k < n; ++k) {
      const std::size_t i = events[k].data.u64;
      Conn& c = conns[i];
      if (c.done || c.fd < 0) continue;
      const int step = Step(c, events[k].events);
      if (step == 0) continue;
      if (step < 0) {
        fail(i);
        continue;
      }
      c.done = true;
      ++result.welcomed;
    }
    const auto now = Clock::now();
    std::vector<std::size_t> due;
    std::erase_if(retries, [&](const auto& r) {
      if (r.first > now) return false;
      due.push_back(r.second);
      return true;
    });
    for (std::size_t i : due) {
      ++result.reconnects;
      if (!open(i)) fail(i);
    }
  }

  for (Conn& c : conns)
    if (c.fd >= 0) close(c.fd);
  close(ep);
  return result;
}

std::size_t RaiseOpenFileLimit() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  getrlimit(RLIMIT_NOFILE, &limit);
  return static_cast<std::size_t>(limit.rlim_cur);
}

}  // namespace sb::fault
