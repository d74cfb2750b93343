import type { RouteDef } from '../route';
import { accessRoutes } from './access';
import { apiTokenRoutes } from './api-tokens';
import { applicationRoutes, roleRoutes } from './applications';
import { bundleRoutes } from './bundles';
import { connectorRoutes } from './connectors';
import { groupRoutes } from './groups';
import { hrRoutes } from './hr';
import { lifecycleRoutes } from './lifecycle';
import { peopleRoutes } from './people';
import { planRoutes } from './plans';
import { profileRoutes } from './profiles';
import { requestRoutes } from './requests';
import { tenantRoutes } from './tenants';

/** Every endpoint of the API, in documentation order. */
export const allRoutes: readonly RouteDef[] = [
  ...tenantRoutes, ...apiTokenRoutes, ...peopleRoutes, ...groupRoutes, ...roleRoutes, ...applicationRoutes, ...accessRoutes,
  ...bundleRoutes, ...requestRoutes, ...hrRoutes, ...lifecycleRoutes, ...profileRoutes,
  ...connectorRoutes, ...planRoutes,
];
