/**
 * Live updates: one GET /v1/events stream per tab (fetch + ReadableStream, so it can send the Authorization
 * header), reconnected when it drops; pages reload their data on a run change (debounced) and every 10 s.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, authHeaders } from './api';

/** A change the server committed: `event: run` data. */
export interface RunChange {
  runId: string;
  events: string[];
  status?: string;
}

export type StreamState = 'connecting' | 'connected' | 'reconnecting' | 'unavailable';

const changeListeners = new Set<(change: RunChange) => void>();
const stateListeners = new Set<(state: StreamState) => void>();
let state: StreamState = 'connecting';
let stop: AbortController | undefined;

/** How often pages reload anyway, for changes other processes commit, in ms. */
export const REFRESH_MS = 10_000;
/** How long a burst of changes is gathered before one reload, in ms. */
const DEBOUNCE_MS = 300;

function setState(next: StreamState): void {
  state = next;
  for (const listener of [...stateListeners]) listener(next);
}

/** Parses the stream's `event: run` blocks as they arrive. */
async function readStream(body: ReadableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf('\n\n');
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data: '))
        .map((line) => line.slice(6))
        .join('\n');
      if (block.startsWith(':') && state !== 'connected') setState('connected');
      if (!block.includes('event: run') || data === '') continue;
      const change = JSON.parse(data) as RunChange;
      for (const listener of [...changeListeners]) listener(change);
    }
  }
}

/** Opens the stream and keeps it open (backing off after failures) until `closeStream`. */
export function openStream(): void {
  stop?.abort();
  const controller = new AbortController();
  stop = controller;
  let failures = 0;
  const connect = async () => {
    while (!controller.signal.aborted) {
      try {
        const response = await fetch('/v1/events', { headers: authHeaders(), signal: controller.signal });
        if (response.status === 404) return setState('unavailable');
        if (!response.ok || !response.body) throw new ApiError(response.status, String(response.status), 'stream');
        failures = 0;
        await readStream(response.body);
      } catch {
        failures += 1;
      }
      if (controller.signal.aborted) return;
      setState('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 500 * 2 ** Math.min(failures, 5))));
    }
  };
  setState('connecting');
  void connect();
}

/** Ends the stream (on logout, before reopening with a new token). */
export function closeStream(): void {
  stop?.abort();
  stop = undefined;
}

/** The stream's state, re-rendered when it changes. */
export function useStreamState(): StreamState {
  const [current, setCurrent] = useState(state);
  useEffect(() => {
    stateListeners.add(setCurrent);
    setCurrent(state);
    return () => void stateListeners.delete(setCurrent);
  }, []);
  return current;
}

/** What a page's data loader gives: the data, the last error, and a reload. */
export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/**
 * Loads a page's data now, again when `deps` change, after run changes that `relevant` accepts (debounced;
 * default: all) and every REFRESH_MS. Reloads keep the previous data on screen until the new one arrives.
 */
export function useLive<T>(
  load: () => Promise<T>,
  deps: unknown[],
  relevant: (change: RunChange) => boolean = () => true,
): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const relevantRef = useRef(relevant);
  relevantRef.current = relevant;

  const reload = useCallback(() => {
    const mine = ++generation.current;
    setLoading(true);
    loadRef.current().then(
      (value) => {
        if (mine !== generation.current) return;
        setData(value);
        setError(undefined);
        setLoading(false);
      },
      (problem: unknown) => {
        if (mine !== generation.current) return;
        setError(problem);
        setLoading(false);
      },
    );
  }, []);

  // The caller's deps decide when to load again.
  useEffect(() => {
    setData(undefined);
    reload();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onChange = (change: RunChange) => {
      if (!relevantRef.current(change) || timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        reload();
      }, DEBOUNCE_MS);
    };
    changeListeners.add(onChange);
    const every = setInterval(reload, REFRESH_MS);
    return () => {
      changeListeners.delete(onChange);
      clearInterval(every);
      if (timer !== undefined) clearTimeout(timer);
    };
  }, deps);

  return { data, error, loading, reload };
}
