export { ApiError } from './api-error.js';
export {
  API_ROOT,
  AttributesClient,
  type AttributesClientOptions,
  type AttributeValue,
  type Expiry,
  type ValueAccess,
  type ValueBatch,
  type ValueBatchResult,
  type ValueJsonSchema,
  type ValueMetadata,
  type AuditEvent,
  type AuditPage,
  type GetResult,
  type HistoryParams,
  type JansAttribute,
  type JansAttributeInput,
  type ListParams,
  type PagedResult,
  type PatchOperation,
  type Tagged,
} from './attributes-client.js';
export type { components, operations, paths } from './schema.js';
