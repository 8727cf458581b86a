/** The dashboard: a header with the pages, the live stream's state and the session; the page of the hash. */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, login, onUnauthorized, setToken, token } from './api';
import { closeStream, openStream, useStreamState } from './live';
import { useRoute } from './router';
import { type Session, SessionContext } from './session';
import type { Whoami } from './types';
import { Problem } from './widgets';
import { DeploysPage } from './pages/deploys';
import { RolloutsPage } from './pages/rollouts';
import { RunPage } from './pages/run';
import { RunsPage } from './pages/runs';
import { QueuesPage } from './pages/queues';
import { VersionsPage } from './pages/versions';
import './style.css';

const PAGES = [
  ['versions', 'Versions'],
  ['runs', 'Runs'],
  ['deploys', 'Deploys'],
  ['rollouts', 'Rollouts'],
  ['queues', 'Task queues'],
] as const;

/** GET /v1/whoami; a server without it is taken as one without auth (the API still refuses what it must). */
async function whoami(): Promise<Session> {
  try {
    return { ...(await api<Whoami>('GET', '/v1/whoami')), known: true };
  } catch (error) {
    if (error instanceof ApiError && error.unavailable)
      return { actor: null, role: 'admin', auth: token() !== null, known: false };
    throw error;
  }
}

function App() {
  const route = useRoute();
  const [session, setSession] = useState<Session | undefined>(undefined);
  const [needsLogin, setNeedsLogin] = useState(false);
  const [error, setError] = useState<unknown>(undefined);

  const start = () => {
    setError(undefined);
    whoami().then(
      (who) => {
        setSession(who);
        setNeedsLogin(false);
        openStream();
      },
      (problem: unknown) => {
        if (!(problem instanceof ApiError && problem.status === 401)) setError(problem);
      },
    );
  };
  useEffect(() => {
    const off = onUnauthorized(() => {
      closeStream();
      setNeedsLogin(true);
    });
    start();
    return off;
  }, []);

  if (needsLogin) return <Login onDone={start} />;
  if (error !== undefined) return <Problem error={error} />;
  if (!session) return <p class="muted">Connecting…</p>;
  return (
    <SessionContext.Provider value={session}>
      <Header page={route.page === 'run' ? 'runs' : route.page} session={session} />
      <main id="main">
        <Page route={route} />
      </main>
    </SessionContext.Provider>
  );
}

function Page({ route }: { route: ReturnType<typeof useRoute> }) {
  switch (route.page) {
    case 'versions':
      return <VersionsPage />;
    case 'runs':
      return <RunsPage query={route.query} />;
    case 'run':
      return <RunPage id={route.rest.join('/')} />;
    case 'deploys':
      return <DeploysPage query={route.query} />;
    case 'rollouts':
      return <RolloutsPage />;
    case 'queues':
      return <QueuesPage />;
    default:
      return <p class="problem">No page '{route.page}'.</p>;
  }
}

function Header({ page, session }: { page: string; session: Session }) {
  const stream = useStreamState();
  const logout = () => {
    setToken(null);
    closeStream();
    location.reload();
  };
  return (
    <header>
      <a class="brand" href="#/versions">
        Waymark
      </a>
      <nav aria-label="Pages">
        {PAGES.map(([id, title]) => (
          <a key={id} href={`#/${id}`} aria-current={page === id ? 'page' : undefined}>
            {title}
          </a>
        ))}
      </nav>
      <span class={`live live-${stream}`} data-live={stream} title="the run event stream">
        {stream === 'connected' ? 'live' : stream}
      </span>
      <span class="who" data-role={session.role}>
        {session.actor ?? (session.known ? 'no auth' : 'role unknown')} · {session.role}
      </span>
      {token() !== null && (
        <button type="button" onClick={logout}>
          Log out
        </button>
      )}
    </header>
  );
}

function Login({ onDone }: { onDone: () => void }) {
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    setBusy(true);
    try {
      await login(String(form.get('keyId')), String(form.get('keySecret')));
      onDone();
    } catch (problem) {
      setError(problem);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <h1>Waymark</h1>
      <form onSubmit={submit} aria-label="Log in">
        <p>This server needs a key. Give a key id and its secret (from `waymark keys create`).</p>
        <label>
          Key id
          <input name="keyId" required autoComplete="username" />
        </label>
        <label>
          Secret
          <input name="keySecret" type="password" required autoComplete="current-password" />
        </label>
        <button type="submit" class="primary" disabled={busy}>
          Log in
        </button>
        {error !== undefined && <Problem error={error} />}
      </form>
    </main>
  );
}

render(<App />, document.getElementById('app')!);
