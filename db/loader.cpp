#include "db/loader.h"

#include "db/csv.h"
#include "db/pg.h"
#include "db/progress.h"
#include "db/schema.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace db {

namespace fs = std::filesystem;

namespace {

// COPY data is sent in chunks of this size: large enough to amortise the per-call cost,
// small enough to keep the client's memory flat whatever the file size.
constexpr std::size_t kCopyChunk = 1 << 20;

// A read-only mapping of a whole file.
class MappedFile {
 public:
  explicit MappedFile(const fs::path& path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0)
      throw std::runtime_error(
          fmt::format("{}: cannot open: {}", path.string(), std::strerror(errno)));
    struct stat st {};
    if (::fstat(fd_, &st) != 0)
      throw std::runtime_error(fmt::format("{}: {}", path.string(), std::strerror(errno)));
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
      if (p == MAP_FAILED)
        throw std::runtime_error(
            fmt::format("{}: cannot map: {}", path.string(), std::strerror(errno)));
      ::madvise(p, size_, MADV_SEQUENTIAL);
      data_ = static_cast<const char*>(p);
    }
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<char*>(data_), size_);
    if (fd_ >= 0) ::close(fd_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  [[nodiscard]] std::string_view view() const { return {data_ ? data_ : "", size_}; }

 private:
  int fd_ = -1;
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void put_copy(PGconn* conn, const std::string& buf) {
  if (PQputCopyData(conn, buf.data(), static_cast<int>(buf.size())) != 1) {
    throw DbError(fmt::format("COPY failed: {}", PQerrorMessage(conn)));
  }
}

// Streams one file through COPY. On a CSV error the COPY is aborted and the error rethrown.
TableLoadStats copy_table(PGconn* conn, const csv::TableSpec& spec, const fs::path& dir,
                          bool progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const fs::path path = dir / spec.file;
  MappedFile file(path);
  csv::Reader reader(file.view(), std::string(spec.file));
  std::vector<csv::Field> fields;
  fields.reserve(spec.columns.size() + 1);
  if (!reader.next(fields)) reader.fail("empty file: expected the header line");
  csv::check_header(spec, fields, reader);

  std::string cols;
  for (const auto& c : spec.columns) {
    if (!cols.empty()) cols += ',';
    cols += c.name == "date" ? "date_ms" : std::string(c.name);
  }
  {
    const std::string sql = fmt::format("COPY {} ({}) FROM STDIN (FREEZE)", spec.table, cols);
    PgResultPtr res{PQexec(conn, sql.c_str())};
    if (PQresultStatus(res.get()) != PGRES_COPY_IN) {
      throw DbError(fmt::format("{}: cannot start COPY: {}", spec.file, PQerrorMessage(conn)));
    }
  }

  TableLoadStats stats;
  stats.table = std::string(spec.table);
  stats.bytes = file.view().size();
  Progress bar(std::string(spec.file), stats.bytes, progress && ::isatty(STDERR_FILENO));
  std::string buf;
  buf.reserve(kCopyChunk + 64 * 1024);
  try {
    while (reader.next(fields)) {
      if (csv::append_copy_row(spec, fields, reader, buf) == csv::RowResult::Dropped) {
        ++stats.dropped;
      } else {
        ++stats.rows;
      }
      if (buf.size() >= kCopyChunk) {
        put_copy(conn, buf);
        buf.clear();
      }
      bar.update(stats.rows, reader.offset());
    }
    if (!buf.empty()) put_copy(conn, buf);
  } catch (const std::exception& e) {
    PQputCopyEnd(conn, e.what());
    while (PGresult* r = PQgetResult(conn)) PQclear(r);
    throw;
  }
  bar.finish();
  if (PQputCopyEnd(conn, nullptr) != 1) throw DbError(PQerrorMessage(conn));
  std::string error;
  while (PGresult* r = PQgetResult(conn)) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK && error.empty()) error = PQresultErrorMessage(r);
    PQclear(r);
  }
  if (!error.empty()) throw DbError(fmt::format("{}: {}", spec.file, error));
  stats.seconds = since(t0);
  return stats;
}

}  // namespace

LoadStats load_dataset(const LoadOptions& opts) {
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto& spec : csv::tables()) {
    const fs::path p = opts.from / spec.file;
    if (!fs::is_regular_file(p))
      throw std::runtime_error(fmt::format("{}: no such file", p.string()));
  }
  PgConnPtr conn = connect(opts.conninfo);
  migrate(conn.get());

  LoadStats stats;
  exec(conn.get(), "BEGIN");
  try {
    // Nobody reads half-loaded tables: the lock is held until COMMIT.
    exec(conn.get(),
         "LOCK TABLE reviews, reviews_photos, characteristics, characteristic_reviews, related "
         "IN ACCESS EXCLUSIVE MODE");
    if (!opts.replace) {
      const std::string n =
          query_value(conn.get(),
                      "SELECT (SELECT count(*) FROM (SELECT 1 FROM reviews LIMIT 1) a) + "
                      "(SELECT count(*) FROM (SELECT 1 FROM characteristics LIMIT 1) b) + "
                      "(SELECT count(*) FROM (SELECT 1 FROM related LIMIT 1) c)");
      if (n != "0") {
        throw LoadRefused("the database already holds a data set; use --replace to replace it");
      }
    }
    // TRUNCATE in this transaction lets COPY ... FREEZE write frozen rows, and dropping the
    // indexes lets each be built once, by sort, instead of row by row.
    exec(conn.get(),
         "TRUNCATE reviews, reviews_photos, characteristics, characteristic_reviews, related "
         "RESTART IDENTITY");
    // The TRUNCATE above notified every instance to drop its whole cache ('*'); one
    // notification per loaded row would only fill the server's notification queue.
    for (const auto& spec : csv::tables())
      exec(conn.get(), fmt::format("ALTER TABLE {} DISABLE TRIGGER USER", spec.table));
    for (const auto& idx : secondary_indexes()) {
      exec(conn.get(), fmt::format("DROP INDEX IF EXISTS {}", idx.name));
    }
    for (const auto& spec : csv::tables()) {
      exec(conn.get(),
           fmt::format("ALTER TABLE {0} DROP CONSTRAINT IF EXISTS {0}_pkey", spec.table));
    }
    const auto copy_t0 = std::chrono::steady_clock::now();
    for (const auto& spec : csv::tables()) {
      stats.tables.push_back(copy_table(conn.get(), spec, opts.from, opts.progress));
    }
    stats.copy_seconds = since(copy_t0);

    const auto index_t0 = std::chrono::steady_clock::now();
    for (const auto& spec : csv::tables()) {
      try {
        exec(conn.get(),
             fmt::format("ALTER TABLE {0} ADD CONSTRAINT {0}_pkey PRIMARY KEY (id)", spec.table));
      } catch (const DbError& e) {
        throw DbError(fmt::format("{}: ids are not unique: {}", spec.file, e.what()));
      }
    }
    for (const auto& idx : secondary_indexes()) exec(conn.get(), idx.create_sql);
    stats.index_seconds = since(index_t0);
    // The next id handed out continues after the largest loaded one.
    for (const auto& spec : csv::tables()) {
      exec(conn.get(), fmt::format("SELECT setval(pg_get_serial_sequence('{0}', 'id'), "
                                   "coalesce(max(id), 0) + 1, false) FROM {0}",
                                   spec.table));
    }
    for (const auto& spec : csv::tables())
      exec(conn.get(), fmt::format("ALTER TABLE {} ENABLE TRIGGER USER", spec.table));
    exec(conn.get(), "COMMIT");
  } catch (...) {
    PQclear(PQexec(conn.get(), "ROLLBACK"));
    throw;
  }
  const auto analyze_t0 = std::chrono::steady_clock::now();
  exec(conn.get(),
       "ANALYZE reviews, reviews_photos, characteristics, characteristic_reviews, related");
  stats.analyze_seconds = since(analyze_t0);
  stats.total_seconds = since(t0);
  return stats;
}

}  // namespace db
