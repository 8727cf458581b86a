/**
 * Roles of API keys, and what each may do. Every HTTP route declares the role it needs (or `public`); a key
 * may call a route when its role grants that role. One table, read by the server's guard, the CLI and the docs.
 */

/** The roles a key can have, least to most. */
export const ROLES = ['reader', 'worker', 'operator', 'admin'] as const;

/** What a key may do: see ROLE_GRANTS. */
export type Role = (typeof ROLES)[number];

/** What a route needs: a role, or nothing at all (`public`: GET /health, GET /ready, POST /api/token). */
export type RouteRole = Role | 'public';

/** The route roles each key role may call (its own and the ones it includes). */
export const ROLE_GRANTS: Record<Role, readonly Role[]> = {
  reader: ['reader'],
  worker: ['worker'],
  operator: ['reader', 'operator'],
  admin: ['reader', 'worker', 'operator', 'admin'],
};

/** One line per role, for help texts and docs. */
export const ROLE_MEANINGS: Record<Role, string> = {
  reader: 'every GET and the event streams',
  worker: 'poll, ack and report tasks, add task logs',
  operator: 'reader, plus starts, signals, run actions, upgrades, migrations, rollouts, drains, deploy checks',
  admin: 'everything: definitions, version lifecycle, run removal, and what the other roles do',
};

/** Whether `value` names a key role. */
export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** Whether `value` names what a route may need. */
export function isRouteRole(value: unknown): value is RouteRole {
  return value === 'public' || isRole(value);
}

/** Whether a key of `role` may call a route that needs `needed`. */
export function roleAllows(role: Role, needed: RouteRole): boolean {
  return needed === 'public' || ROLE_GRANTS[role].includes(needed);
}

/** The key roles that may call a route that needs `needed`, least first. */
export function rolesAllowed(needed: RouteRole): Role[] {
  return ROLES.filter((role) => roleAllows(role, needed));
}
