// CLI wiring of oci-run's extra commands (see extra.hpp). Only options and
// dispatch here; the work is in volumes.cpp, images.cpp, stats.cpp, cp.cpp
// and commit.cpp.
#include "extra.hpp"

#include <cstring>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "common/error.hpp"
#include "common/layout.hpp"
#include "extra_cmds.hpp"
#include "extra_util.hpp"
#include "manage/record.hpp"

namespace ocikit::manage {

namespace {

const std::set<std::string> kCommands = {"images", "image", "rmi", "tag", "history", "volume",
                                         "top", "stats", "cp", "commit", "system"};
// Global options of main that take a value (their value is not the command).
const std::set<std::string> kValueOptions = {"--root", "--log", "--log-format", "--log-level",
                                             "--rootless", "--store", "--state-dir"};

std::string first_command(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--") return i + 1 < argc ? argv[i + 1] : "";
    if (a.empty() || a[0] != '-') return a;
    if (kValueOptions.count(a)) i++;
  }
  return "";
}

int run_cli(int argc, char** argv) {
  CLI::App app{"Run containers: a runc-compatible OCI runtime", "oci-run"};
  cli::LogOptions log_opts;
  cli::add_log_flags(app, log_opts, true);
  Env env;
  env.store = layout::default_store_path();
  env.state_dir = default_state_dir();
  std::string rootless;
  bool systemd_cgroup = false;
  app.add_option("--root", env.root, "root directory for container state")->capture_default_str();
  app.add_option("--store", env.store, "image store (default $OCIKIT_STORE or /var/lib/ocikit/store)");
  app.add_option("--state-dir", env.state_dir, "container records and volumes (default $OCIKIT_STATE_DIR or /var/lib/ocikit)");
  app.add_flag("--systemd-cgroup", systemd_cgroup, "accepted for runc compatibility");
  app.add_option("--rootless", rootless, "accepted for runc compatibility");
  app.require_subcommand(1);

  std::string format;
  bool quiet = false, force = false, all = false;
  std::vector<std::string> names, labels;

  // ---- volume ----
  auto* vol = app.add_subcommand("volume", "manage volumes");
  vol->require_subcommand(1);
  std::string vname;
  auto* vcreate = vol->add_subcommand("create", "create a volume (a random name when none is given)");
  vcreate->add_option("name", vname, "volume name");
  vcreate->add_option("--name", vname, "volume name");
  vcreate->add_option("-l,--label", labels, "set metadata KEY=VALUE")->allow_extra_args(false);
  std::string driver = "local";
  vcreate->add_option("-d,--driver", driver, "volume driver (only \"local\")")->capture_default_str();
  auto* vls = vol->add_subcommand("ls", "list volumes")->alias("list");
  vls->add_flag("-q,--quiet", quiet, "only names");
  vls->add_option("--format", format, "table, json or a {{.Field}} template");
  auto* vinspect = vol->add_subcommand("inspect", "print volumes as JSON");
  vinspect->add_option("--format,-f", format, "json (default) or a {{.Field}} template");
  vinspect->add_option("names", names, "volume names")->required();
  auto* vrm = vol->add_subcommand("rm", "remove volumes")->alias("remove");
  vrm->add_flag("-f,--force", force, "remove even while a container uses it");
  vrm->add_option("names", names, "volume names")->required();
  auto* vprune = vol->add_subcommand("prune", "remove unused anonymous volumes (-a: all unused)");
  vprune->add_flag("-a,--all", all, "remove unused named volumes too");
  vprune->add_flag("-f,--force", force, "do not prompt (there is no prompt)");

  // ---- images ----
  ImagesOptions io;
  auto add_images_ls = [&](CLI::App* c) {
    c->add_flag("-q,--quiet", io.quiet, "only image ids");
    c->add_flag("--digests", io.digests, "show manifest digests");
    c->add_flag("--no-trunc", io.no_trunc, "full image ids");
    c->add_flag("-a,--all", io.all, "accepted for docker compatibility (no intermediate images here)");
    c->add_option("--format", io.format, "table, json or a {{.Field}} template");
    c->add_option("repository", io.repository, "only images of REPOSITORY[:TAG]");
  };
  auto* images = app.add_subcommand("images", "list the store's images");
  add_images_ls(images);
  auto* image = app.add_subcommand("image", "manage the store's images");
  image->require_subcommand(1);
  auto* ils = image->add_subcommand("ls", "list images")->alias("list");
  add_images_ls(ils);
  auto add_rm = [&](CLI::App* c) {
    c->add_flag("-f,--force", force, "remove even when used by a container or several names");
    c->add_option("images", names, "names or id prefixes")->required();
  };
  auto* rmi = app.add_subcommand("rmi", "remove images");
  add_rm(rmi);
  auto* irm = image->add_subcommand("rm", "remove images")->alias("remove");
  add_rm(irm);
  std::string src, dst;
  auto add_tag = [&](CLI::App* c) {
    c->add_option("source", src, "image name or id")->required();
    c->add_option("target", dst, "new name REPOSITORY[:TAG]")->required();
  };
  auto* tag = app.add_subcommand("tag", "give an image another name");
  add_tag(tag);
  auto* itag = image->add_subcommand("tag", "give an image another name");
  add_tag(itag);
  auto* iinspect = image->add_subcommand("inspect", "print images as docker-style JSON");
  iinspect->add_option("-f,--format", format, "json (default) or a {{.Field}} template");
  iinspect->add_option("images", names, "names or id prefixes")->required();
  bool no_trunc = false;
  auto add_history = [&](CLI::App* c) {
    c->add_flag("--no-trunc", no_trunc, "do not truncate CREATED BY");
    c->add_flag("-q,--quiet", quiet, "only ids");
    c->add_option("--format", format, "table, json or a {{.Field}} template");
    c->add_option("image", src, "image name or id")->required();
  };
  auto* history = app.add_subcommand("history", "show an image's history");
  add_history(history);
  auto* ihistory = image->add_subcommand("history", "show an image's history");
  add_history(ihistory);
  auto* iprune = image->add_subcommand("prune", "remove unnamed images (-a: every image no container uses), then unused blobs and snapshots");
  iprune->add_flag("-a,--all", all, "remove every image no container uses");
  iprune->add_flag("-f,--force", force, "do not prompt (there is no prompt)");

  // ---- system ----
  auto* sys = app.add_subcommand("system", "manage the store as a whole");
  sys->require_subcommand(1);
  bool quick = false, repair = false;
  auto* scheck = sys->add_subcommand("check", "verify the image store: every blob's digest, every image's blobs, snapshots; --repair removes what is broken or unreferenced");
  scheck->add_flag("--quick", quick, "check sizes only, do not hash blob contents");
  scheck->add_flag("-r,--repair", repair, "remove corrupt blobs, broken images (pull or build them again), unreferenced blobs and snapshots, stale temp files");

  // ---- containers ----
  std::string container;
  std::vector<std::string> rest;
  auto* top = app.add_subcommand("top", "show a running container's processes (the host's ps, default -ef)");
  // As docker: CONTAINER, then options for ps, passed on untouched.
  top->prefix_command(true);
  bool no_stream = false;
  auto* stats = app.add_subcommand("stats", "resource use of running containers");
  stats->add_flag("--no-stream", no_stream, "print one sample and exit (default: redraw every second)");
  stats->add_flag("-a,--all", all, "accepted for docker compatibility (only running containers have stats)");
  stats->add_flag("--no-trunc", no_trunc, "accepted for docker compatibility");
  stats->add_option("--format", format, "table, json or a {{.Field}} template");
  stats->add_option("containers", names, "container names or ids (default: every running one)");
  bool follow = false;
  auto* cp = app.add_subcommand("cp", "copy files between a container and the host");
  cp->add_flag("-L,--follow-link", follow, "follow a symlink at the end of SRC");
  cp->add_flag("-a,--archive", all, "accepted for docker compatibility (ownership is kept as copied by root)");
  cp->add_option("src", src, "SRC: CONTAINER:PATH or a host path")->required();
  cp->add_option("dest", dst, "DEST: CONTAINER:PATH or a host path")->required();
  CommitOptions co;
  auto* commit = app.add_subcommand("commit", "make an image of a container's changes");
  commit->add_option("-a,--author", co.author, "author (\"Name <email>\")");
  commit->add_option("-m,--message", co.message, "commit message");
  commit->add_option("-c,--change", co.changes, "apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, ...)")
      ->allow_extra_args(false);
  commit->add_flag("-p,--pause", co.pause, "pause the container while committing (default; --pause=false)");
  commit->add_option("container", co.container, "container name or id")->required();
  commit->add_option("repository", co.repository, "REPOSITORY[:TAG] for the new image");

  if (auto rc = cli::parse(app, argc, argv)) return *rc;
  cli::apply_log_flags(log_opts);

  if (*vcreate) {
    if (driver != "local") fail(Errc::usage, "volume create: driver \"" + driver + "\" is not supported (only local)");
    std::map<std::string, std::string> l;
    for (auto& [k, v] : parse_labels(labels)) l[k] = v;
    return volume_create(env, vname, l);
  }
  if (*vls) return volume_ls(env, quiet, format);
  if (*vinspect) return volume_inspect(env, names, format);
  if (*vrm) return volume_rm(env, names, force);
  if (*vprune) return volume_prune(env, all);
  if (*images || *ils) return images_ls(env, io);
  if (*rmi || *irm) return image_rm(env, names, force);
  if (*tag || *itag) return image_tag(env, src, dst);
  if (*iinspect) return image_inspect(env, names, format);
  if (*history || *ihistory) return image_history(env, src, no_trunc, quiet, format);
  if (*iprune) return image_prune(env, all);
  if (*scheck) return system_check(env, quick, repair);
  if (*top) {
    rest = top->remaining();
    if (rest.empty()) fail(Errc::usage, "top: missing container");
    container = rest[0];
    rest.erase(rest.begin());
    return container_top(env, container, rest);
  }
  if (*stats) return container_stats(env, names, format, !no_stream);
  if (*cp) return container_cp(env, src, dst, follow);
  if (*commit) {
    return container_commit(env, co);
  }
  return 0;
}

}  // namespace

bool run_extra_command(int argc, char** argv, int& rc) {
  if (!kCommands.count(first_command(argc, argv))) return false;
  rc = cli::run_main("oci-run", [&] { return run_cli(argc, argv); });
  return true;
}

}  // namespace ocikit::manage
