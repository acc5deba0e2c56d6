// The subcommands of the `reviewsd` binary. Each takes the arguments after its name and returns
// the process exit status: 0 success, 1 runtime failure, 2 usage or configuration error.
#pragma once

namespace server {

int cmd_serve(int argc, char** argv);
int cmd_migrate(int argc, char** argv);
int cmd_gen(int argc, char** argv);
int cmd_load(int argc, char** argv);
int cmd_demo(int argc, char** argv);
int cmd_sql(int argc, char** argv);

}  // namespace server
