import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../logger.js";
import type { Registry } from "../registry/registry.js";
import type { AuditEvent } from "../storage/auth-store.js";
import type { Caller, Guard } from "./guard.js";

/** What every route handler receives. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  registry: Registry;
  logger: Logger;
  guard: Guard;
  caller: Caller;
  /** Records an audit event for this request's caller (a no-op without access control). */
  audit(event: Omit<AuditEvent, "time" | "actor" | "source">): Promise<void>;
}

export type Handler<R> = (ctx: RequestContext, route: R) => Promise<void>;
