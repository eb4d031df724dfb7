// The text of the chat CLI (`switchboard chat`): how it reads typed lines and addresses, and how it
// prints contacts and events. Pure functions, safe from any thread; kept out of the command so
// that they can be tested alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "client/platform_api.h"
#include "client/terminal.h"

namespace sb::client::chat {

// One account that can be written to, with its platform's display name.
struct Contact {
  Address address;
  std::string platform_name;
};

// The contacts from a platform's user list, grouped by platform in the order given, leaving out
// `self`.
std::vector<Contact> ContactsFrom(const std::vector<PlatformUsers>& users, const Address& self);

// The numbered list, one heading per platform:
//   Meta World (metaworld)
//     1  alice
std::string FormatContacts(const std::vector<Contact>& contacts);

// `account@platform-id`; the last '@' separates them. nullopt when either part is invalid.
std::optional<Address> ParseAddress(std::string_view text);

// What a typed line asks for.
struct SendLine {
  std::string text;
};
struct PickContact {
  std::string which;  // a number from the list, or an address
};
struct ListContacts {};
struct Quit {};
struct Help {};
struct UnknownCommand {
  std::string command;
};
using Command = std::variant<SendLine, PickContact, ListContacts, Quit, Help, UnknownCommand>;

// `/to N`, `/list`, `/quit`, `/help`; anything else is text to send ("//x" sends "/x").
Command ParseLine(std::string_view line);

// Local wall-clock time of `ts_ms` as HH:MM:SS.
std::string FormatClock(std::int64_t ts_ms);

// `[12:03:04] Meta World (metaworld) alice: hi`; application content shows its app id and JSON.
std::string FormatIncoming(const Message& message);

// One JSON object (no newline) describing `event`, for `--listen --json`. Its "event" member is
// connected, disconnected, accepted, rejected, message, receipt or error.
std::string EventJson(const Event& event);

}  // namespace sb::client::chat
