/** A mistake on the command line (a bad value, a missing flag): `berth: <message>` on one line, exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}
