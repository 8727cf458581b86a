/** Who is looking: the role from GET /v1/whoami decides which write controls are drawn. */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Whoami } from './types';

/** The session as the pages see it; `known: false` when the server has no /v1/whoami. */
export interface Session extends Whoami {
  known: boolean;
}

const GRANTS: Record<Whoami['role'], string[]> = {
  reader: ['reader'],
  worker: ['worker'],
  operator: ['reader', 'operator'],
  admin: ['reader', 'worker', 'operator', 'admin'],
};

export const SessionContext = createContext<Session>({ actor: null, role: 'reader', auth: false, known: false });

/** Whether the session may call routes that need `needed` (so their controls are drawn). */
export function useCan(needed: 'operator' | 'admin'): boolean {
  const session = useContext(SessionContext);
  return GRANTS[session.role].includes(needed);
}
