/**
 * A package found in an image: what an SBOM lists and what vulnerability matching reads. The
 * SBOM stored as a CycloneDX referrer round-trips to this type (sbom/cyclonedx.ts), so matching
 * never has to read layers again.
 */
export interface Package {
  /**
   * The OSV ecosystem the package belongs to: `Debian:12`, `Ubuntu:22.04:LTS`, `Alpine:v3.19`,
   * `npm`, `PyPI`, `Go`. Distribution packages carry the release, read from the image's os-release.
   */
  ecosystem: string;
  name: string;
  version: string;
  /** The source package it was built from (dpkg `Source:`, apk `origin`), which distro advisories name. */
  source?: { name: string; version: string };
  /** Its package URL (purl), e.g. `pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12`. */
  purl: string;
  /** Where in the image it was found: the database or manifest file path(s), without a leading slash. */
  locations: string[];
}
