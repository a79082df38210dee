import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../logger.js";
import type { Registry } from "../registry/registry.js";

/** What every route handler receives. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  registry: Registry;
  logger: Logger;
}

export type Handler<R> = (ctx: RequestContext, route: R) => Promise<void>;
