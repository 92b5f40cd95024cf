import { Command } from 'commander';

import type { EventStore, PersistentSubscriptions } from '../../eventstore/event-store.js';
import { listParkedEvents, replayParkedEvents } from '../../worker/parked.js';
import { DEFAULT_GROUP } from '../../worker/worker.js';
import type { CliContext } from '../context.js';
import { CliUsageError, EXIT, type ExitCode } from '../exit-codes.js';
import { apiUrlOf, humanOptions, localActor, tokenOf, type HumanOptions } from '../human-actor.js';
import { callOperatorApi } from '../operator-client.js';
import type { Action } from './action.js';

export function parkedCommand(action: Action): Command {
  const parked = new Command('parked').description("events the worker group set aside after its retries (EventStoreDB's parked messages)");
  parked
    .command('list')
    .description('parked events, oldest first: a delivery that failed every retry (it may have left a PROMOTE without its incident)')
    .option('--group <name>', 'persistent-subscription group', DEFAULT_GROUP)
    .option('--limit <n>', 'at most this many', (v) => Number.parseInt(v, 10), 100)
    .action(action<{ group: string; limit: number }>(async (ctx, _args, o) => list(ctx, o.group, o.limit)));
  humanOptions(
    parked
      .command('replay')
      .description('redeliver parked events to the worker group (a human act: recorded with the authenticated principal before the server replays them)')
      .option('--group <name>', 'persistent-subscription group', DEFAULT_GROUP)
      .option('--stop-at <n>', 'replay at most the oldest n', (v) => Number.parseInt(v, 10))
      .option('--reason <text>', 'why (recorded)')
      .option('--dry-run', 'only count what would be replayed'),
  ).action(action<HumanOptions & { group: string; stopAt?: number; reason?: string; dryRun?: boolean }>(async (ctx, _args, o) => replay(ctx, o)));
  return parked;
}

async function subscriptionsOf(ctx: CliContext): Promise<EventStore & PersistentSubscriptions> {
  const store = await ctx.store();
  if (typeof (store as Partial<PersistentSubscriptions>).readParked !== 'function') throw new CliUsageError('parked events live in an EventStoreDB store: use --connection URL or --data DIR, not --memory');
  return store as EventStore & PersistentSubscriptions;
}

async function list(ctx: CliContext, group: string, limit: number): Promise<ExitCode> {
  const parked = await listParkedEvents(await subscriptionsOf(ctx), { group, limit });
  const rows = parked.map((p) => ({ eventId: p.eventId, streamId: p.streamId, revision: p.revision.toString(), type: p.type, created: p.created.toISOString() }));
  ctx.output.result({ group, parked: rows }, () => (rows.length === 0 ? [`nothing parked in group ${group}`] : [`${rows.length} parked in group ${group}:`, ...rows.map((r) => `  ${r.created} ${r.type} ${r.streamId}@${r.revision} (${r.eventId})`)]));
  return EXIT.OK;
}

async function replay(ctx: CliContext, o: HumanOptions & { group: string; stopAt?: number; reason?: string; dryRun?: boolean }): Promise<ExitCode> {
  const url = apiUrlOf(o);
  let result: { replayed: number; parked: number; dryRun: boolean };
  if (url !== undefined) {
    result = await callOperatorApi(url, tokenOf(o), 'POST', '/parked/replay', { group: o.group, ...(o.stopAt === undefined ? {} : { stopAt: o.stopAt }), ...(o.reason === undefined ? {} : { reason: o.reason }), dryRun: o.dryRun === true });
  } else {
    const actor = localActor(o);
    const store = await subscriptionsOf(ctx);
    result = await replayParkedEvents(
      { subscriptions: store, store },
      { group: o.group, requestedBy: actor.name, authenticatedBy: actor.authenticatedBy, requestedAt: ctx.clock.now().toISOString(), ...(o.stopAt === undefined ? {} : { stopAt: o.stopAt }), ...(o.reason === undefined ? {} : { reason: o.reason }), dryRun: o.dryRun === true },
    );
  }
  ctx.output.result({ group: o.group, ...result }, () => [`${result.dryRun ? 'would replay' : 'replayed'} ${result.replayed} of ${result.parked} parked event${result.parked === 1 ? '' : 's'} in group ${o.group}`]);
  return EXIT.OK;
}
