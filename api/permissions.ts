import { z } from 'zod';

/**
 * The closed set of permissions an API token can carry, named like the product's. Later capabilities add
 * theirs here (portal.requests.submit, portal.migrations.manage, ...).
 */
export const Permissions = [
  'portal.tenants.view',
  'portal.tenants.manage',
  'portal.tokens.manage',
  'portal.people.view',
  'portal.people.manage',
  'portal.groups.view',
  'portal.groups.manage',
  'portal.roles.view',
  'portal.roles.manage',
  'portal.applications.view',
  'portal.applications.manage',
  'portal.access.view',
  'portal.audit.view',
  'portal.bundles.view',
  'portal.bundles.manage',
  'portal.requests.submit',
  'portal.requests.submit_for_others',
  'portal.requests.view',
  'portal.requests.decide',
  'portal.requests.manage',
  'portal.hr.view',
  'portal.hr.manage',
  'portal.lifecycle.view',
  'portal.lifecycle.manage',
  'portal.profiles.view',
  'portal.profiles.manage',
  'portal.profiles.self_edit',
  'portal.resolution_issues.view',
  'portal.resolution_issues.manage',
  'portal.connectors.view',
  'portal.connectors.manage',
  'portal.plans.view',
  'portal.plans.manage',
] as const;

export type Permission = (typeof Permissions)[number];

export const permissionSchema = z.enum(Permissions);

export function isPermission(value: string): value is Permission {
  return (Permissions as readonly string[]).includes(value);
}
