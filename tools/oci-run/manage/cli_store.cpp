// The docker-style commands of the image store (manage/cli.hpp): images,
// image ls|rm|tag|inspect|history|prune, rmi, tag, history, volume
// create|ls|inspect|rm|prune, system check. Only options and dispatch here;
// the work is in image_cmds.cpp, volume_cmds.cpp and volumes.cpp.
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "manage/cli.hpp"
#include "manage/format.hpp"
#include "manage/manage.hpp"

namespace ocikit::manage {

std::function<std::optional<int>()> add_store_commands(CLI::App& app, const Globals& env) {
  struct Opts {
    std::string format, vname, driver = "local", src, dst;
    bool quiet = false, force = false, all = false, no_trunc = false, quick = false, repair = false;
    std::vector<std::string> names, labels;
    ImagesOptions io;
    std::string output, input;
    bool verbose = false, volumes = false, human = true;
    std::vector<std::string> filters;
    ImportOptions imp;
  };
  auto o = std::make_shared<Opts>();
  auto& format = o->format;
  auto& quiet = o->quiet;
  auto& force = o->force;
  auto& all = o->all;
  auto& names = o->names;
  auto& labels = o->labels;
  // ---- volume ----
  auto* vol = app.add_subcommand("volume", "manage volumes");
  vol->require_subcommand(1);
  auto& vname = o->vname;
  auto* vcreate = vol->add_subcommand("create", "create a volume (a random name when none is given)");
  vcreate->add_option("name", vname, "volume name");
  vcreate->add_option("--name", vname, "volume name");
  vcreate->add_option("-l,--label", labels, "set metadata KEY=VALUE")->allow_extra_args(false);
  auto& driver = o->driver;
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
  vprune->add_option("--filter", o->filters, "label=KEY[=VALUE], label!=KEY[=VALUE]")->allow_extra_args(false);
  vprune->add_option("--format", format, "table (default) or json (docker's API answer)");

  // ---- images ----
  auto& io = o->io;
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
  auto& src = o->src;
  auto& dst = o->dst;
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
  auto& no_trunc = o->no_trunc;
  auto add_history = [&](CLI::App* c) {
    c->add_flag("--no-trunc", no_trunc, "do not truncate CREATED BY");
    c->add_flag("-q,--quiet", quiet, "only ids");
    c->add_option("--format", format, "table, json or a {{.Field}} template");
    c->add_option("--human", o->human, "sizes and dates in human readable form (--human=false: bytes, RFC 3339)")
        ->capture_default_str();
    c->add_option("image", src, "image name or id")->required();
  };
  auto* history = app.add_subcommand("history", "show an image's history");
  add_history(history);
  auto* ihistory = image->add_subcommand("history", "show an image's history");
  add_history(ihistory);
  auto* iprune = image->add_subcommand(
      "prune", "remove unnamed images (-a: every image no container uses), then unused blobs and snapshots");
  iprune->add_flag("-a,--all", all, "remove every image no container uses");
  iprune->add_flag("-f,--force", force, "do not prompt (there is no prompt)");
  iprune->add_option("--filter", o->filters, "until=TIME, label=KEY[=VALUE], label!=KEY[=VALUE]")
      ->allow_extra_args(false);
  iprune->add_option("--format", format, "table (default) or json (docker's API answer)");

  // ---- system ----
  auto* sys = app.add_subcommand("system", "manage the store as a whole: check, df, prune");
  sys->require_subcommand(1);
  auto& quick = o->quick;
  auto& repair = o->repair;
  auto* scheck = sys->add_subcommand(
      "check",
      "verify the image store: every blob's digest, every image's blobs, snapshots; --repair removes what is broken or unreferenced");
  scheck->add_flag("--quick", quick, "check sizes only, do not hash blob contents");
  scheck->add_flag(
      "-r,--repair", repair,
      "remove corrupt blobs, broken images (pull or build them again), unreferenced blobs and snapshots, stale temp files");

  // ---- archives ----
  auto add_save = [&](CLI::App* c) {
    c->add_option("-o,--output", o->output, "write to a file, instead of STDOUT");
    c->add_option("images", names, "IMAGE...")->required();
  };
  auto* save = app.add_subcommand("save", "save images to a tar archive (docker-archive; stdout by default)");
  add_save(save);
  auto* isave = image->add_subcommand("save", "save images to a tar archive");
  add_save(isave);
  auto add_load = [&](CLI::App* c) {
    c->add_option("-i,--input", o->input, "read from a tar archive file, instead of STDIN");
    c->add_flag("-q,--quiet", quiet, "suppress the load output (only the loaded names)");
  };
  auto* load = app.add_subcommand("load", "load images from a tar archive (docker-archive) or STDIN");
  add_load(load);
  auto* iload = image->add_subcommand("load", "load images from a tar archive or STDIN");
  add_load(iload);
  auto add_import = [&](CLI::App* c) {
    c->add_option("-c,--change", o->imp.changes, "apply a Dockerfile instruction to the image")
        ->allow_extra_args(false);
    c->add_option("-m,--message", o->imp.message, "set the commit message of the image");
    c->add_option("file", o->imp.source, "FILE or - (a URL is refused)")->required();
    c->add_option("repository", o->imp.repository, "REPOSITORY[:TAG]");
  };
  auto* import = app.add_subcommand("import", "import a tarball's contents as a filesystem image");
  add_import(import);
  auto* iimport = image->add_subcommand("import", "import a tarball's contents as a filesystem image");
  add_import(iimport);

  // ---- system df, prune ----
  auto* sdf = sys->add_subcommand("df", "show disk usage: images, containers, local volumes, build cache");
  sdf->add_flag("-v,--verbose", o->verbose, "show detailed information on space usage");
  sdf->add_option("--format", o->format, "table (default) or json (docker's disk usage object, as the API's /system/df)");
  auto* sprune = sys->add_subcommand(
      "prune", "remove stopped containers, unused networks, dangling images (-a: unused) and build cache");
  sprune->add_flag("-a,--all", all, "remove all unused images, not just dangling ones");
  sprune->add_flag("--volumes", o->volumes, "prune anonymous volumes");
  sprune->add_flag("-f,--force", force, "do not prompt for confirmation (there is no prompt)");
  sprune->add_option("--filter", o->filters, "until=TIME, label=KEY[=VALUE], label!=KEY[=VALUE]")
      ->allow_extra_args(false);

  return [=, &env]() -> std::optional<int> {
    auto& [format, vname, driver, src, dst, quiet, force, all, no_trunc, quick, repair, names, labels, io, output,
           input, verbose, volumes, human, filters, imp] = *o;
    if (*save || *isave) return image_save(env, names, output);
    if (*load || *iload) return image_load(env, input, quiet);
    if (*import || *iimport) return image_import(env, imp);
    if (*sdf) return system_df(env, verbose, format);
    if (*sprune) {
      PruneOptions p;
      p.all = all;
      p.volumes = volumes;
      p.force = force;
      p.filters = filters;
      return system_prune(env, p);
    }
    if (*vcreate) {
      if (driver != "local")
        fail(Errc::usage, "volume create: driver \"" + driver + "\" is not supported (only local)");
      std::map<std::string, std::string> l;
      for (auto& [k, v] : parse_labels(labels)) l[k] = v;
      return volume_create(env, vname, l);
    }
    if (*vls) return volume_ls(env, quiet, format);
    if (*vinspect) return volume_inspect(env, names, format);
    if (*vrm) return volume_rm(env, names, force);
    if (*vprune) return volume_prune(env, all, filters, format);
    if (*images || *ils) return images_ls(env, io);
    if (*rmi || *irm) return image_rm(env, names, force);
    if (*tag || *itag) return image_tag(env, src, dst);
    if (*iinspect) return image_inspect(env, names, format);
    if (*history || *ihistory) return image_history(env, src, no_trunc, quiet, format, human);
    if (*iprune) return image_prune(env, all, filters, format);
    if (*scheck) return system_check(env, quick, repair);
    return std::nullopt;
  };
}

}  // namespace ocikit::manage
