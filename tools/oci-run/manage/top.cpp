// `oci-run top`: a managed container's processes, as the host's ps shows
// them, limited to the container's cgroup.
#include <iostream>
#include <set>
#include <sstream>

#include "common/error.hpp"
#include "common/process.hpp"
#include "manage/manage.hpp"

namespace ocikit::manage {

int container_top(const Globals& env, const std::string& key, const std::vector<std::string>& ps_args) {
  auto c = running_container(env, key);
  std::set<pid_t> pids;
  for (auto p : c.cg.pids()) pids.insert(p);
  // As docker: run the host's ps with the given options (default -ef) and
  // keep the header and the rows of the container's processes.
  std::string cmd = "ps";
  std::vector<std::string> args = ps_args.empty() ? std::vector<std::string>{"-ef"} : ps_args;
  std::vector<std::string> argv = {cmd};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = process::capture({.argv = argv}, true, false);
  std::string out = std::move(r.out);
  if (r.status != 0) fail(Errc::failure, "top: ps " + args[0] + " failed");
  std::istringstream in(out);
  std::string header;
  std::getline(in, header);
  // The PID column: its index among the header's words.
  std::istringstream hs(header);
  std::string w;
  int col = -1, i = 0;
  while (hs >> w) {
    if (w == "PID") col = i;
    i++;
  }
  if (col < 0) fail(Errc::failure, "top: ps output has no PID column");
  std::cout << header << "\n";
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string f;
    for (int k = 0; k <= col && ls >> f; k++) {
    }
    char* end = nullptr;
    long p = std::strtol(f.c_str(), &end, 10);
    if (end && *end == 0 && pids.count(static_cast<pid_t>(p))) std::cout << line << "\n";
  }
  return 0;
}

}  // namespace ocikit::manage
