import type { Namespace, Socket } from 'socket.io';
import type { Logger } from '../../../lib/log.js';
import { KeyedSerializer } from '../../../lib/keyed-serializer.js';
import {
  STDIN_EV,
  stdinDataCheck,
  stdinEndCheck,
  stdinReadCheck,
  type StdinAck,
  type StdinChunk,
} from '../../../protocol/stdin.js';
import { parse } from '../../../protocol/validate.js';
import type { VerifiedIdentity } from '../../application/auth-service.js';
import type { StdinService } from '../../application/stdin-service.js';

type WithIdentity = Socket & { data: { identity: VerifiedIdentity } };
const reply = <T>(ack: unknown): ((r: T) => void) => (typeof ack === 'function' ? (ack as (r: T) => void) : () => {});

/**
 * `stdin_data` and `stdin_end` on `/clients` (docs/protocol.md §10): the uploads of each connection are applied in
 * order; when it closes before an upload's end, the upload may be resumed for a while (StdinService.uploaderGone).
 */
export function serveStdinUploads(nsp: Namespace, stdin: StdinService, log: Logger): void {
  nsp.on('connection', (socket: WithIdentity) => {
    const identity = socket.data.identity;
    const inOrder = new KeyedSerializer();
    /** Uploads this connection sent bytes of and has not ended. */
    const open = new Set<string>();
    const failed = (err: Error): StdinAck => {
      log.error('stdin not stored', { error: err.message });
      return { ok: false, error: 'store_unavailable', message: `stdin not stored: ${err.message}; try again` };
    };
    socket.on(STDIN_EV.data, (raw: unknown, ack: unknown) => {
      const answer = reply<StdinAck>(ack);
      let p;
      try {
        p = parse(stdinDataCheck, raw);
      } catch (err) {
        return answer({ ok: false, error: 'invalid_request', message: (err as Error).message });
      }
      const data = p;
      open.add(data.jobId);
      void inOrder.run(data.jobId, () =>
        stdin.upload(identity, data).then(
          (r) => {
            // Nothing more will be taken (ended, refused): no upload left to resume.
            if (!r.ok && r.error !== 'stdin_gap') open.delete(data.jobId);
            answer(r);
          },
          (err: Error) => answer(failed(err)),
        ),
      );
    });
    socket.on(STDIN_EV.end, (raw: unknown, ack: unknown) => {
      const answer = reply<StdinAck>(ack);
      let p;
      try {
        p = parse(stdinEndCheck, raw);
      } catch (err) {
        return answer({ ok: false, error: 'invalid_request', message: (err as Error).message });
      }
      const end = p;
      void inOrder.run(end.jobId, () =>
        stdin.end(identity, end).then(
          (r) => {
            if (r.ok || r.error !== 'stdin_gap') open.delete(end.jobId);
            answer(r);
          },
          (err: Error) => answer(failed(err)),
        ),
      );
    });
    socket.on('disconnect', () => {
      for (const jobId of open) void inOrder.idle(jobId).then(() => stdin.uploaderGone(jobId));
    });
  });
}

/** `stdin_read` on `/agents`: each run pulls its job's stdin from its own offset; the answer is held until there is some. */
export function serveStdinReads(nsp: Namespace, stdin: StdinService): void {
  nsp.on('connection', (socket: WithIdentity) => {
    const agent = socket.data.identity.name;
    socket.on(STDIN_EV.read, (raw: unknown, ack: unknown) => {
      const answer = reply<StdinChunk>(ack);
      let p;
      try {
        p = parse(stdinReadCheck, raw);
      } catch (err) {
        return answer({ ok: false, error: 'invalid_request', message: (err as Error).message });
      }
      stdin
        .read(agent, p.runId, p.offset)
        .then(answer, (err: Error) =>
          answer({ ok: false, error: 'retry', message: `stdin not readable now: ${err.message}` }),
        );
    });
  });
}
