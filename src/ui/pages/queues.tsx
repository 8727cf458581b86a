/** Task queues: per task type (and domain), the depth, the oldest waiting task, and the pollers. */
import { api } from '../api';
import { fromNow, when } from '../format';
import { useLive } from '../live';
import { Loading, Problem } from '../widgets';

interface Queue {
  taskType: string;
  domain: string | null;
  depth: number;
  oldestWaitingAt: string | null;
  pollers: { workerId: string; domain: string | null; lastPollAt: string }[];
}

/** Every task queue the store knows. */
export function QueuesPage() {
  const { data, error } = useLive(() => api<{ queues: Queue[] }>('GET', '/v1/task-queues'), []);
  return (
    <>
      <h1>Task queues</h1>
      {error !== undefined && <Problem error={error} what="The task queue view" />}
      {!data && !error && <Loading />}
      {data && data.queues.length === 0 && <p class="muted">No task type has been scheduled or polled.</p>}
      {data && data.queues.length > 0 && (
        <table aria-label="Task queues">
          <thead>
            <tr>
              <th scope="col">Task type</th>
              <th scope="col">Domain</th>
              <th scope="col">Depth</th>
              <th scope="col">Oldest waiting</th>
              <th scope="col">Pollers (last poll)</th>
            </tr>
          </thead>
          <tbody>
            {data.queues.map((q) => (
              <tr key={`${q.taskType}/${q.domain}`} data-queue={q.taskType}>
                <th scope="row">{q.taskType}</th>
                <td>{q.domain ?? '—'}</td>
                <td class={q.depth > 0 && q.pollers.length === 0 ? 'num warn' : 'num'}>{q.depth}</td>
                <td title={when(q.oldestWaitingAt)}>{fromNow(q.oldestWaitingAt)}</td>
                <td>
                  {q.pollers.length === 0 ? (
                    <span class="muted">none</span>
                  ) : (
                    <ul class="plain">
                      {q.pollers.map((p) => (
                        <li key={`${p.workerId}/${p.domain}`}>
                          {p.workerId}
                          {p.domain ? ` (${p.domain})` : ''}: {fromNow(p.lastPollAt)}
                        </li>
                      ))}
                    </ul>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
