/**
 * Thrown by a driver opened with `create: false` when there is nothing to open: no database file,
 * no schema tables, no blob directory or bucket. `where` names what was looked at, without secrets.
 */
export class StoreMissingError extends Error {
  override name = "StoreMissingError";
  constructor(readonly where: string) {
    super(`nothing at ${where}`);
  }
}
