import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../logger.js";
import type { Registry } from "../registry/registry.js";
import type { Origin } from "../registry/events.js";
import type { Caller, Guard } from "./guard.js";
import type { PullGate } from "../supply/pull-gate.js";

/** What every route handler receives. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  registry: Registry;
  logger: Logger;
  guard: Guard;
  caller: Caller;
  /** This request as the cause of what it changes: the events' actor (the caller, once known) and request. */
  origin: Origin;
  /** Policies that may refuse manifest pulls (signatures, vulnerabilities); none when absent. */
  pullGate?: PullGate;
}

export type Handler<R> = (ctx: RequestContext, route: R) => Promise<void>;
