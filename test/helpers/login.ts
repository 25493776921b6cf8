import { request as httpRequest } from 'node:http';

export interface Answer {
  status: number;
  retryAfter: number | undefined;
  error: string | undefined;
}

/** `POST /token` from a chosen loopback address (127.0.0.x), so the per-address limit can be told apart. */
export function attempt(url: string, username: string, password: string, from = '127.0.0.1'): Promise<Answer> {
  const { hostname, port } = new URL(url);
  const body = JSON.stringify({ username, password });
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: hostname,
        port,
        path: '/token',
        method: 'POST',
        localAddress: from,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          const retry = res.headers['retry-after'];
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: retry === undefined ? undefined : Number(retry),
            error: (JSON.parse(text) as { error?: string }).error,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export const statuses = (answers: Answer[]) => answers.map((a) => a.status);
