#include "socket_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace sb::bench {

std::string BindToSource(int fd, const std::string& local_address) {
  if (local_address.empty()) return {};

  sockaddr_in address{};
  address.sin_family = AF_INET;
  if (inet_pton(AF_INET, local_address.c_str(), &address.sin_addr) != 1) {
    return "bad source address " + local_address;
  }
  const int on = 1;
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    return "bind " + local_address + ": " + std::strerror(errno);
  }
  return {};
}

long RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  getrlimit(RLIMIT_NOFILE, &limit);
  return static_cast<long>(limit.rlim_cur);
}

}  // namespace sb::bench
