import { get, type IncomingMessage } from 'node:http';

/** One message of an event stream: a comment (`: text`) or an event with its data. */
export type SseMessage = { comment: string } | { event: string; data: any };

export interface SseClient {
  response: IncomingMessage;
  /** Resolves with the first message (not yet taken) that `match` accepts; rejects when the stream ends first. */
  next(match: (message: SseMessage) => boolean): Promise<SseMessage>;
  /** Every message received so far. */
  received: SseMessage[];
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

/** Connects to an event stream and parses it as it arrives. */
export function connectSse(url: string): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const request = get(url, (response) => {
      const received: SseMessage[] = [];
      const waiting: {
        match: (m: SseMessage) => boolean;
        resolve: (m: SseMessage) => void;
        reject: (e: Error) => void;
      }[] = [];
      let taken = 0;
      let buffer = '';
      let done = false;
      const ended = new Promise<void>((end) =>
        response.once('close', () => {
          done = true;
          for (const w of waiting.splice(0)) w.reject(new Error('the stream ended first'));
          end();
        }),
      );
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        let cut = buffer.indexOf('\n\n');
        while (cut >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const message = parse(block);
          received.push(message);
          const i = waiting.findIndex((w) => w.match(message));
          if (i >= 0) waiting.splice(i, 1)[0]!.resolve(message);
          cut = buffer.indexOf('\n\n');
        }
      });
      const next = (match: (m: SseMessage) => boolean) =>
        new Promise<SseMessage>((res, rej) => {
          const found = received.slice(taken).find(match);
          if (found) {
            taken = received.indexOf(found) + 1;
            return res(found);
          }
          if (done) return rej(new Error('the stream has ended'));
          waiting.push({
            match,
            resolve: (m) => {
              taken = received.indexOf(m) + 1;
              res(m);
            },
            reject: rej,
          });
        });
      resolve({ response, next, received, ended, close: () => request.destroy() });
    });
    request.once('error', reject);
  });
}

function parse(block: string): SseMessage {
  if (block.startsWith(':')) return { comment: block.slice(1).trim() };
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).trim());
  }
  return { event, data: JSON.parse(data.join('\n')) };
}
