import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ChatRequest {
  headers: IncomingMessage['headers'];
  body: {
    model?: string;
    messages?: Array<{ role: string; content: string }>;
    response_format?: unknown;
    temperature?: unknown;
  };
}

/** What the fake endpoint answers: `content` as the assistant's message, or a raw `status` and `body`; after `delayMs`. */
export interface Canned {
  content?: string;
  status?: number;
  body?: string;
  delayMs?: number;
}

/** An assistant reply holding `answer` as JSON, as a model in JSON mode gives it. */
export const json = (answer: unknown): Canned => ({ content: JSON.stringify(answer) });

/** A local OpenAI-compatible chat-completions endpoint (`POST /v1/chat/completions`) with canned answers. */
export class FakeChatServer {
  readonly requests: ChatRequest[] = [];
  /** Picks the answer for a request; tests set it. */
  reply: (request: ChatRequest) => Canned = () => ({ status: 500, body: '{"error":{"message":"no answer set"}}' });
  private server: Server | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  baseUrl = '';

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (text += d));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"no such route"}}');
          return;
        }
        const request: ChatRequest = { headers: req.headers, body: JSON.parse(text) as ChatRequest['body'] };
        this.requests.push(request);
        const canned = this.reply(request);
        const send = () => {
          if (canned.content !== undefined) {
            res.writeHead(200, { 'content-type': 'application/json' }).end(
              JSON.stringify({
                id: 'chatcmpl-test',
                object: 'chat.completion',
                model: request.body.model,
                choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: canned.content } }],
              }),
            );
          } else {
            res.writeHead(canned.status ?? 200, { 'content-type': 'application/json' }).end(canned.body ?? '');
          }
        };
        if (!canned.delayMs) return send();
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          send();
        }, canned.delayMs);
        this.timers.add(timer);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    return this;
  }

  /** The system and user messages of the n-th request. */
  prompt(n = 0): { system: string; user: string } {
    const messages = this.requests[n]?.body.messages ?? [];
    return {
      system: messages.find((m) => m.role === 'system')?.content ?? '',
      user: messages.find((m) => m.role === 'user')?.content ?? '',
    };
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}
