#pragma once
// ocikit::platform: the OS/architecture an image targets, as the OCI image
// index spells it ("linux/arm64/v8"), normalised the way containerd does so
// that "x86_64" and "amd64" (or "aarch64" and "arm64/v8") compare equal.

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace ocikit::platform {

/// A platform (OCI image-index "platform" object).
struct Platform {
  std::string os;  ///< "linux"
  std::string architecture;  ///< GOARCH spelling: "amd64", "arm64", "arm", "386"
  std::string variant;  ///< "v7", "v8"; "" when unset
  std::string os_version;  ///< "os.version" (Windows)
  std::vector<std::string> os_features;  ///< "os.features"

  /// "os/arch[/variant]".
  std::string str() const;
  bool operator==(const Platform&) const = default;
};

/// Parse "os/arch[/variant]" (also a bare "arch", meaning linux) and
/// normalise it. Throws Errc::invalid: `invalid platform "x": ...`.
Platform parse(std::string_view s);

/// Normalise spellings: x86_64/x86-64 -> amd64, aarch64 -> arm64 (variant
/// "8"/"v8" -> "v8"), armhf -> arm/v7, armel -> arm/v6, armv7l -> arm/v7,
/// arm without variant -> arm/v7, i386/i686 -> 386, macos -> darwin.
Platform normalize(Platform p);

/// The platform this process runs on (uname), normalised.
Platform host();

/// True when an image built for `have` satisfies a request for `want`:
/// same os and architecture; variants equal, or `want` has no variant, or
/// arm64 where "" and "v8" are the same, or arm where `have`'s variant is
/// older than `want`'s (v7 runs v6 and v5); os_version must match when
/// `want` names one. Both sides are normalised first.
bool matches(const Platform& want, const Platform& have);

/// The OCI JSON object ({"architecture","os","variant"?,"os.version"?,"os.features"?}).
nlohmann::json to_json(const Platform& p);
/// Read the OCI JSON object; throws Errc::invalid on a non-object, missing
/// os/architecture or wrong types: `invalid platform: ...`.
Platform from_json(const nlohmann::json& j);

}  // namespace ocikit::platform
