import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { Document } from 'openapi-backend';

export const OPENAPI_FILE = fileURLToPath(new URL('../../openapi/attributes.yaml', import.meta.url));

/** Where the API's paths live; the OpenAPI document's `servers` entry says the same. */
export const API_ROOT = '/jans-config-api/api/v1';

/** The contract, read once: the router, the validator and the served document all come from it. */
export function loadOpenApiDocument(): Document {
  return parse(readFileSync(OPENAPI_FILE, 'utf8')) as Document;
}
