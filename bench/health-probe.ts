/**
 * An independent health check for scenario L: `node --import tsx bench/health-probe.ts <server url>`, forked with an
 * IPC channel. Asks GET /health every 100 ms on one kept-alive connection (as a load balancer would) until told
 * 'stop', then reports each answer's time in ms. It runs apart from the load process, whose own event loop is
 * busy with thousands of sockets, so its figures are the server's latency as another client sees it.
 */
import { Agent, get } from 'node:http';

const [url] = process.argv.slice(2);
if (!url || !process.send) {
  process.stderr.write('usage: health-probe.ts <server url> (with an IPC channel)\n');
  process.exit(2);
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const healthMs: number[] = [];
let probing = true;
process.on('message', (message) => {
  if (message === 'stop') probing = false;
});

function ask(): Promise<number> {
  const asked = performance.now();
  return new Promise((resolve, reject) => {
    const req = get(`${url}/health`, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(performance.now() - asked));
    });
    req.on('error', reject);
  });
}

while (probing) {
  healthMs.push(await ask());
  await new Promise((resolve) => setTimeout(resolve, 100));
}
process.send({ type: 'report', healthMs }, () => process.exit(0));
