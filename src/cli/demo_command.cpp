// `switchboard demo`: an exchange and two platforms on loopback, as child processes of this same
// binary (`serve` and `platform`), with a few users each; prints what to open and how to log in.
// Ctrl-C (or SIGTERM) stops the platforms, then the exchange, each gracefully.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "net/client.h"
#include "platform/credentials.h"

extern char** environ;

namespace sb::cli {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr auto kStartLimit = std::chrono::seconds(30);
constexpr auto kStopLimit = std::chrono::seconds(15);
constexpr auto kPoll = std::chrono::milliseconds(100);
constexpr int kEnrollmentTtlS = 600;

struct DemoUser {
  std::string account;
  std::string password;
  bool discoverable = true;
};

struct DemoPlatform {
  std::string name;
  std::string folder;  // under the demo's data folder
  std::vector<DemoUser> users;
  std::uint16_t port = 0;
  std::string platform_id;  // known once it runs
};

std::vector<DemoPlatform> DemoPlatforms() {
  return {
      {"Meta World",
       "meta-world",
       {{"alice", "alice-pass"}, {"bob", "bob-pass"}, {"carol", "carol-pass", false}}},
      {"Shop", "shop", {{"dave", "dave-pass"}, {"erin", "erin-pass"}}},
  };
}

struct DemoOptions {
  std::string data;
  std::string host = "127.0.0.1";
  int base_port = 8080;
  std::string web;
  std::string log_level = "info";
  bool verbose = false;
};

// Thrown when SIGINT or SIGTERM arrives while the demo starts.
struct Interrupted {};

// The children, and the signals that stop them. SIGINT, SIGTERM and SIGCHLD are blocked in this
// process and taken with sigtimedwait, so the demo reacts to them only where it looks.
class Supervisor {
 public:
  struct Child {
    std::string name;
    pid_t pid = -1;
    fs::path log;
  };

  Supervisor() {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    sigaddset(&signals_, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &signals_, &original_mask_);
  }
  ~Supervisor() {
    StopAll();
    pthread_sigmask(SIG_SETMASK, &original_mask_, nullptr);
  }

  // Starts this binary with `args`, its output going to `log` (or inherited when `log` is empty),
  // with `extra_env` added to the environment.
  void Spawn(const std::string& name, const std::vector<std::string>& args,
             const std::vector<std::string>& extra_env, const fs::path& log) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (!log.empty()) {
      posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                       0600);
      posix_spawn_file_actions_adddup2(&actions, 1, 2);
    }
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setsigmask(&attributes, &original_mask_);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);

    const std::string self = fs::read_symlink("/proc/self/exe").string();
    std::vector<std::string> argv_strings{self};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& arg : argv_strings)
      argv.push_back(arg.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings = extra_env;
    for (char** e = environ; *e != nullptr; ++e)
      env_strings.emplace_back(*e);
    std::vector<char*> envp;
    for (std::string& entry : env_strings)
      envp.push_back(entry.data());
    envp.push_back(nullptr);

    pid_t pid = -1;
    const int rc = posix_spawn(&pid, self.c_str(), &actions, &attributes, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (rc != 0) throw std::runtime_error("cannot start " + name);
    children_.push_back(Child{name, pid, log});
  }

  // Throws Interrupted when a stop signal is pending, and std::runtime_error when a child ended.
  void Check() {
    timespec zero{0, 0};
    siginfo_t info;
    while (true) {
      const int signal = sigtimedwait(&signals_, &info, &zero);
      if (signal == SIGINT || signal == SIGTERM) throw Interrupted{};
      if (signal < 0) break;
    }
    if (const Child* ended = ReapEnded()) {
      throw std::runtime_error(ended->name + " stopped unexpectedly" +
                               (ended->log.empty() ? "" : "; see " + ended->log.string()));
    }
  }

  // Waits for SIGINT or SIGTERM (true) or for a child to end (false).
  bool WaitForStopSignal() {
    while (true) {
      siginfo_t info;
      const int signal = sigwaitinfo(&signals_, &info);
      if (signal == SIGINT || signal == SIGTERM) return true;
      if (const Child* ended = ReapEnded()) {
        std::fprintf(stderr, "demo: %s stopped unexpectedly%s\n", ended->name.c_str(),
                     ended->log.empty() ? "" : ("; see " + ended->log.string()).c_str());
        return false;
      }
    }
  }

  // SIGTERM to each child, newest first, waiting for each to exit (SIGKILL after kStopLimit).
  void StopAll() {
    for (auto it = children_.rbegin(); it != children_.rend(); ++it) {
      if (it->pid <= 0) continue;
      ::kill(it->pid, SIGTERM);
      const auto deadline = std::chrono::steady_clock::now() + kStopLimit;
      while (::waitpid(it->pid, nullptr, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
          ::kill(it->pid, SIGKILL);
          ::waitpid(it->pid, nullptr, 0);
          break;
        }
        std::this_thread::sleep_for(kPoll);
      }
      it->pid = -1;
    }
  }

 private:
  // The first child that has ended, reaped; nullptr when all run.
  const Child* ReapEnded() {
    for (Child& child : children_) {
      if (child.pid > 0 && ::waitpid(child.pid, nullptr, WNOHANG) == child.pid) {
        child.pid = -1;
        return &child;
      }
    }
    return nullptr;
  }

  sigset_t signals_;
  sigset_t original_mask_;
  std::vector<Child> children_;
};

std::optional<std::uint16_t> ReadPortFile(const fs::path& path) {
  std::ifstream in(path);
  unsigned port = 0;
  if (!(in >> port) || port == 0 || port > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(port);
}

bool Healthy(const std::string& host, std::uint16_t port) {
  try {
    net::HttpClient http(host, port, std::chrono::milliseconds(2000));
    return http.Request("GET", "/healthz").status == 200;
  } catch (const std::runtime_error&) {
    return false;
  }
}

// Waits until the child's port file names a port that answers /healthz; returns the port.
std::uint16_t WaitReady(Supervisor& supervisor, const std::string& what, const std::string& host,
                        const fs::path& port_file) {
  const auto deadline = std::chrono::steady_clock::now() + kStartLimit;
  while (std::chrono::steady_clock::now() < deadline) {
    supervisor.Check();
    if (auto port = ReadPortFile(port_file); port && Healthy(host, *port)) return *port;
    std::this_thread::sleep_for(kPoll);
  }
  throw std::runtime_error(what + " did not become ready in time");
}

json::object PostJson(const std::string& host, std::uint16_t port, const std::string& target,
                      const std::string& credential, const json::object& body) {
  net::HttpClient http(host, port);
  const net::HttpReply reply = http.Request("POST", target, json::serialize(body),
                                            {{"Authorization", "Bearer " + credential}});
  json::error_code ec;
  json::value answer = json::parse(reply.body, ec);
  if (reply.status / 100 != 2 || ec || !answer.is_object()) {
    throw std::runtime_error("POST " + target + " answered " + std::to_string(reply.status));
  }
  return std::move(answer.get_object());
}

std::string PlatformIdOf(const std::string& host, std::uint16_t port) {
  net::HttpClient http(host, port);
  json::value answer = json::parse(http.Request("GET", "/api/platform").body);
  return std::string(answer.at("platform_id").as_string());
}

std::uint16_t PortFor(const DemoOptions& options, int offset) {
  return options.base_port == 0 ? 0 : static_cast<std::uint16_t>(options.base_port + offset);
}

fs::path LogFile(const DemoOptions& options, const fs::path& data, const std::string& name) {
  return options.verbose ? fs::path() : data / "logs" / (name + ".log");
}

void WriteUsersFile(const fs::path& path, const DemoPlatform& platform) {
  std::string text = "# Demo users of " + platform.name + " (passwords in clear: demo only)\n";
  for (const DemoUser& user : platform.users) {
    text += "\n[[user]]\naccount = \"" + user.account + "\"\npassword = \"" + user.password +
            "\"\ndiscoverable = " + (user.discoverable ? "true" : "false") + "\n";
  }
  platform::WriteSecretFile(path, text);
}

std::uint16_t StartExchange(Supervisor& supervisor, const DemoOptions& options,
                            const fs::path& data) {
  const fs::path port_file = data / "exchange.port";
  fs::remove(port_file);
  // The sample operator network, so that the topology page (/admin/topology) has edge sites.
  const fs::path config = data / "exchange.toml";
  std::ofstream(config) << (fs::exists(SB_SAMPLE_TOPOLOGY)
                                ? "topology = '" + std::string(SB_SAMPLE_TOPOLOGY) + "'\n"
                                : std::string());
  supervisor.Spawn("the exchange",
                   {"serve", "--config", config.string(), "--listen",
                    options.host + ":" + std::to_string(PortFor(options, 0)), "--data",
                    (data / "exchange").string(), "--port-file", port_file.string(), "--log-level",
                    options.log_level},
                   {}, LogFile(options, data, "exchange"));
  return WaitReady(supervisor, "the exchange", options.host, port_file);
}

void StartPlatform(Supervisor& supervisor, const DemoOptions& options, const fs::path& data,
                   std::uint16_t exchange_port, const std::string& operator_token, int offset,
                   DemoPlatform& platform) {
  const fs::path folder = data / platform.folder;
  const fs::path port_file = data / (platform.folder + ".port");
  const fs::path users_file = data / (platform.folder + "-users.toml");
  fs::create_directories(folder);
  fs::remove(port_file);
  WriteUsersFile(users_file, platform);

  // A platform that registered in an earlier run reuses its saved id and key.
  std::vector<std::string> env;
  if (!fs::exists(folder / "registration.json")) {
    const json::object enrollment =
        PostJson(options.host, exchange_port, "/v1/enrollments", operator_token,
                 json::object{{"name", platform.name}, {"expires_in", kEnrollmentTtlS}});
    env.push_back("SWITCHBOARD_ENROLLMENT_TOKEN=" +
                  std::string(enrollment.at("enrollment_token").as_string()));
  }

  std::vector<std::string> args{"platform",
                                "--exchange",
                                "http://" + options.host + ":" + std::to_string(exchange_port),
                                "--listen",
                                options.host + ":" + std::to_string(PortFor(options, offset)),
                                "--data",
                                folder.string(),
                                "--name",
                                platform.name,
                                "--users",
                                users_file.string(),
                                "--port-file",
                                port_file.string(),
                                "--log-level",
                                options.log_level};
  if (!options.web.empty()) args.insert(args.end(), {"--web", options.web});
  supervisor.Spawn(platform.name, args, env, LogFile(options, data, platform.folder));
  platform.port = WaitReady(supervisor, platform.name, options.host, port_file);
  platform.platform_id = PlatformIdOf(options.host, platform.port);
}

std::string ReadOperatorToken(const fs::path& data) {
  std::ifstream in(data / "exchange" / "operator-token");
  std::string token;
  std::getline(in, token);
  if (token.empty()) throw std::runtime_error("the exchange wrote no operator token");
  return token;
}

// demo.json: what the banner says, for scripts and tests.
void WriteInfoFile(const fs::path& data, const DemoOptions& options, std::uint16_t exchange_port,
                   const std::vector<DemoPlatform>& platforms) {
  json::array platform_list;
  for (const DemoPlatform& p : platforms) {
    json::array users;
    for (const DemoUser& u : p.users) {
      users.push_back(json::object{
          {"account", u.account}, {"password", u.password}, {"discoverable", u.discoverable}});
    }
    platform_list.push_back(
        json::object{{"name", p.name},
                     {"platform_id", p.platform_id},
                     {"url", "http://" + options.host + ":" + std::to_string(p.port)},
                     {"users", std::move(users)}});
  }
  const json::object info{
      {"exchange", "http://" + options.host + ":" + std::to_string(exchange_port)},
      {"platforms", std::move(platform_list)}};
  const fs::path temp = data / "demo.json.tmp";
  std::ofstream(temp) << json::serialize(info) << "\n";
  fs::rename(temp, data / "demo.json");
}

void PrintBanner(const DemoOptions& options, const fs::path& data, std::uint16_t exchange_port,
                 const std::vector<DemoPlatform>& platforms) {
  std::printf("\nSwitchboard demo is running. Ctrl-C stops everything.\n\n");
  std::printf("  Exchange     http://%s:%u  (operator token in %s)\n", options.host.c_str(),
              exchange_port, (data / "exchange" / "operator-token").c_str());
  std::printf("  Topology     http://%s:%u/admin/topology  (asks for the operator token)\n",
              options.host.c_str(), exchange_port);
  for (const DemoPlatform& p : platforms) {
    std::printf("\n  %-12s http://%s:%u  (platform id %s)\n", p.name.c_str(), options.host.c_str(),
                p.port, p.platform_id.c_str());
    for (const DemoUser& u : p.users) {
      std::printf("      %-8s password %s%s\n", u.account.c_str(), u.password.c_str(),
                  u.discoverable ? "" : "   (not listed in the directory)");
    }
  }
  const DemoPlatform& first = platforms.front();
  std::printf(
      "\nOpen each platform's address in a browser, log in as one of its users, and pick someone\n"
      "of the other platform to talk to. In a terminal, the chat client logs in the same way:\n"
      "  switchboard chat --platform http://%s:%u --account %s --password %s\n"
      "(`switchboard chat --help` tells more.)\n",
      options.host.c_str(), first.port, first.users.front().account.c_str(),
      first.users.front().password.c_str());
  std::printf("\nData in %s%s\n\n", data.c_str(),
              options.verbose ? "" : (", logs in " + (data / "logs").string()).c_str());
  std::fflush(stdout);
}

int RunDemo(const DemoOptions& options) {
  // A temporary folder unless one was given; the given one is kept, and reused on the next run.
  const bool temporary = options.data.empty();
  fs::path data = options.data;
  if (temporary) {
    std::string pattern = (fs::temp_directory_path() / "switchboard-demo-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("cannot create temp folder");
    data = pattern;
  }
  data = fs::absolute(data);
  fs::create_directories(data / "logs");

  int exit_code = 0;
  {
    Supervisor supervisor;
    try {
      const std::uint16_t exchange_port = StartExchange(supervisor, options, data);
      const std::string operator_token = ReadOperatorToken(data);
      std::vector<DemoPlatform> platforms = DemoPlatforms();
      for (std::size_t i = 0; i < platforms.size(); ++i) {
        StartPlatform(supervisor, options, data, exchange_port, operator_token,
                      static_cast<int>(i + 1), platforms[i]);
      }
      WriteInfoFile(data, options, exchange_port, platforms);
      PrintBanner(options, data, exchange_port, platforms);
      exit_code = supervisor.WaitForStopSignal() ? 0 : 1;
    } catch (const Interrupted&) {
      exit_code = 0;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "demo: %s\n", e.what());
      exit_code = 1;
    }
    std::printf("demo: stopping\n");
    std::fflush(stdout);
    // ~Supervisor stops the platforms, then the exchange.
  }
  if (temporary) fs::remove_all(data);
  return exit_code;
}

}  // namespace

void AddDemoCommand(CLI::App& app) {
  auto options = std::make_shared<DemoOptions>();
  auto* demo = app.add_subcommand(
      "demo", "Run an exchange and two platforms with demo users on this machine");
  demo->add_option("--data", options->data,
                   "Data folder, kept and reused (default: a temporary folder, removed at exit)");
  demo->add_option("--host", options->host, "Address to listen on (default 127.0.0.1)");
  demo->add_option("--base-port", options->base_port,
                   "Exchange port; the platforms take the next ones (default 8080; 0 picks free "
                   "ports)")
      ->check(CLI::Range(0, 65533));
  demo->add_option("--web", options->web, "Folder of the browser client (default: found)");
  demo->add_option("--log-level", options->log_level, "Log level of the children");
  demo->add_flag("--verbose", options->verbose, "Children log to this terminal, not to files");
  demo->callback([options] { ExitCode() = RunDemo(*options); });
}

}  // namespace sb::cli
