// `switchboard chat`: a terminal for people and scripts, built on the client library.
//
//   interactive          a line-oriented chat: numbered contacts, /to N, typed lines are sent
//   --send-to --text     sends one message; exit 0 when accepted, 2 (and the code) when rejected
//   --listen [--json]    prints every event, one line each, until SIGINT or SIGTERM
//
// It logs in through a platform (--platform, --account, --password), or takes a terminal token
// and the exchange's URL directly (--token, --exchange). Either URL may use TLS (https, wss): the
// certificate must verify against --ca-file, or the system's store without it.
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "client/chat_format.h"
#include "client/platform_api.h"
#include "client/terminal.h"

namespace sb::cli {
namespace {

using namespace std::chrono_literals;
using client::chat::Contact;

constexpr int kExitRejected = 2;
constexpr int kExitUnavailable = 3;

struct ChatOptions {
  std::string platform;
  std::string account;
  std::string password;
  std::string token;
  std::string exchange;
  std::string ca_file;
  std::string device = "chat";
  std::string send_to;
  std::string text;
  bool listen = false;
  bool json = false;
  int timeout_s = 30;
  std::string log_level = "warn";
};

// What logging in produced: how to reach the exchange, and whom to write to.
struct ChatSession {
  std::string token;
  std::string exchange_url;
  std::string platform_name;
  std::vector<Contact> contacts;
};

class ChatFailure : public std::runtime_error {
 public:
  ChatFailure(int exit_code, const std::string& what)
      : std::runtime_error(what), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// Logs go to standard error, so that standard output carries only the chat (or the JSON lines).
void SetUpChatLogging(const std::string& level) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("chat"));
  SetUpLogging(level);
}

std::vector<Contact> FetchContacts(client::PlatformApi& platform, const std::string& token,
                                   const Address& self) {
  auto users = platform.Users(token);
  if (!users) {
    throw ChatFailure(kExitUnavailable,
                      "listing users failed: " + std::string(ErrorCodeName(users.error().code)) +
                          ": " + users.error().message);
  }
  return client::chat::ContactsFrom(users.value(), self);
}

ChatSession LogIn(const ChatOptions& options) {
  ChatSession session{options.token, options.exchange, {}, {}};
  if (options.platform.empty()) {
    if (session.token.empty() || session.exchange_url.empty())
      throw CLI::ValidationError(
          "give --platform with --account and --password, or --token "
          "with --exchange");
    return session;
  }

  client::PlatformApi platform(options.platform, options.ca_file);
  Address self;
  if (session.token.empty()) {
    auto login = platform.LogIn(options.account, options.password);
    if (!login) {
      throw ChatFailure(kExitUnavailable,
                        "login failed: " + std::string(ErrorCodeName(login.error().code)) + ": " +
                            login.error().message);
    }
    session.token = login.value().token;
    session.platform_name = login.value().platform_name;
    self = Address{login.value().platform_id, login.value().account};
    if (session.exchange_url.empty()) session.exchange_url = login.value().exchange_ws;
  }
  if (session.exchange_url.empty())
    throw ChatFailure(kExitUnavailable, "the platform named no exchange: give --exchange");
  if (!options.send_to.empty() || options.listen) return session;
  session.contacts = FetchContacts(platform, session.token, self);
  return session;
}

client::TerminalOptions TerminalOptionsFor(const ChatOptions& options, const ChatSession& session) {
  client::TerminalOptions terminal;
  terminal.url = session.exchange_url;
  terminal.ca_file = options.ca_file;
  terminal.token = session.token;
  terminal.device = options.device;
  return terminal;
}

// --- Script mode: one message ---

void SendOne(const ChatOptions& options, const ChatSession& session) {
  auto to = client::chat::ParseAddress(options.send_to);
  if (!to) throw CLI::ValidationError("--send-to must be account@platform-id");

  client::Terminal terminal(TerminalOptionsFor(options, session));
  terminal.Start();
  auto id = terminal.SendText(*to, options.text);
  if (!id)
    throw ChatFailure(kExitRejected, "rejected " + std::string(ErrorCodeName(id.error().code)) +
                                         ": " + id.error().message);

  // Every wait is bounded by the overall --timeout; the terminal owns its thread until Stop.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options.timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    auto event = terminal.Next(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()));
    if (!event) break;
    if (const auto* accepted = std::get_if<client::Accepted>(&*event)) {
      std::cout << "accepted " << accepted->message_id << std::endl;
      return;
    }
    if (const auto* rejected = std::get_if<client::Rejected>(&*event)) {
      std::cout << "rejected " << rejected->error.name << ": " << rejected->error.message
                << std::endl;
      ExitCode() = kExitRejected;
      return;
    }
    if (const auto* lost = std::get_if<client::Disconnected>(&*event); lost && !lost->will_retry)
      throw ChatFailure(kExitUnavailable, lost->reason.name + ": " + lost->reason.message);
  }
  throw ChatFailure(kExitUnavailable, "unavailable: no answer from the exchange in time");
}

// --- Listen mode ---

void Listen(const ChatOptions& options, const ChatSession& session) {
  // Block the signals before the terminal's thread exists, so that it inherits the mask and
  // sigwait below is the only place they arrive. SIGUSR1 is the terminal giving up.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::mutex out;
  const bool json = options.json;
  // The handler runs on the terminal's thread; `out` and the terminal outlive it (Stop joins).
  client::Terminal terminal(TerminalOptionsFor(options, session), [&](const client::Event& e) {
    std::lock_guard lock(out);
    if (json) {
      std::cout << client::chat::EventJson(e) << std::endl;
    } else if (const auto* message = std::get_if<client::Message>(&e)) {
      std::cout << client::chat::FormatIncoming(*message) << std::endl;
    }
    if (const auto* lost = std::get_if<client::Disconnected>(&e); lost && !lost->will_retry) {
      if (!json)
        std::cerr << "switchboard chat: " << lost->reason.name << ": " << lost->reason.message
                  << std::endl;
      ExitCode() = kExitUnavailable;
      kill(getpid(), SIGUSR1);
    }
  });
  terminal.Start();

  int signal = 0;
  sigwait(&signals, &signal);
  terminal.Stop();
}

// --- Interactive mode ---

// Reads lines from standard input, and can be woken from another thread.
class LineReader {
 public:
  LineReader() {
    if (pipe(wake_) != 0) throw std::runtime_error("pipe failed");
  }
  ~LineReader() {
    close(wake_[0]);
    close(wake_[1]);
  }

  // The next line without its newline; nullopt at end of input or once woken.
  std::optional<std::string> Next() {
    for (;;) {
      if (auto line = TakeLine()) return line;
      if (eof_) return Rest();
      pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) continue;
      if (fds[1].revents != 0) return std::nullopt;
      char chunk[4096];
      const ssize_t n = read(STDIN_FILENO, chunk, sizeof chunk);
      if (n <= 0)
        eof_ = true;
      else
        buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  void Wake() { [[maybe_unused]] auto n = write(wake_[1], "x", 1); }

 private:
  std::optional<std::string> TakeLine() {
    const auto newline = buffer_.find('\n');
    if (newline == std::string::npos) return std::nullopt;
    std::string line = buffer_.substr(0, newline);
    buffer_.erase(0, newline + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }
  std::optional<std::string> Rest() {
    if (buffer_.empty()) return std::nullopt;
    return std::exchange(buffer_, std::string());
  }

  int wake_[2] = {-1, -1};
  std::string buffer_;
  bool eof_ = false;
};

// The interactive chat: the main thread reads typed lines, the terminal's thread prints events.
class InteractiveChat {
 public:
  InteractiveChat(const ChatOptions& options, ChatSession session)
      : options_(options),
        session_(std::move(session)),
        terminal_(TerminalOptionsFor(options, session_),
                  // Runs on the terminal's thread; this object outlives it (Stop joins).
                  [this](const client::Event& e) { OnEvent(e); }) {}

  void Run() {
    Print(client::chat::FormatContacts(session_.contacts) +
          "Type /to N to pick a contact, then write; /list, /help, /quit.");
    terminal_.Start();
    while (auto line = reader_.Next()) {
      if (!Handle(*line)) break;
    }
    terminal_.Stop();
  }

 private:
  struct Sent {
    Address to;
    std::string text;
  };

  // False to quit.
  bool Handle(const std::string& line) {
    return std::visit([this](auto&& command) { return Do(command); },
                      client::chat::ParseLine(line));
  }

  bool Do(const client::chat::SendLine& line) {
    if (line.text.empty()) return true;
    if (!contact_) {
      Print("Pick a contact first: /to N");
      return true;
    }
    auto id = terminal_.SendText(contact_->address, line.text);
    if (!id) {
      Print("Not sent: " + id.error().message);
      return true;
    }
    std::lock_guard lock(mu_);
    sent_[id.value()] = Sent{contact_->address, line.text};
    return true;
  }
  bool Do(const client::chat::PickContact& pick) {
    if (auto contact = FindContact(pick.which)) {
      contact_ = contact;
      Print("Writing to " + contact->address.account + " on " + contact->platform_name + " (" +
            contact->address.platform + ")");
    } else {
      Print("No such contact: " + pick.which + " (see /list, or give account@platform)");
    }
    return true;
  }
  bool Do(const client::chat::ListContacts&) {
    RefreshContacts();
    Print(client::chat::FormatContacts(session_.contacts));
    return true;
  }
  bool Do(const client::chat::Quit&) { return false; }
  bool Do(const client::chat::Help&) {
    Print(
        "/to N or /to account@platform  pick whom to write to\n/list  show contacts\n"
        "/quit  leave\nAny other line is sent; start it with // to send a leading /.");
    return true;
  }
  bool Do(const client::chat::UnknownCommand& unknown) {
    Print("Unknown command " + unknown.command + "; /help lists them");
    return true;
  }

  std::optional<Contact> FindContact(const std::string& which) const {
    char* end = nullptr;
    const unsigned long n = std::strtoul(which.c_str(), &end, 10);
    if (!which.empty() && *end == '\0' && n >= 1 && n <= session_.contacts.size())
      return session_.contacts[n - 1];
    if (auto address = client::chat::ParseAddress(which)) {
      for (const Contact& c : session_.contacts) {
        if (c.address == *address) return c;
      }
      return Contact{*address, address->platform};
    }
    return std::nullopt;
  }

  void RefreshContacts() {
    if (options_.platform.empty()) return;
    client::PlatformApi platform(options_.platform, options_.ca_file);
    auto self = terminal_.Identity();
    Address me = self ? Address{self->platform_id, self->account} : Address{};
    try {
      session_.contacts = FetchContacts(platform, session_.token, me);
    } catch (const ChatFailure& e) {
      Print(e.what());
    }
  }

  void OnEvent(const client::Event& event) {
    std::visit([this](const auto& e) { Show(e); }, event);
  }
  void Show(const client::Message& m) {
    Print(client::chat::FormatIncoming(m));
    // Printed is seen: tell the sender.
    terminal_.Read(m.message_id);
  }
  void Show(const client::Connected& c) {
    Print(std::string(c.resumed ? "Reconnected" : "Connected") + " as " + c.account + " on " +
          c.platform_name + " (" + c.platform_id + ")");
  }
  void Show(const client::Disconnected& d) {
    Print("Disconnected: " + d.reason.message +
          (d.will_retry ? " (retrying in " + std::to_string(d.retry_in.count()) + " ms)"
                        : " (giving up)"));
    if (!d.will_retry) {
      ExitCode() = kExitUnavailable;
      reader_.Wake();
    }
  }
  void Show(const client::Accepted& a) { Mark(a.client_id, "sent", false); }
  void Show(const client::Rejected& r) {
    Mark(r.client_id, "rejected " + r.error.name + ": " + r.error.message, true);
  }
  void Show(const client::Receipt& r) {
    Mark(r.client_id, std::string(client::ReceiptStatusName(r.status)), false);
  }
  void Show(const client::ExchangeError& e) {
    Print("Exchange error " + e.error.name + ": " + e.error.message);
  }

  // `[delivered] to bob@shop: hi` for a message sent from here; receipts for messages sent from
  // another device of this account are not shown.
  void Mark(const std::string& client_id, const std::string& mark, bool forget) {
    std::string line;
    {
      std::lock_guard lock(mu_);
      auto it = sent_.find(client_id);
      if (it == sent_.end()) return;
      line = "  [" + mark + "] to " + it->second.to.ToString() + ": " + it->second.text;
      if (forget) sent_.erase(it);
    }
    Print(line);
  }

  void Print(const std::string& text) {
    std::lock_guard lock(print_mu_);
    std::cout << text << std::endl;
  }

  const ChatOptions& options_;
  ChatSession session_;
  std::optional<Contact> contact_;  // main thread only
  LineReader reader_;
  std::mutex mu_;  // guards sent_
  std::map<std::string, Sent> sent_;
  std::mutex print_mu_;
  client::Terminal terminal_;  // last: its thread stops before the members above go away
};

void Chat(const ChatOptions& options) {
  SetUpChatLogging(options.log_level);
  try {
    ChatSession session = LogIn(options);
    if (!options.send_to.empty())
      SendOne(options, session);
    else if (options.listen)
      Listen(options, session);
    else
      InteractiveChat(options, std::move(session)).Run();
  } catch (const ChatFailure& e) {
    std::cerr << "switchboard chat: " << e.what() << std::endl;
    ExitCode() = e.exit_code();
  }
}

}  // namespace

void AddChatCommand(CLI::App& app) {
  auto options = std::make_shared<ChatOptions>();
  auto* chat =
      app.add_subcommand("chat", "Chat as a terminal: interactive, or one send, or listen");
  chat->add_option("--platform", options->platform,
                   "Platform URL to log in at (http://HOST:PORT or https://HOST:PORT)");
  chat->add_option("--account", options->account, "Account on the platform");
  chat->add_option("--password", options->password, "Password of the account");
  chat->add_option("--token", options->token, "Terminal token (skips the platform login)");
  chat->add_option("--exchange", options->exchange,
                   "Exchange terminal URL (ws:// or wss://HOST:PORT/v1/terminal); default from "
                   "the login");
  chat->add_option("--ca-file", options->ca_file,
                   "PEM file of the authorities trusted for https and wss (default: the system's)")
      ->check(CLI::ExistingFile);
  chat->add_option("--device", options->device, "Device id (default 'chat')");
  auto* send_to =
      chat->add_option("--send-to", options->send_to, "Send one message to account@platform-id");
  chat->add_option("--text", options->text, "Text of the message for --send-to")->needs(send_to);
  auto* listen = chat->add_flag("--listen", options->listen, "Print incoming events until stopped");
  chat->add_flag("--json", options->json, "With --listen: every event as a JSON line")
      ->needs(listen);
  listen->excludes(send_to);
  chat->add_option("--timeout", options->timeout_s, "Seconds --send-to waits for an answer")
      ->check(CLI::PositiveNumber);
  chat->add_option("--log-level", options->log_level, "trace, debug, info, warn (default), error");
  chat->callback([options] { Chat(*options); });
}

}  // namespace sb::cli
