/**
 * One ecosystem's version order. `compare` is total over valid versions (negative, zero or
 * positive, like Array.prototype.sort wants) and never throws; on an invalid version its answer
 * is unspecified, so callers check `valid` first and skip what it refuses rather than guess.
 */
export interface VersionOrder {
  readonly name: string;
  compare(a: string, b: string): number;
  valid(version: string): boolean;
}
