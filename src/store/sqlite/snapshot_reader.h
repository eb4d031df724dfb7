// Reads the whole durable state of the embedded store into a Snapshot.
#pragma once

#include "store/sqlite/sqlite_db.h"
#include "store/store.h"

namespace sb::store {

// Reads inside one read transaction, so the snapshot is consistent even while a writer commits on
// another connection. Throws SqliteError when a table cannot be read.
Snapshot ReadSnapshot(Database& db);

}  // namespace sb::store
