// The embedded store's tables, and how a connection is set up to use them.
#pragma once

#include <cstdint>

#include "store/sqlite/sqlite_db.h"

namespace sb::store {

// Kept in PRAGMA user_version. Raise it with every change of the tables, and teach
// PrepareSchema() to upgrade from the previous version.
inline constexpr std::int64_t kSchemaVersion = 2;

// Creates the tables when absent and checks that an existing file is one this code understands.
// Throws SqliteError, or std::runtime_error for a schema newer than kSchemaVersion.
void PrepareSchema(Database& db);

}  // namespace sb::store
