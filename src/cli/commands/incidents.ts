import { Command, Option } from 'commander';

import { TOKENS } from '../../container/tokens.js';
import { INCIDENT_STATES, type IncidentAction, type IncidentState } from '../../incidents/incident-events.js';
import { currentReadModels } from '../../projections/live-projection.js';
import { noteMismatches, notePoison } from '../output.js';
import { checkIncidentRows } from '../../projections/row-check.js';
import type { AlertCounts } from '../../projections/read-models.js';
import type { CliContext } from '../context.js';
import { CliUsageError, EXIT, type ExitCode } from '../exit-codes.js';
import { table } from '../output.js';
import type { Action } from './action.js';
import { apiUrlOf, humanOptions, localActor, tokenOf, TOKEN_ENV, type HumanOptions } from '../human-actor.js';
import { callOperatorApi } from '../operator-client.js';
import { HumanActs } from '../../operators/human-acts.js';

const VERBS: ReadonlyArray<readonly [verb: string, action: IncidentAction, to: string]> = [
  ['ack', 'ACKNOWLEDGE_INCIDENT', 'ACKNOWLEDGED (from OPEN)'],
  ['mitigate', 'MITIGATE_INCIDENT', 'MITIGATED (from ACKNOWLEDGED)'],
  ['resolve', 'RESOLVE_INCIDENT', 'RESOLVED (from ACKNOWLEDGED or MITIGATED)'],
  ['close', 'CLOSE_INCIDENT', 'CLOSED (from RESOLVED; HUMAN_OPERATOR only)'],
];

interface TransitionOptions extends HumanOptions {
  readonly justification?: string;
  readonly expectedRevision?: string;
}

export function incidentsCommand(action: Action): Command {
  const incidents = new Command('incidents').description('incidents and their lifecycle');
  incidents
    .command('list')
    .description('incidents (from the live projection), oldest first')
    .addOption(new Option('--state <state>', 'only incidents in this state').choices(INCIDENT_STATES))
    .action(action<{ state?: IncidentState }>(async (ctx, _args, o) => list(ctx, o.state)));
  incidents
    .command('show')
    .description('one incident: its state, lifecycle and revision (send the revision with a transition)')
    .argument('<incidentId>')
    .action(action(async (ctx, [id]) => show(ctx, id as string)));
  for (const [verb, incidentAction, to] of VERBS) {
    humanOptions(
      incidents
        .command(verb)
        .description(`move an incident to ${to}, as an authenticated human (--token or ${TOKEN_ENV}); refused (exit 1) from any other state, when your role lacks ${incidentAction}, or when it moved since --expected-revision`)
        .argument('<incidentId>')
        .option('--justification <text>', 'why (recorded with the transition)', '')
        .option('--expected-revision <n>', 'the revision you saw (`opx incidents show`): refused if it changed since'),
    ).action(action<TransitionOptions>(async (ctx, [id], o) => transition(ctx, id as string, incidentAction, o)));
  }
  return incidents;
}

async function list(ctx: CliContext, state: IncidentState | undefined): Promise<ExitCode> {
  const { models, poison } = await currentReadModels(await ctx.store());
  notePoison(ctx, poison);
  // Checked against the incident streams, not trusted: a forged or stale snapshot cannot change what is shown.
  const checked = await checkIncidentRows(Object.values(models.incidents), (await ctx.services()).get(TOKENS.IncidentManager));
  noteMismatches(ctx, checked.mismatches);
  const rows = checked.rows
    .filter((i) => state === undefined || i.state === state)
    .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.incidentId < b.incidentId ? -1 : 1));
  ctx.output.result({ incidents: rows, ...(checked.mismatches.length > 0 ? { mismatches: checked.mismatches } : {}), ...(poison.length > 0 ? { unreadableEvents: poison } : {}) }, () =>
    rows.length === 0
      ? [state === undefined ? 'no incidents' : `no ${state} incidents`]
      : [
          ...table(
            ['INCIDENT', 'STATE', 'SEVERITY', 'SERVICE', 'ALERTS', 'CREATED', 'UPDATED', 'PROMOTED BY', 'TITLE'],
            rows.map((r) => [r.incidentId, r.state, r.severity, r.service, alertsOf(r.alerts), r.createdAt, r.updatedAt, r.promotedBy, r.title ?? `(candidate ${r.candidateId})`]),
          ),
          `${rows.length} incident${rows.length === 1 ? '' : 's'}`,
        ],
  );
  return EXIT.OK;
}

/** `2 firing`, `1 of 2 resolved`, `all 2 resolved`; `-` for a candidate of the batch correlation. */
export function alertsOf(alerts: AlertCounts | undefined): string {
  if (alerts === undefined) return '-';
  if (alerts.resolved === 0) return `${alerts.firing} firing`;
  return alerts.resolved >= alerts.firing ? `all ${alerts.firing} resolved` : `${alerts.resolved} of ${alerts.firing} resolved`;
}

async function show(ctx: CliContext, incidentId: string): Promise<ExitCode> {
  const { incident, revision } = await (await ctx.services()).get(TOKENS.IncidentManager).read(incidentId);
  ctx.output.result({ incident, revision: revision.toString() }, () => [
    `incident ${incident.incidentId}  ${incident.state}  revision ${revision}`,
    `  ${incident.severity} ${incident.service}, opened ${incident.openedAt} from candidate ${incident.candidateId} under ${incident.authority.authorityType}:${incident.authority.authorityId}`,
    ...incident.history.map((h) => `  ${h.changedAt} ${h.from} -> ${h.to} by ${h.authority.authorityType}:${h.authority.authorityId}`),
  ]);
  return EXIT.OK;
}

async function transition(ctx: CliContext, incidentId: string, action: IncidentAction, o: TransitionOptions): Promise<ExitCode> {
  if (o.expectedRevision !== undefined && !/^\d+$/.test(o.expectedRevision)) throw new CliUsageError(`--expected-revision must be a revision number, got '${o.expectedRevision}'`);
  const url = apiUrlOf(o);
  let result: { from: string; to: string; by: string; role: string; at: string; revision?: string };
  if (url !== undefined) {
    const token = tokenOf(o);
    const expectedRevision = o.expectedRevision ?? (await callOperatorApi<{ revision: string }>(url, token, 'GET', `/incidents/${encodeURIComponent(incidentId)}`)).revision;
    const answer = await callOperatorApi<{ incident: { state: string; history: Array<{ from: string }> }; at: string; by: string; role: string; revision: string }>(url, token, 'POST', `/incidents/${encodeURIComponent(incidentId)}/transitions`, {
      action,
      justification: o.justification ?? '',
      expectedRevision,
      ...(o.role === undefined ? {} : { role: o.role }),
    });
    result = { from: answer.incident.history.at(-1)?.from ?? '?', to: answer.incident.state, by: answer.by, role: answer.role, at: answer.at, revision: answer.revision };
  } else {
    const actor = localActor(o);
    const container = await ctx.services();
    const acts = new HumanActs(await ctx.store(), container.get(TOKENS.CandidateStore), container.get(TOKENS.IncidentManager), ctx.config.authorityMatrix, ctx.clock);
    const { incident, at } = await acts.transition(actor, incidentId, action, o.justification ?? '', o.expectedRevision === undefined ? undefined : BigInt(o.expectedRevision));
    result = { from: incident.history.at(-1)?.from ?? '?', to: incident.state, by: actor.name, role: actor.role, at };
  }
  ctx.output.result({ incidentId, action, ...result, by: `${result.role}:${result.by}` }, () => [`incident ${incidentId}: ${result.from} -> ${result.to} by ${result.role}:${result.by} at ${result.at}`]);
  return EXIT.OK;
}
