/**
 * The onboarding example's worker: polls the server's Conductor-compatible task API for its two task
 * types, like any Conductor worker would, and reports each result. Run it with
 * `npx tsx examples/conductor-onboarding/worker.ts [server-url]`; against a server started with `--auth`, give it a
 * worker key in `WAYMARK_KEY` (`keyId:secret`, from `waymark keys create --role worker`).
 */

/** A normalized profile: the same shape whatever payload version the run was started with. */
export interface Profile {
  customerId: string;
  email: string | null;
  phone: string | null;
  region: string;
  loyaltyTier: string;
  source: 'legacy' | 'v2';
}

type Input = Record<string, unknown>;

/**
 * Accepts legacy payloads (legacyCustomerId, email, country) and
 * v2 ones (customerId, contact{email,phone}, region, loyaltyTier).
 */
export function normalizeCustomerProfile(input: Input): { profile: Profile } {
  if (typeof input.customerId === 'string' && input.customerId !== '') {
    const contact = (input.contact ?? {}) as { email?: string; phone?: string };
    return {
      profile: {
        customerId: input.customerId,
        email: contact.email?.trim().toLowerCase() ?? null,
        phone: contact.phone ?? null,
        region: String(input.region ?? 'unknown').toUpperCase(),
        loyaltyTier: String(input.loyaltyTier ?? 'standard').toLowerCase(),
        source: 'v2',
      },
    };
  }
  if (typeof input.legacyCustomerId === 'string' && input.legacyCustomerId !== '') {
    return {
      profile: {
        customerId: `legacy-${input.legacyCustomerId}`,
        email: typeof input.email === 'string' ? input.email.trim().toLowerCase() : null,
        phone: null,
        region: String(input.country ?? 'unknown').toUpperCase(),
        loyaltyTier: 'standard',
        source: 'legacy',
      },
    };
  }
  throw new Error('payload has neither customerId nor legacyCustomerId');
}

/** Gold customers and well-known regions are low risk; a profile without email is high risk. */
export function assignRiskTier(input: Input): { riskTier: 'low' | 'medium' | 'high' } {
  const profile = input.profile as Profile;
  if (!profile?.email) return { riskTier: 'high' };
  if (profile.loyaltyTier === 'gold') return { riskTier: 'low' };
  return { riskTier: ['EU', 'US', 'DE', 'FR'].includes(profile.region) ? 'medium' : 'high' };
}

const HANDLERS: Record<string, (input: Input) => unknown> = {
  normalize_customer_profile: normalizeCustomerProfile,
  assign_risk_tier: assignRiskTier,
};

interface PolledTask {
  taskId: string;
  taskType: string;
  workflowInstanceId: string;
  inputData: Input;
}

/** Polls until `stop()`; each task is executed and reported COMPLETED, or FAILED with the error. */
export function startWorker(
  server: string,
  workerId = `onboarding-worker-${process.pid}`,
  key = process.env.WAYMARK_KEY,
): { stop(): Promise<void>; completed: () => number } {
  // A key goes as the credential itself (the server also takes a token from POST /api/token).
  const auth: Record<string, string> = key ? { 'x-authorization': key } : {};
  let running = true;
  let completed = 0;
  const loops = Object.keys(HANDLERS).map(async (taskType) => {
    while (running) {
      const response = await fetch(
        `${server}/api/tasks/poll/batch/${taskType}?workerid=${encodeURIComponent(workerId)}&count=5&timeout=200`,
        { headers: auth },
      );
      const tasks = (await response.json()) as PolledTask[];
      for (const task of tasks) {
        const result = { workflowInstanceId: task.workflowInstanceId, taskId: task.taskId, workerId };
        let report: Record<string, unknown>;
        try {
          report = { ...result, status: 'COMPLETED', outputData: HANDLERS[taskType]!(task.inputData) };
        } catch (error) {
          report = { ...result, status: 'FAILED', reasonForIncompletion: (error as Error).message };
        }
        await fetch(`${server}/api/tasks`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...auth },
          body: JSON.stringify(report),
        });
        completed++;
      }
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
    completed: () => completed,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = process.argv[2] ?? process.env.WAYMARK_SERVER ?? 'http://127.0.0.1:8080';
  const worker = startWorker(server);
  process.stdout.write(`onboarding worker polling ${server} (Ctrl-C to stop)\n`);
  process.once('SIGINT', () => void worker.stop().then(() => process.exit(0)));
  process.once('SIGTERM', () => void worker.stop().then(() => process.exit(0)));
}
