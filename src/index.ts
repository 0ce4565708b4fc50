/**
 * The package entry: a typed client of the attribute registry's HTTP API.
 *
 * ```ts
 * import { AttributesClient, ApiError } from 'jans-attribute-registry';
 * const client = new AttributesClient({ baseUrl: 'http://127.0.0.1:8080', token: process.env.TOKEN! });
 * for await (const attribute of client.listAll({ pattern: 'edu' })) console.log(attribute.name);
 * ```
 */
export * from './client/index.js';
