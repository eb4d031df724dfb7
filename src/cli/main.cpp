// The `switchboard` command: one binary, one subcommand per role.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>

#include "cli/commands.h"

namespace sb::cli {

int& ExitCode() {
  static int code = 0;
  return code;
}

void SetUpLogging(const std::string& level) {
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace sb::cli

int main(int argc, char** argv) {
  CLI::App app{
      "Switchboard: an exchange through which users of independent platforms message each other"};
  app.require_subcommand(1);

  sb::cli::AddServeCommand(app);
  sb::cli::AddPlatformCommand(app);
  sb::cli::AddDemoCommand(app);
  sb::cli::AddChatCommand(app);
  sb::cli::AddSimulateCommand(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "switchboard: %s\n", e.what());
    return 1;
  }
  return sb::cli::ExitCode();
}
