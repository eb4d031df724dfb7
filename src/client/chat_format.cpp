#include "client/chat_format.h"

#include <boost/json.hpp>
#include <ctime>
#include <map>

namespace sb::client::chat {
namespace json = boost::json;
namespace {

std::string Trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  const auto end = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(begin, end - begin + 1));
}

json::object ErrorMembers(std::string_view event, const Error& error) {
  return json::object{{"event", event}, {"code", error.name}, {"message", error.message}};
}

json::value ContentValue(const std::string& content_json) {
  json::error_code ec;
  json::value content = json::parse(content_json, ec);
  return ec ? json::value(content_json) : content;
}

json::object MessageJson(const Message& m) {
  return json::object{
      {"event", "message"},
      {"message_id", m.message_id},
      {"ts", m.ts_ms},
      {"from",
       {{"platform", m.from.platform},
        {"platform_name", m.from_platform_name},
        {"account", m.from.account}}},
      {"to", {{"platform", m.to.platform}, {"account", m.to.account}}},
      {"content", ContentValue(m.content_json)},
      {"route",
       {{"site", m.route.site},
        {"dnai", m.route.dnai},
        {"ulcl", m.route.ulcl},
        {"psa", m.route.psa}}},
  };
}

template <typename... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <typename... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

}  // namespace

std::vector<Contact> ContactsFrom(const std::vector<PlatformUsers>& users, const Address& self) {
  std::vector<Contact> contacts;
  for (const PlatformUsers& platform : users) {
    for (const std::string& account : platform.accounts) {
      Address address{platform.platform_id, account};
      if (address != self) contacts.push_back(Contact{std::move(address), platform.platform_name});
    }
  }
  return contacts;
}

std::string FormatContacts(const std::vector<Contact>& contacts) {
  if (contacts.empty()) return "No contacts.\n";
  std::string out;
  std::string current_platform;
  for (std::size_t i = 0; i < contacts.size(); ++i) {
    const Contact& c = contacts[i];
    if (i == 0 || c.address.platform != current_platform) {
      current_platform = c.address.platform;
      out += c.platform_name + " (" + c.address.platform + ")\n";
    }
    out += "  " + std::to_string(i + 1) + "  " + c.address.account + "\n";
  }
  return out;
}

std::optional<Address> ParseAddress(std::string_view text) {
  const auto at = text.rfind('@');
  if (at == std::string_view::npos) return std::nullopt;
  Address address{std::string(text.substr(at + 1)), std::string(text.substr(0, at))};
  if (!IsValidPlatformId(address.platform) || !IsValidAccount(address.account)) return std::nullopt;
  return address;
}

Command ParseLine(std::string_view line) {
  if (line.empty() || line.front() != '/') return SendLine{std::string(line)};
  if (line.starts_with("//")) return SendLine{std::string(line.substr(1))};

  const auto space = line.find(' ');
  const std::string command(line.substr(0, space));
  const std::string argument = space == std::string_view::npos ? "" : Trim(line.substr(space));
  if (command == "/to") return PickContact{argument};
  if (command == "/list") return ListContacts{};
  if (command == "/quit" || command == "/exit") return Quit{};
  if (command == "/help") return Help{};
  return UnknownCommand{command};
}

std::string FormatClock(std::int64_t ts_ms) {
  const std::time_t seconds = static_cast<std::time_t>(ts_ms / 1000);
  std::tm local{};
  localtime_r(&seconds, &local);
  char text[16];
  std::strftime(text, sizeof text, "%H:%M:%S", &local);
  return text;
}

std::string FormatIncoming(const Message& message) {
  std::string body = message.text ? *message.text : "[" + message.app + "] " + message.content_json;
  return "[" + FormatClock(message.ts_ms) + "] " + message.from_platform_name + " (" +
         message.from.platform + ") " + message.from.account + ": " + body;
}

std::string EventJson(const Event& event) {
  json::object out =
      std::visit(Overloaded{
                     [](const Connected& e) {
                       return json::object{{"event", "connected"},
                                           {"platform", e.platform_id},
                                           {"platform_name", e.platform_name},
                                           {"account", e.account},
                                           {"session", e.session},
                                           {"resumed", e.resumed}};
                     },
                     [](const Disconnected& e) {
                       json::object o = ErrorMembers("disconnected", e.reason);
                       o["will_retry"] = e.will_retry;
                       o["retry_in_ms"] = e.retry_in.count();
                       return o;
                     },
                     [](const Accepted& e) {
                       return json::object{{"event", "accepted"},
                                           {"id", e.client_id},
                                           {"message_id", e.message_id},
                                           {"ts", e.ts_ms},
                                           {"duplicate", e.duplicate}};
                     },
                     [](const Rejected& e) {
                       json::object o = ErrorMembers("rejected", e.error);
                       o["id"] = e.client_id;
                       return o;
                     },
                     [](const Message& e) { return MessageJson(e); },
                     [](const Receipt& e) {
                       return json::object{{"event", "receipt"},
                                           {"id", e.client_id},
                                           {"message_id", e.message_id},
                                           {"status", ReceiptStatusName(e.status)}};
                     },
                     [](const ExchangeError& e) { return ErrorMembers("error", e.error); },
                 },
                 event);
  return json::serialize(out);
}

}  // namespace sb::client::chat
