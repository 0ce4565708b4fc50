import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { Document } from 'openapi-backend';

export const OPENAPI_FILE = fileURLToPath(new URL('../../openapi/attributes.yaml', import.meta.url));

/**
 * The document's server, relative to the service's origin. As in Janssen's document, the server is the
 * config API's context and each path starts with `/api/v1`, so tools that join the two (Janssen's
 * command line, code generators) arrive at the URLs Janssen serves.
 */
export const SERVER_ROOT = '/jans-config-api';

/** Where the operations live: the server and the `/api/v1` that starts every path of the document. */
export const API_ROOT = `${SERVER_ROOT}/api/v1`;

/** The contract, read once: the router, the validator and the served document all come from it. */
export function loadOpenApiDocument(): Document {
  return parse(readFileSync(OPENAPI_FILE, 'utf8')) as Document;
}
