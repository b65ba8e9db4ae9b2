#pragma once
// ocikit::reference: image references as docker spells them
// ("[domain[:port]/]path[:tag][@digest]") and the transport-prefixed forms
// skopeo accepts ("docker://", "oci:DIR[:TAG]", "oci-archive:FILE[:TAG]",
// "docker-archive:FILE[:TAG]"; a bare name means the local store).
//
// Grammar (distribution/reference):
//   domain         := host [":" port]          host: name(.name)* | "[" ipv6 "]"
//   path-component := [a-z0-9]+ (sep [a-z0-9]+)*    sep: "." | "_" | "__" | "-"+
//   tag            := [\w][\w.-]{0,127}
//   digest         := algorithm ":" hex
// The name (domain/path) is at most 255 characters.

#include <optional>
#include <string>
#include <string_view>

#include "common/digest.hpp"

namespace ocikit::reference {

/// Docker Hub's canonical domain.
inline constexpr std::string_view kDefaultDomain = "docker.io";
/// The tag a reference gets when it has neither tag nor digest.
inline constexpr std::string_view kDefaultTag = "latest";

/// A parsed, normalised image reference.
struct Reference {
  std::string domain;  ///< "docker.io", "localhost:5000", "[::1]:5000"
  std::string path;  ///< "library/alpine"
  std::string tag;  ///< "" when absent (only possible with a digest)
  std::optional<digest::Digest> digest;

  /// The full normalised form: "docker.io/library/alpine:latest[@sha256:..]".
  std::string str() const;
  /// "domain/path" with neither tag nor digest.
  std::string repository() const;
  /// Docker's short form: "alpine:latest", "user/app:1", "localhost:5000/x:y";
  /// docker.io and library/ are dropped, tag and digest kept.
  std::string familiar() const;
  /// familiar() without tag and digest ("alpine", "quay.io/a/b").
  std::string familiar_name() const;
  bool operator==(const Reference&) const = default;
};

/// Parse and normalise `s` as docker does: a first component containing "."
/// or ":" or equal to "localhost" is a domain, otherwise the domain is
/// docker.io and single-component paths get "library/"; "index.docker.io"
/// becomes "docker.io"; the tag defaults to "latest" when neither tag nor
/// digest is given. Throws Errc::invalid naming the input, e.g.
/// `invalid reference "Foo": repository name must be lowercase`.
Reference parse(std::string_view s);

/// Like parse() but leaves the tag empty when none is given.
Reference parse_no_default_tag(std::string_view s);

/// True when parse(s) would succeed.
bool is_valid(std::string_view s);

/// True when `tag` matches [\w][\w.-]{0,127}.
bool is_valid_tag(std::string_view tag);

/// Where an image lives.
enum class Transport { docker, oci, oci_archive, docker_archive, store };

/// The transport's prefix spelling ("docker", "oci", "oci-archive", ...);
/// "" for the store.
std::string_view transport_name(Transport t);

/// A transport-qualified image reference.
struct ImageRef {
  Transport transport = Transport::store;
  Reference ref;  ///< docker and store transports
  std::string path;  ///< oci / oci-archive / docker-archive: DIR or FILE, "-" = stdin/stdout
  std::string tag;  ///< optional ":TAG" after the path (for docker-archive a
      ///< docker reference such as "alpine:3"); "" when absent
  /// The skopeo spelling: "docker://docker.io/library/alpine:latest",
  /// "oci:/dir:tag", "docker.io/library/alpine:latest" (store).
  std::string str() const;
};

/// Parse skopeo's spellings: "docker://REF", "oci:DIR[:TAG]",
/// "oci-archive:FILE[:TAG]", "docker-archive:FILE[:TAG]", and a bare
/// "name[:tag][@digest]" meaning the local store. The path ends at the first
/// ":" after the prefix (as skopeo splits it). Throws Errc::invalid on an
/// empty path or a malformed reference.
ImageRef parse_image_ref(std::string_view s);

}  // namespace ocikit::reference
