/**
 * L's load: `node --import tsx bench/l-child.ts <server url> <polls> <timeoutMs> <taskType>`, forked with an
 * IPC channel. Sends `polls` concurrent batch long polls (count 1, each on its own connection) and asks
 * GET /health every 100 ms while they wait; reports when each poll was answered and what it got.
 */
import { Agent, get } from 'node:http';

export type LoadReport = {
  type: 'report';
  /**
   * Per poll: ms from its connection being open to its answer (`connectMs`: from asking for the connection to it being
   * open), and how many tasks it got (-1: an error).
   */
  answers: { ms: number; connectMs: number; tasks: number }[];
  healthMs: number[];
};

const [url, pollsArg, timeoutArg, taskType] = process.argv.slice(2);
if (!url || !pollsArg || !timeoutArg || !taskType || !process.send) {
  process.stderr.write('usage: l-child.ts <server url> <polls> <timeoutMs> <taskType> (with an IPC channel)\n');
  process.exit(2);
}

const polls = new Agent({ keepAlive: true, maxSockets: Infinity });
const probe = new Agent({ keepAlive: true, maxSockets: 1 });

function request(path: string, agent: Agent): Promise<{ ms: number; connectMs: number; body: string }> {
  const asked = performance.now();
  let connected = asked;
  return new Promise((resolve, reject) => {
    const req = get(`${url}${path}`, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ ms: performance.now() - connected, connectMs: connected - asked, body }));
    });
    req.on('socket', (socket) => {
      if (socket.connecting) socket.once('connect', () => (connected = performance.now()));
    });
    req.on('error', reject);
  });
}

const healthMs: number[] = [];
let waiting = true;
const probing = (async () => {
  while (waiting) {
    healthMs.push((await request('/health', probe)).ms);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
})();

const answers = await Promise.all(
  Array.from({ length: Number(pollsArg) }, (_, i) =>
    request(`/api/tasks/poll/batch/${taskType}?workerid=load-${i}&count=1&timeout=${timeoutArg}`, polls).then(
      ({ ms, connectMs, body }) => ({ ms, connectMs, tasks: (JSON.parse(body) as unknown[]).length }),
      () => ({ ms: NaN, connectMs: NaN, tasks: -1 }),
    ),
  ),
);
waiting = false;
await probing;
process.send({ type: 'report', answers, healthMs } satisfies LoadReport, () => process.exit(0));
