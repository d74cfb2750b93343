import { z } from 'zod';
import { capabilitiesOf } from '../../connectors/capabilities';
import { changedEndpointFields, createConnectorContext } from '../../connectors/context';
import { asConnectorError } from '../../connectors/errors';
import { connectorPlugin, connectorPlugins } from '../../connectors/registry';
import type { ConnectorPlugin } from '../../connectors/types';
import { appendAudit } from '../../db/repositories/audit';
import {
  type ConnectorInstance, createConnectorInstance, getConnectorInstance, getConnectorInstanceWithSecret, listConnectorInstances, updateConnectorInstance,
} from '../../db/repositories/connector-instances';
import { decryptSecret, encryptSecret } from '../../workers/secrets';
import { actorOf } from '../context';
import { ApiError, type FieldError } from '../problems';
import { defineRoute } from '../route';
import { isoDate, name, uuid } from '../schemas';

const connectorKindSchema = z.object({
  kind: z.string(), displayName: z.string(), vendor: z.string(), docsUrl: z.string(), rateLimitPerSecond: z.number(),
  capabilities: z.array(z.string()),
}).meta({ id: 'ConnectorKind' });

const instanceSchema = z.object({
  id: uuid, tenantId: uuid, kind: z.string(), name: z.string(), config: z.record(z.string(), z.unknown()),
  /** Credentials are stored encrypted and never returned; this says only that they are set. */
  credentialsSet: z.literal(true),
  capabilities: z.array(z.string()),
  createdAt: isoDate, updatedAt: isoDate,
}).meta({ id: 'ConnectorInstance' });

const createBody = z.strictObject({
  kind: z.string().min(1).max(64),
  name,
  config: z.record(z.string(), z.unknown()),
  credentials: z.record(z.string(), z.unknown()),
}).meta({ id: 'CreateConnectorInstance' });

const updateBody = z.strictObject({
  config: z.record(z.string(), z.unknown()),
  /** Omit to keep the stored credentials; required when an endpoint (a URL field of the config) changes. */
  credentials: z.record(z.string(), z.unknown()).optional(),
}).meta({ id: 'UpdateConnectorInstance' });

const instanceParams = z.strictObject({ connectorId: uuid });

function describePlugin(plugin: ConnectorPlugin) {
  return { ...plugin.describe(), capabilities: capabilitiesOf(plugin) };
}

function present(instance: ConnectorInstance) {
  const plugin = connectorPlugin(instance.kind);
  return { ...instance, credentialsSet: true as const, capabilities: plugin ? capabilitiesOf(plugin) : [] };
}

/**
 * Parses a value with a plugin's schema. Field errors name the path only, with zod's message: never the
 * value, since a credential field would echo a secret.
 */
function parseWith<T>(schema: z.ZodType<T>, value: unknown, at: string): { data: T } | { errors: FieldError[] } {
  const result = schema.safeParse(value);
  if (result.success) return { data: result.data };
  return { errors: result.error.issues.map((i) => ({ path: [at, ...i.path.map(String)].join('.'), message: i.code === 'unrecognized_keys' ? 'unknown field' : i.message })) };
}

function requirePlugin(kind: string): ConnectorPlugin {
  const plugin = connectorPlugin(kind);
  if (!plugin) throw new ApiError('connector_kind_unknown', `Portal has no connector of kind ${kind}; see GET /v1/connector-kinds.`);
  return plugin;
}

function validated(plugin: ConnectorPlugin, config: unknown, credentials: unknown | undefined) {
  const errors: FieldError[] = [];
  const c = parseWith(plugin.configSchema, config, 'body.config');
  if ('errors' in c) errors.push(...c.errors);
  if (credentials !== undefined) {
    const s = parseWith(plugin.credentialsSchema, credentials, 'body.credentials');
    if ('errors' in s) errors.push(...s.errors);
  }
  if (errors.length > 0) throw new ApiError('validation_failed', 'The connector configuration is not valid.', errors);
}

export const connectorRoutes = [
  defineRoute({
    method: 'get', path: '/v1/connector-kinds', tag: 'connectors', summary: 'The connector plugins Portal ships, with their capabilities',
    permission: null, tenantScoped: false,
    responses: { 200: { description: 'Connector kinds', schema: z.object({ items: z.array(connectorKindSchema) }) } },
    handler: async () => ({ status: 200, body: { items: Object.values(connectorPlugins).map(describePlugin) } }),
  }),

  defineRoute({
    method: 'post', path: '/v1/tenants/:tenantId/connectors', tag: 'connectors',
    summary: 'Configure a connector instance; credentials are encrypted at rest and never returned',
    permission: 'portal.connectors.manage', tenantScoped: true, body: createBody,
    responses: { 201: { description: 'Created', schema: instanceSchema } },
    handler: async ({ body, tenant, caller, deps, requestId }) => {
      const plugin = requirePlugin(body.kind);
      validated(plugin, body.config, body.credentials);
      const instance = await deps.db.transaction().execute(async (tx) => {
        const created = await createConnectorInstance(tx, {
          tenantId: tenant.id, kind: body.kind, name: body.name, config: body.config,
          credentialsCiphertext: encryptSecret(deps.secretKey, JSON.stringify(body.credentials)),
        });
        if (!created) throw new ApiError('name_taken', `A connector named ${body.name} exists in this tenant.`);
        await appendAudit(tx, {
          tenantId: tenant.id, actor: actorOf(caller), action: 'connector.created', target: { kind: 'connector_instance', id: created.id },
          details: { kind: created.kind, name: created.name }, requestId,
        });
        return created;
      });
      return { status: 201, body: present(instance), headers: { Location: `/v1/tenants/${tenant.id}/connectors/${instance.id}` } };
    },
  }),

  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/connectors', tag: 'connectors', summary: 'List connector instances',
    permission: 'portal.connectors.view', tenantScoped: true,
    responses: { 200: { description: 'Connector instances', schema: z.object({ items: z.array(instanceSchema) }) } },
    handler: async ({ tenant, deps }) => ({ status: 200, body: { items: (await listConnectorInstances(deps.db, tenant.id)).map(present) } }),
  }),

  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/connectors/:connectorId', tag: 'connectors', summary: 'Read a connector instance',
    permission: 'portal.connectors.view', tenantScoped: true, params: instanceParams,
    responses: { 200: { description: 'The instance', schema: instanceSchema } },
    handler: async ({ params, tenant, deps }) => {
      const instance = await getConnectorInstance(deps.db, tenant.id, params.connectorId);
      if (!instance) throw new ApiError('not_found', `Connector ${params.connectorId} was not found.`);
      return { status: 200, body: present(instance) };
    },
  }),

  defineRoute({
    method: 'put', path: '/v1/tenants/:tenantId/connectors/:connectorId', tag: 'connectors',
    summary: 'Replace a connector instance\'s configuration (and credentials, when given; required when an endpoint changes)',
    permission: 'portal.connectors.manage', tenantScoped: true, params: instanceParams, body: updateBody,
    responses: { 200: { description: 'Updated', schema: instanceSchema } },
    handler: async ({ params, body, tenant, caller, deps, requestId }) => {
      const existing = await getConnectorInstance(deps.db, tenant.id, params.connectorId);
      if (!existing) throw new ApiError('not_found', `Connector ${params.connectorId} was not found.`);
      const plugin = requirePlugin(existing.kind);
      validated(plugin, body.config, body.credentials);
      // Stored credentials go only where they went when they were given: whoever moves an endpoint (to a
      // host of their own, say) supplies the credentials to send there.
      const endpointsChanged = changedEndpointFields(plugin, existing.config, body.config);
      if (endpointsChanged.length > 0 && body.credentials === undefined) {
        throw new ApiError('credentials_required', 'The configuration changes where this connector connects; send its credentials in the same request.',
          endpointsChanged.map((field) => ({ path: `body.config.${field}`, message: 'changed: the credentials must be sent with it' })));
      }
      const updated = await deps.db.transaction().execute(async (tx) => {
        const row = await updateConnectorInstance(tx, tenant.id, existing.id, {
          config: body.config, credentialsCiphertext: body.credentials ? encryptSecret(deps.secretKey, JSON.stringify(body.credentials)) : null,
        });
        await appendAudit(tx, {
          tenantId: tenant.id, actor: actorOf(caller), action: 'connector.updated', target: { kind: 'connector_instance', id: existing.id },
          details: { credentialsReplaced: body.credentials !== undefined, endpointsChanged }, requestId,
        });
        return row!;
      });
      return { status: 200, body: present(updated) };
    },
  }),

  defineRoute({
    method: 'post', path: '/v1/tenants/:tenantId/connectors/:connectorId/test', tag: 'connectors',
    summary: 'Test a connector instance\'s connection with one cheap read against the vendor',
    permission: 'portal.connectors.manage', tenantScoped: true, params: instanceParams,
    responses: {
      200: {
        description: 'The outcome', schema: z.object({ ok: z.boolean(), error: z.object({ kind: z.string(), status: z.int().nullable(), message: z.string() }).nullable() }),
      },
    },
    handler: async ({ params, tenant, deps }) => {
      const instance = await getConnectorInstanceWithSecret(deps.db, tenant.id, params.connectorId);
      if (!instance) throw new ApiError('not_found', `Connector ${params.connectorId} was not found.`);
      const plugin = requirePlugin(instance.kind);
      let ctx;
      try {
        ctx = createConnectorContext(plugin, instance.config, JSON.parse(decryptSecret(deps.secretKey, instance.credentialsCiphertext)), { timeoutMs: 10_000 });
      } catch {
        // Stored before a schema tightened (a key checked since): the answer says so without the values.
        const message = 'the stored configuration or credentials no longer parse; replace them with PUT';
        return { status: 200, body: { ok: false, error: { kind: 'invalid', status: null, message } } };
      }
      try {
        await plugin.testConnection(ctx);
        return { status: 200, body: { ok: true, error: null } };
      } catch (thrown) {
        const err = asConnectorError(thrown);
        return { status: 200, body: { ok: false, error: { kind: err.kind, status: err.status, message: err.message } } };
      }
    },
  }),
];
