export { ApiError } from './api-error.js';
export {
  API_ROOT,
  AttributesClient,
  type AttributesClientOptions,
  type AuditEvent,
  type AttributeUsage,
  type AuditPage,
  type ClaimMapping,
  type GetResult,
  type HistoryParams,
  type JansAttribute,
  type JansAttributeInput,
  type ListParams,
  type PagedResult,
  type PatchOperation,
  type Scope,
  type Tagged,
} from './attributes-client.js';
export type { components, operations, paths } from './schema.js';
