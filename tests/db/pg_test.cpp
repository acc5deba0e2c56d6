#include "db/pg.h"

#include <catch2/catch.hpp>

TEST_CASE("connection strings are printed with their passwords masked", "[db][pg]") {
  CHECK(db::mask_conninfo("host=x password=abc dbname=y") == "host=x password=***** dbname=y");
  CHECK(db::mask_conninfo("password = 'a b\\'c' host=z") == "password = ***** host=z");
  CHECK(db::mask_conninfo("postgresql://u:secret@h/db?password=p2") ==
        "postgresql://u:*****@h/db?password=*****");
  CHECK(db::mask_conninfo("postgres://u@h:5432/db") == "postgres://u@h:5432/db");
  CHECK(db::mask_conninfo("host=/tmp/x port=5499") == "host=/tmp/x port=5499");
}

TEST_CASE("conninfo values are quoted for libpq", "[db][pg]") {
  CHECK(db::conninfo_quote("/tmp/a b") == "'/tmp/a b'");
  CHECK(db::conninfo_quote("it's\\") == "'it\\'s\\\\'");
}
