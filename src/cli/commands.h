// The subcommands of `switchboard`, one file each. Each Add*Command registers its subcommand, its
// options and the callback that runs it; a callback that fails throws, and main() reports it.
#pragma once

#include <CLI/CLI.hpp>

namespace sb::cli {

// Exit code of the command that ran; set by the subcommand's callback.
int& ExitCode();

void SetUpLogging(const std::string& level);

void AddServeCommand(CLI::App& app);
void AddPlatformCommand(CLI::App& app);
void AddDemoCommand(CLI::App& app);
void AddChatCommand(CLI::App& app);
void AddSimulateCommand(CLI::App& app);

}  // namespace sb::cli
