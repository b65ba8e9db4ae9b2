// bench driver: apply each layer file given on the command line onto its own
// directory under DEST (one thread per layer, as the snapshot store does),
// or in order onto DEST itself with --serial.
//   layer-apply-driver [--serial] DEST LAYER...
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/layer.hpp"

using namespace ocikit;

int main(int argc, char** argv) {
  bool serial = argc > 1 && std::string(argv[1]) == "--serial";
  int first = serial ? 2 : 1;
  if (argc - first < 2) {
    std::fprintf(stderr, "usage: layer-apply-driver [--serial] DEST LAYER...\n");
    return 2;
  }
  std::string dest = argv[first];
  std::vector<std::string> layers(argv + first + 1, argv + argc);
  std::vector<std::string> errors(layers.size());
  auto run = [&](size_t i) {
    try {
      std::string root = serial ? dest : dest + "/" + std::to_string(i);
      fs::mkdir_p(root);
      fs::UniqueFd fd(::open(layers[i].c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) throw_errno("open " + layers[i]);
      auto r = layer::apply(fd.get(), root);
      std::printf("%s %s\n", r.compressed_digest.str().c_str(), r.diff_id.str().c_str());
    } catch (const std::exception& e) {
      errors[i] = e.what();
    }
  };
  if (serial) {
    for (size_t i = 0; i < layers.size(); ++i) run(i);
  } else {
    std::vector<std::thread> ts;
    for (size_t i = 0; i < layers.size(); ++i) ts.emplace_back(run, i);
    for (auto& t : ts) t.join();
  }
  for (const auto& e : errors)
    if (!e.empty()) {
      std::fprintf(stderr, "layer-apply-driver: error: %s\n", e.c_str());
      return 1;
    }
  return 0;
}
